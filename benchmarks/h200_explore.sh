#!/bin/bash
# GPU host, two GPUs: build llama-bench on the CPUs while GPU 0 runs the decode experiment and GPU 1
# the training one; then llama-bench on GPU 1. Logs and the llama-bench output land in $OUT.
# Usage (on the GPU host): bash benchmarks/h200_explore.sh
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
nvidia-smi > "$L/nvidia-smi.txt"; nvidia-smi topo -m > "$L/topo.txt" 2>&1
source benchmarks/device_env.sh || exit 1
python3 -c "import torch,triton,pydantic,zeus;print(torch.__version__,torch.version.cuda,triton.__version__,pydantic.__version__)" 2>&1 | tee "$L/versions.txt"
(bash benchmarks/llama_bench_build.sh 20 > "$L/llama_build.log" 2>&1; echo "build rc $?" >> "$L/llama_build.log") &
BUILD=$!
(CUDA_VISIBLE_DEVICES=0 OUT=$L timeout -s TERM 400 python3 benchmarks/decode_explore.py > "$L/decode.out" 2>&1) &
DEC=$!
(CUDA_VISIBLE_DEVICES=1 timeout -s TERM 240 python3 benchmarks/train_explore.py > "$L/train.out" 2>&1
 wait $BUILD 2>/dev/null; while kill -0 $BUILD 2>/dev/null; do sleep 2; done
 CUDA_VISIBLE_DEVICES=1 timeout -s TERM 120 bash benchmarks/llama_bench_run.sh "$OUT" > "$L/llama_bench.out" 2>&1) &
LANE1=$!
wait $DEC $LANE1
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"
tar xzf "$OUT/logs.tgz" -O logs/llama_build.log | tail -4
echo "== llama-bench"; tar xzf "$OUT/logs.tgz" -O logs/llama_bench.out | tail -8
echo "== train"; tar xzf "$OUT/logs.tgz" -O logs/train.out | tail -6
echo "== decode"; tar xzf "$OUT/logs.tgz" -O logs/decode.out | tail -22
