#!/bin/bash
# GPU host with two H200s, one call: GPT-2-124M b64 compiled training under inductor's options for its
# own kernels (benchmarks/train_explore.py), each GPU with the defaults first and last, so the two
# GPUs and the drift over the call are both seen. Logs only (no run files).
# Usage (on the GPU host): bash benchmarks/h200_train_options.sh [call seconds]
source benchmarks/device_call.sh "${1:-330}" || exit 1

train_explore_logged 0 "$L/train0.log" "b64 fused-loss" "b64 mix-autotune" "b64 inductor-pdl" "b64 coop-reductions" \
  "b64 pointwise-autotune" "b64 fused-loss again" & p0=$!
train_explore_logged 1 "$L/train1.log" "b64 fused-loss" "b64 no-mix" "b64 aggressive" "b64 mix-autotune" \
  "b64 inductor-pdl" "b64 fused-loss again" & p1=$!
wait $p0 $p1
for g in 0 1; do echo "== GPU $g"; grep -E "tok/s MFU|not run|status|Error" "$L/train$g.log" | cut -c1-160 | sort -u; done
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
