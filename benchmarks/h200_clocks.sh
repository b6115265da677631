#!/bin/bash
# GPU host with two H200s, one call, each GPU's part on its own half of the CPUs: on each GPU, the
# compiled GPT-2-124M b64 step at the committed defaults, then a dense bf16 matmul, each for SECONDS,
# with the SM clock and the share of it held down by the power limit (the suite's clock record), power
# and temperature, over every few steps
# (benchmarks/clock_trace.py).
# Usage (on the GPU host): bash benchmarks/h200_clocks.sh [call seconds] [SECONDS]
source benchmarks/device_call.sh "${1:-300}" || exit 1
S=${2:-40}

trace() {
  cpu_half "$1"
  CUDA_VISIBLE_DEVICES=$1 timeout -k 10 -s TERM $(( $(left) - 15 )) python3 benchmarks/clock_trace.py "$S" \
    > "$L/clocks$1.log" 2>&1
  echo "GPU $1 rc $? at $(( $(date +%s) - T0 )) s"
}
gpu0() { trace 0; }
gpu1() { trace 1; }
at_once gpu0 gpu1
for g in 0 1; do
  echo "== GPU $g"; grep -E "max SM|^(train|matmul) +[0-9]" "$L/clocks$g.log" | awk 'NR == 1 || NR % 4 == 0' | cut -c1-150
  grep -E "median|Error" "$L/clocks$g.log"
done
tar czf "$OUT/logs.tgz" -C /tmp cplogs
