#!/bin/bash
# GPU host with two H200s, one call, logs only. GPU 0: the bias-gradient kernels' check and block
# shapes (benchmarks/bias_grads_check.py), then GPT-2-124M b64 timed in repeats of 3 or of 10 steps,
# alternating (3 rounds). GPU 1: a profile of the step with its gaps and blocking host calls, then
# the compile modes default and reduce-overhead (CUDA graphs), alternating (3 rounds).
# Usage (on the GPU host): bash benchmarks/h200_graphs.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

gpu0() {
  check_logged 0 benchmarks/bias_grads_check.py
  train_alternating 0 "$L/train_spr.log" 3 "b64 fused-bias" "b64 spr10"
}
train_explore_logged 1 "$L/train_graphs.log" profile "b64 fused-bias" "b64 graphs" "b64 fused-bias" "b64 graphs" \
  "b64 fused-bias" "b64 graphs" & p1=$!
gpu0 & p0=$!
wait $p0 $p1
grep -v Warning "$L/check.log" | grep -E "GB/s|rel|exact" | cut -c1-150
grep -A50 "^profile b64" "$L/train_graphs.log" | grep -E "^profile|gaps|  +[0-9]+ us after|host call|bias grads" | cut -c1-150
for f in train_spr train_graphs; do echo "== $f"; grep -E "tok/s MFU|not run|status|Error" "$L/$f.log" | cut -c1-120 | tail -7; done
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
