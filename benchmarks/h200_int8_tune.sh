#!/bin/bash
# GPU host with two H200s, one call, one experiment per GPU.
# GPU 0: int8 batch-1 decode, byte-permute conversion: block shapes chosen by the captured decode
#   step's time (int8_decode_tune.py, from the isolated sweep's winners in $1), then copy and the 8B
#   bf16 and int8 batch-1 decode with the tuned shapes as a run file.
# GPU 1: GPT-2-124M training with inductor options (train_explore.py), one process each.
# Usage (on the GPU host): bash benchmarks/h200_int8_tune.sh 'START_CONFIGS_JSON' [call seconds]
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
START=${1:-"{}"}; BUDGET=${2:-540}; T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
source benchmarks/device_env.sh || exit 1
R=data/runs/h200-sxm; mkdir -p "$R"
export COSTPERF_I8_CONVERT=prmt

gpu0() {
  export CUDA_VISIBLE_DEVICES=0
  GEMV_START="$START" OUT=$L timeout -k 5 -s TERM 420 python3 benchmarks/int8_decode_tune.py --budget-s 230 \
    > "$L/tune.log" 2>&1
  echo "tune rc $? at $(( $(date +%s) - T0 )) s" >> "$L/gpu0.log"
  local cfg; cfg=$(cat "$L/int8_tuned.json" 2>/dev/null); cfg=${cfg:-$START}
  local before; before=$(ls "$R")
  local t=$(( $(left) - 10 )); [ "$t" -gt 150 ] && t=150
  [ "$t" -lt 40 ] && { echo "no time for the run ($t s)" >> "$L/gpu0.log"; return; }
  decode_suite_run "$t" "$L/run.log" "COSTPERF_GEMV_CONFIGS=$cfg"
  echo "run rc $? (limit $t s) at $(( $(date +%s) - T0 )) s, configs $cfg" >> "$L/gpu0.log"
  copy_new_runs "$R" "$before" "$OUT"
}

gpu1() {
  export CUDA_VISIBLE_DEVICES=1 OUT=$L
  local v t
  for v in "b64 two-pass softmax" "b64 combo" "b64 cudnn"; do
    t=$(( $(left) - 15 )); [ "$t" -lt 40 ] && break; [ "$t" -gt 200 ] && t=200
    timeout -k 5 -s TERM "$t" python3 benchmarks/train_explore.py "$v" > "$L/train_$v.log" 2>&1
    echo "train [$v] rc $? at $(( $(date +%s) - T0 )) s: $(grep -E "MFU" "$L/train_$v.log" | tail -1)" >> "$L/train.log"
  done
}

at_once gpu0 gpu1
tar czf "$OUT/logs.tgz" -C "$OUT" logs
cat "$L/gpu0.log"; grep -vE "^\s*$" "$L/tune.log" | tail -60 | cut -c1-250
grep -E "^  [a-z].*: |Wrote|GB/s =" "$L/run.log" | cut -c1-220 | tail -8
cat "$L/train.log"
echo "== done at $(( $(date +%s) - T0 )) s"
