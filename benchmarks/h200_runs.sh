#!/bin/bash
# GPU host with two H200s: the distributed suite at 1 and 2 ranks (NVLink multicast off), then the
# standard suite on one GPU, each writing its run file under data/runs/h200-sxm/, copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_runs.sh [suite seconds] [workload ...]
# With workloads, only the standard suite runs, limited to them (to finish a cut-short run).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
SUITE_S=${1:-560}; shift || true
T0=$(date +%s)
nvidia-smi > "$L/nvidia-smi.txt"; nvidia-smi topo -m > "$L/topo.txt" 2>&1
source benchmarks/device_env.sh || exit 1
WL=()
for w in "$@"; do WL+=(--workload "$w"); done
if [ ${#WL[@]} -eq 0 ]; then
  timeout -s TERM 330 costperf run --suite standard --machine h200-sxm --nproc-per-node 2 > "$L/distributed.log" 2>&1
  echo "distributed rc $? after $(( $(date +%s) - T0 )) s" | tee -a "$L/distributed.log"
  cp data/runs/h200-sxm/*.json "$OUT/" 2>/dev/null
fi
LEFT=$(( SUITE_S - ($(date +%s) - T0) ))
echo "standard suite: $LEFT s left"
start=$(date +%s)
CUDA_VISIBLE_DEVICES=0 timeout -s TERM "$LEFT" costperf run --suite standard --machine h200-sxm "${WL[@]}" > "$L/standard.log" 2>&1
echo "standard rc $? in $(( $(date +%s) - start )) s" | tee -a "$L/standard.log"
cp data/runs/h200-sxm/*.json "$OUT/" 2>/dev/null
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"
ls -la "$OUT"
tar xzf "$OUT/logs.tgz" -O logs/distributed.log 2>/dev/null | tail -30
tar xzf "$OUT/logs.tgz" -O logs/standard.log | tail -45
