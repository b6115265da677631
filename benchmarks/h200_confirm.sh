#!/bin/bash
# GPU host with two H200s, one call, at the committed defaults. GPU 0: the standard suite. GPU 1:
# GPT-2-124M b64 with inductor's mixed-order reduction split autotuned or by its heuristic,
# alternating (4 rounds, so drift over the call falls on both), then copy + 8B bf16/int8 batch-1
# decode. Run files to $OUT. (Run while the workload autotuned the split by default, with tags
# split-fixed and split-tuned for the two; no faster, it was taken out.)
# Usage (on the GPU host): bash benchmarks/h200_confirm.sh [call seconds]
source benchmarks/device_call.sh "${1:-330}" || exit 1

gpu1() {
  local rounds=()
  for _ in 1 2 3 4; do rounds+=("b64 fused-loss" "b64 mix-autotune"); done
  CUDA_VISIBLE_DEVICES=1 OUT=$L timeout -k 30 -s TERM 200 python3 benchmarks/train_explore.py "${rounds[@]}" \
    > "$L/train_split.log" 2>&1
  echo "split A/B rc $? at $(( $(date +%s) - T0 )) s"
  local t=$(( $(left) - 15 )); [ "$t" -lt 50 ] && { echo "decode: no time"; return; }
  decode_logged decode "$t" CUDA_VISIBLE_DEVICES=1
}
at_once standard_until_call_end gpu1
grep -E "tok/s MFU|not run" "$L/train_split.log" | tail -8 | cut -c1-170
end_call
