#!/bin/bash
# GPU host with two H200s, one call, at the committed defaults. GPU 0: the standard suite, then
# GPT-2-124M b64 with the output projections' bias gradients made with the residual add and LayerNorm
# (residual_norm.py) or by autograd, alternating. GPU 1: that kernel's check and block shapes
# (benchmarks/residual_norm_check.py), the same alternation, a shape variant, and a profile of the step.
# Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_norms.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

gpu0() {
  standard_suite_run 300 "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s"
  train_alternating 0 "$L/train_norms0.log" 3 "b64 fused-bias" "b64 no-norms"
}
gpu1() {
  check_logged 1 benchmarks/residual_norm_check.py
  train_alternating 1 "$L/train_norms1.log" 3 "b64 no-norms" "b64 fused-bias" "b64 norms-w8" "b64 norms-s1" profile
}
at_once gpu0 gpu1
print_check "rel|GB/s|loss|Error"
print_profile "$L/train_norms1.log"
print_trains train_norms0 train_norms1
end_call
