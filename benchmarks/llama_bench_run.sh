#!/bin/bash
# Run llama-bench (built by llama_bench_build.sh) on a random-weight GGUF of the Llama 2 7B shape,
# Q4_0, pp512/tg128, 5 repetitions, all layers on the GPU: the setting of llama.cpp's published
# CUDA table. Writes OUTDIR/llama-bench-q4_0.json (and .md). Usage: bash benchmarks/llama_bench_run.sh OUTDIR
set -e
OUTDIR=${1:?output folder}
W=/tmp/llamacpp
cd $W
cp "$OLDPWD/tests/fixtures/llama_bench/h100/how/make_random_gguf.py" .
start=$(date +%s)
python3 make_random_gguf.py /tmp/rand-7b-q4_0.gguf q4_0 > /dev/null
echo "gguf seconds: $(( $(date +%s) - start ))"
BIN=llama.cpp/b/bin/llama-bench
export LD_LIBRARY_PATH=$W/llama.cpp/b/bin
$BIN -m /tmp/rand-7b-q4_0.gguf -r 5 -o json > "$OUTDIR/llama-bench-q4_0.json" 2> "$OUTDIR/llama-bench-q4_0.stderr"
$BIN -m /tmp/rand-7b-q4_0.gguf -r 5 -o md
