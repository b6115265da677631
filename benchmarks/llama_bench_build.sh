#!/bin/bash
# Build llama.cpp's llama-bench (CUDA, sm_90) on a GPU host without internet, from the llama.cpp
# source that the llama-cpp-python 0.3.36 sdist vendors (`pip download --no-binary :all: --no-deps
# llama-cpp-python==0.3.36`), trimmed to what llama-bench needs and carried as
# .llamacpp/llamacpp-src.tar.gz. Usage: bash benchmarks/llama_bench_build.sh [jobs]
set -e
JOBS=${1:-16}
W=/tmp/llamacpp
rm -rf $W && mkdir -p $W && tar xzf .llamacpp/llamacpp-src.tar.gz -C $W
cd $W/llama.cpp
export PATH=/usr/local/cuda/bin:$PATH
which nvcc cmake
cmake -B b -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release
start=$(date +%s)
cmake --build b --target llama-bench -j "$JOBS"
echo "build seconds: $(( $(date +%s) - start ))"
ls -la b/bin
