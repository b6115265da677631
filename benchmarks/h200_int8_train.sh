#!/bin/bash
# GPU host with two H200s, one call: two experiments side by side, one per GPU.
# GPU 0: the int8 batch-1 GEMV with each way of turning int8 into floats (gemv8_sweep.py --convert:
#   the committed block shapes with the integer-to-float instruction, then every shape with the byte
#   permute), then copy and the 8B bf16 and int8 batch-1 decode with the permute and its best shapes,
#   as a run file (settings record both variables).
# GPU 1: GPT-2-124M training: a profile of the compiled b64 step by kernel kind, then inductor
#   options and compile modes one process each (train_explore.py), each under its own time limit.
# Usage (on the GPU host): bash benchmarks/h200_int8_train.sh [call seconds]
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
BUDGET=${1:-560}; T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
source benchmarks/device_env.sh || exit 1
R=data/runs/h200-sxm; mkdir -p "$R"
nvidia-smi --query-gpu=index,name,driver_version,power.limit --format=csv,noheader

gpu0() {
  export CUDA_VISIBLE_DEVICES=0
  timeout -k 5 -s TERM 60 python3 benchmarks/gemv8_sweep.py --convert cvt --budget-s 1 > "$L/sweep_cvt.log" 2>&1
  echo "sweep cvt rc $? at $(( $(date +%s) - T0 )) s" >> "$L/gpu0.log"
  timeout -k 5 -s TERM 170 python3 benchmarks/gemv8_sweep.py --convert prmt --budget-s 130 --margin 0 \
    > "$L/sweep_prmt.log" 2>&1
  echo "sweep prmt rc $? at $(( $(date +%s) - T0 )) s" >> "$L/gpu0.log"
  local cfg; cfg=$(cat "$OUT/gemv8_configs_prmt.json" 2>/dev/null); cfg=${cfg:-"{}"}
  local before; before=$(ls "$R")
  local t=$(( $(left) - 25 )); [ "$t" -gt 200 ] && t=200
  decode_suite_run "$t" "$L/run.log" COSTPERF_I8_CONVERT=prmt "COSTPERF_GEMV_CONFIGS=$cfg"
  echo "run rc $? (limit $t s) at $(( $(date +%s) - T0 )) s, configs $cfg" >> "$L/gpu0.log"
  copy_new_runs "$R" "$before" "$OUT"
}

gpu1() {
  export CUDA_VISIBLE_DEVICES=1 OUT=$L
  local v t
  for v in "profile" "b64 coord" "b64 graphs" "b64 autotune"; do
    t=$(( $(left) - 20 )); [ "$t" -lt 30 ] && break
    timeout -k 5 -s TERM "$t" python3 benchmarks/train_explore.py "$v" >> "$L/train.log" 2>&1
    echo "train [$v] rc $? at $(( $(date +%s) - T0 )) s" >> "$L/train.log"
  done
}

at_once gpu0 gpu1
tar czf "$OUT/logs.tgz" -C "$OUT" logs
cat "$L/gpu0.log"
sed -n '/^matrix/,$p' "$L/sweep_cvt.log" | head -8; sed -n '/^matrix/,$p' "$L/sweep_prmt.log"
grep -E "WRONG|failed" "$L"/sweep_*.log | head -5
grep -E "^  [a-z].*: |Wrote|GB/s =|tok/s" "$L/run.log" | cut -c1-220 | tail -12
grep -vE "^\s*$" "$L/train.log" | grep -E "^profile|^  |MFU|rc |Error|error" | cut -c1-200 | tail -60
echo "== done at $(( $(date +%s) - T0 )) s"
