#!/bin/bash
# GPU host with two H200s, one call, at the committed defaults, each GPU's part on its own half of
# the CPUs; every training variant with the board's energy (tokens per joule). GPU 0: the standard
# suite, then GPT-2-124M b64 with the MLP's forward GELU by bias_grads' kernel or by inductor,
# alternating. GPU 1: the kernels' check and block shapes (benchmarks/bias_grads_check.py), then all
# bias gradients by autograd or fused, alternating, and the GELU gradient's shape before.
# Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_power.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

gpu0() {
  cpu_half 0
  standard_suite_run 300 "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s"
  train_alternating 0 "$L/train_power0.log" 3 "b64 fused-bias" "b64 inductor-gelu"
}
gpu1() {
  cpu_half 1
  check_logged 1 benchmarks/bias_grads_check.py
  train_alternating 1 "$L/train_power1.log" 3 "b64 torch-bias" "b64 fused-bias" "b64 gelu-256x512"
}
at_once gpu0 gpu1
print_check "^gelu|loss"
print_trains train_power0 train_power1
end_call
