#!/bin/bash
# GPU host with two H200s, one call, at the committed defaults, each GPU's part on its own half of
# the CPUs. GPU 0: the standard suite, then GPT-2-124M b64 with the MLP's forward GELU by
# bias_grads' kernel or by inductor, alternating. GPU 1: the kernels' check and block shapes
# (benchmarks/bias_grads_check.py), the same alternation, a shape variant, and a profile of the step.
# Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_gelu.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

gpu0() {
  cpu_half 0
  standard_suite_run 300 "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s"
  train_alternating 0 "$L/train_gelu0.log" 3 "b64 fused-bias" "b64 inductor-gelu"
}
gpu1() {
  cpu_half 1
  check_logged 1 benchmarks/bias_grads_check.py
  train_alternating 1 "$L/train_gelu1.log" 3 "b64 inductor-gelu" "b64 fused-bias" "b64 gelu-rows512" profile
}
at_once gpu0 gpu1
print_check "rel|GB/s|loss|Error"
print_profile "$L/train_gelu1.log"
print_trains train_gelu0 train_gelu1
end_call
