#!/bin/bash
# GPU host with two H200s: the committed runs. The standard suite on one GPU (after a check of the
# batch-1 decode kernels), then, in the time left, the distributed suite at 1 and 2 ranks with
# NVLink multicast off. Each writes its run file under data/runs/h200-sxm/, copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_runs.sh [all|dist] [call seconds]
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
WHAT=${1:-all}; BUDGET=${2:-575}
T0=$(date +%s)
nvidia-smi > "$L/nvidia-smi.txt"; nvidia-smi topo -m > "$L/topo.txt" 2>&1
source benchmarks/device_env.sh || exit 1
if [ "$WHAT" = all ]; then
  # the batch-1 decode kernels against plain torch first; a failing part is switched off (and logged)
  CUDA_VISIBLE_DEVICES=0 python3 benchmarks/decode_check.py > "$L/decode_check.log" 2>&1
  grep -q "kernel combine.*FAIL" "$L/decode_check.log" && export COSTPERF_ATTN_COMBINE=torch
  grep -q "torch combine.*FAIL" "$L/decode_check.log" && export COSTPERF_FUSED_ATTN=0
  grep -q "^gemv.*FAIL" "$L/decode_check.log" && export COSTPERF_FUSED_GEMV=0 COSTPERF_FUSED_ATTN=0
  tail -3 "$L/decode_check.log"; env | grep "^COSTPERF_" || true
  start=$(date +%s)
  CUDA_VISIBLE_DEVICES=0 timeout -s TERM 480 costperf run --suite standard --machine h200-sxm > "$L/standard.log" 2>&1
  echo "standard rc $? in $(( $(date +%s) - start )) s" | tee -a "$L/standard.log"
  cp data/runs/h200-sxm/*.json "$OUT/" 2>/dev/null
fi
LEFT=$(( BUDGET - ($(date +%s) - T0) ))
echo "distributed: $LEFT s left"
if [ "$LEFT" -gt 120 ]; then
  start=$(date +%s)
  timeout -s TERM "$LEFT" costperf run --suite standard --machine h200-sxm --nproc-per-node 2 > "$L/distributed.log" 2>&1
  echo "distributed rc $? in $(( $(date +%s) - start )) s" | tee -a "$L/distributed.log"
  cp data/runs/h200-sxm/*.json "$OUT/" 2>/dev/null
fi
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"
ls -la "$OUT"
tar xzf "$OUT/logs.tgz" -O logs/standard.log 2>/dev/null | grep -v "^\s*$" | tail -42 | cut -c1-230
tar xzf "$OUT/logs.tgz" -O logs/distributed.log 2>/dev/null | tail -25 | cut -c1-230
