#!/bin/bash
# GPU host with two H200s, one call, at the committed defaults. GPU 0: the standard suite. GPU 1:
# the bias-gradient kernels' check (benchmarks/bias_grads_check.py), GPT-2-124M b64 with bias
# gradients by autograd or made with their output gradients, alternating (3 rounds), a profile of the
# step, then both timed in repeats of 10 steps. Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_bias_final.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

gpu1() {
  check_logged 1 benchmarks/bias_grads_check.py
  train_alternating 1 "$L/train_bias.log" 3 "b64 torch-bias" "b64 fused-bias" "b64 torch-bias spr10" "b64 spr10" profile
}
at_once standard_until_call_end gpu1
grep -v Warning "$L/check.log" | grep -E "GB/s|rel|exact|loss" | cut -c1-150
grep -A50 "^profile b64" "$L/train_bias.log" | grep -E "^profile|^  [a-z]|bias grads\]|gelu|gaps|host call" | cut -c1-150
grep -E "tok/s MFU|not run|status|Error" "$L/train_bias.log" | cut -c1-120 | head -9
end_call
