#!/bin/bash
# GPU host with two H200s, one call. GPU 0: the bias-gradient kernels checked at GPT-2-124M's shapes
# (benchmarks/bias_grads_check.py), then the standard suite at the committed defaults. GPU 1:
# GPT-2-124M b64 with bias gradients by autograd or made with their output gradients, alternating
# (3 rounds, so drift over the call falls on both) after a profile of the step, then the fused
# kernels' other block shapes. Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_bias.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

gpu0() {
  check_logged 0 benchmarks/bias_grads_check.py
  standard_until_call_end
}
gpu1() {
  train_alternating 1 "$L/train_bias.log" 3 "b64 torch-bias" "b64 fused-bias" profile "b64 fused-bias gelu-r16" \
    "b64 fused-bias gelu-r16w8" "b64 fused-bias heads-r32"
}
at_once gpu0 gpu1
grep -v Warning "$L/check.log" | tail -12
grep -A36 "^profile b64" "$L/train_bias.log" | cut -c1-150
grep -E "tok/s MFU|not run|status" "$L/train_bias.log" | cut -c1-170
end_call
