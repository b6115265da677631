#!/bin/bash
# GPU host with one H200, one call: GPT-2-124M eager b16 training with the clock sampler on and off,
# alternating (benchmarks/clock_cost.py).
# Usage (on the GPU host): bash benchmarks/h200_clock_cost.sh [call seconds] [ROUNDS]
source benchmarks/device_call.sh "${1:-300}" || exit 1

CUDA_VISIBLE_DEVICES=0 timeout -k 10 -s TERM $(( $(left) - 15 )) python3 benchmarks/clock_cost.py "${2:-4}" \
  > "$L/clock_cost.log" 2>&1
echo "rc $? at $(( $(date +%s) - T0 )) s"
grep -E "sampler|meter|Error" "$L/clock_cost.log"
tar czf "$OUT/logs.tgz" -C /tmp cplogs
