#!/bin/bash
# GPU host with two H200s, one call of about five minutes:
# 1. GPU 0: the int8 batch-1 GEMV's block shapes at every 8B matrix (gemv8_sweep.py);
# 2. GPU 0: if a matrix's best beats the committed configuration, copy and the 8B bf16 and int8
#    batch-1 decode with the winners in COSTPERF_GEMV_CONFIGS (recorded in the run file);
# 3. both GPUs: the compiled tensor-parallel decode (CUDA graphs holding NCCL all-reduces) of the tiny
#    model at 2 ranks, and the seconds from its run file's write to the launcher's exit; then, in the
#    time left, the same with the graphs kept alive through teardown (dist_exit_control.py).
# Usage (on the GPU host): bash benchmarks/h200_gemv8_dist.sh [call seconds]
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-out}; mkdir -p "$OUT"
BUDGET=${1:-285}; T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
source benchmarks/device_env.sh || exit 1
R=data/runs/h200-sxm; mkdir -p "$R"
newfiles() { comm -13 <(printf '%s\n' $1 | sort) <(ls "$R" | sort); }
gap() {  # seconds from a file's last write to an epoch time
  python3 -c "import os,sys; print(f'{float(sys.argv[2]) - os.stat(sys.argv[1]).st_mtime:.2f}')" "$1" "$2"
}
stamp() {  # each line with the time it arrived
  python3 -u -c "import sys, time
for l in sys.stdin: print(f'{time.time():.2f} {l}', end='', flush=True)"
}
nvidia-smi --query-gpu=index,name,driver_version,power.limit --format=csv,noheader

echo "== int8 GEMV sweep ($(left) s left)"
CUDA_VISIBLE_DEVICES=0 timeout -k 5 -s TERM 105 python3 benchmarks/gemv8_sweep.py --budget-s 70 \
  > "$OUT/sweep.log" 2>&1
echo "sweep rc $?"; sed -n '/^matrix/,$p' "$OUT/sweep.log"; grep -E "failed|WRONG|budget" "$OUT/sweep.log" | head -5

CFG=$(cat "$OUT/gemv8_configs.json" 2>/dev/null); CFG=${CFG:-"{}"}
if [ "$CFG" != "{}" ]; then
  echo "== decode run with COSTPERF_GEMV_CONFIGS=$CFG ($(left) s left)"
  before=$(ls "$R")
  CUDA_VISIBLE_DEVICES=0 COSTPERF_GEMV_CONFIGS="$CFG" timeout -k 5 -s TERM 115 costperf run --suite standard \
    --machine h200-sxm --workload memcpy --workload decode-llama-3-8b-bf16-compiled-b1 \
    --workload decode-llama-3-8b-int8-compiled-b1 > "$OUT/run.log" 2>&1
  echo "run rc $?"
  for f in $(newfiles "$before"); do cp "$R/$f" "$OUT/"; done
  grep -E "^  [a-z].*: |Wrote|GB/s =" "$OUT/run.log" | cut -c1-200
else
  echo "== no decode run: no matrix's best beat the committed configuration"
fi

DT=$(( $(left) - 5 )); [ "$DT" -gt 120 ] && DT=120; [ "$DT" -lt 40 ] && DT=40
echo "== distributed: compiled tensor-parallel decode, tiny model, 2 ranks (timeout $DT s)"
export TORCHINDUCTOR_CACHE_DIR=$HOME/.cache/costperf/inductor
before=$(ls "$R"); s=$(date +%s.%N)
COSTPERF_TP_MODEL=llama-tiny timeout -k 5 -s TERM "$DT" python3 -m collectors.distributed --nproc-per-node 2 \
  --machine h200-sxm --suite standard --workload decode-tp --scales 2 2>&1 | stamp > "$OUT/dist.log"
rc=${PIPESTATUS[0]}; e=$(date +%s.%N)
f=$(newfiles "$before" | head -1)
echo "distributed rc $rc ($([ $rc = 124 -o $rc = 137 ] && echo 'killed by timeout' || echo 'exited')) after $(python3 -c "print(f'{$e - $s:.1f}')") s"
grep -iE "costperf: decode-tp|wrote" "$OUT/dist.log" | cut -c1-200
if [ -n "$f" ]; then cp "$R/$f" "$OUT/"; echo "EXIT GAP (fix): launcher ended $(gap "$R/$f" "$e") s after writing $f"; fi
tail -3 "$OUT/dist.log" | cut -c1-200; echo "(ended $e)"

L=$(left)
if [ "$L" -ge 45 ]; then
  CT=$(( L - 5 )); [ "$CT" -gt 60 ] && CT=60
  echo "== control: the same with the CUDA graphs kept through teardown (timeout $CT s)"
  rm -rf /tmp/ctl; mkdir -p /tmp/ctl && cp -r data/machines /tmp/ctl/
  s=$(date +%s.%N)
  COSTPERF_TP_MODEL=llama-tiny timeout -k 5 -s TERM "$CT" python3 -m torch.distributed.run --standalone \
    --nproc-per-node 2 benchmarks/dist_exit_control.py --data /tmp/ctl --machine h200-sxm \
    --started-at "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" --suite standard --workloads decode-tp --scales 2 \
    2>&1 | stamp > "$OUT/control.log"
  rc=${PIPESTATUS[0]}; e=$(date +%s.%N)
  echo "control rc $rc ($([ $rc = 124 -o $rc = 137 ] && echo 'killed by timeout' || echo 'exited')) after $(python3 -c "print(f'{$e - $s:.1f}')") s"
  grep -iE "costperf: decode-tp|wrote" "$OUT/control.log" | cut -c1-200
  cf=$(ls /tmp/ctl/runs/h200-sxm/*.json 2>/dev/null | head -1)
  [ -n "$cf" ] && echo "EXIT GAP (control): torchrun ended $(gap "$cf" "$e") s after writing its file"
else
  echo "== control skipped: $L s left"
fi
echo "== done at $(( $(date +%s) - T0 )) s"; ls -la "$OUT"
