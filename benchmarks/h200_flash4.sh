#!/bin/bash
# GPU host with two H200s, one call: GPT-2-124M's attention by FlashAttention-4's Hopper kernels
# (collectors/models/flash4.py) against SDPA's cuDNN kernels, its wheels in .fa4/ (device_env.sh's
# flash4_install). GPU 0: benchmarks/attention_check.py (each kernel alone, q/k/v packed, then the
# model's loss and gradients), then cuDNN, FlashAttention-4 (packed q/k/v) and the same with cuDNN's
# forward, in turn. GPU 1: those and FlashAttention-4 with q/k/v apart in turn, then a profile of
# the step with FlashAttention-4 and cuDNN's forward.
# Usage (on the GPU host): bash benchmarks/h200_flash4.sh [call seconds]
source benchmarks/device_call.sh "${1:-480}" || exit 1
flash4_install || exit 1

gpu0() {
  cpu_half 0
  check_logged 0 benchmarks/attention_check.py
  mapfile -t tags < <(rounds 3 "b64 cudnn" "b64 flash4" "b64 flash4 cudnn-fwd")
  train_explore_logged 0 "$L/train_flash4_0.log" "${tags[@]}"
}
gpu1() {
  cpu_half 1
  mapfile -t tags < <(rounds 3 "b64 flash4 cudnn-fwd" "b64 flash4 apart" "b64 flash4" "b64 cudnn")
  train_explore_logged 1 "$L/train_flash4_1.log" "${tags[@]}" "profile:b64 flash4 cudnn-fwd"
}
at_once gpu0 gpu1
print_check "forward|model|not run|Error"
print_profile "$L/train_flash4_1.log"
print_trains train_flash4_0 train_flash4_1
end_call
