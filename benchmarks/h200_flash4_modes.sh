#!/bin/bash
# GPU host with two H200s, one call: GPT-2-124M with FlashAttention-4 (collectors/models/flash4.py,
# its wheels in .fa4/ as device_env.sh's flash4_install takes them) against the same with the step in
# CUDA graphs (GPU 0), and with inductor's kernels tuned by coordinate descent and at batch 96 (GPU 1),
# in turn.
# Usage (on the GPU host): bash benchmarks/h200_flash4_modes.sh [call seconds]
source benchmarks/device_call.sh "${1:-420}" || exit 1
flash4_install || exit 1

gpu0() {
  cpu_half 0
  train_alternating 0 "$L/train_modes0.log" 4 "b64 flash4" "b64 flash4 graphs"
}
gpu1() {
  cpu_half 1
  mapfile -t tags < <(rounds 3 "b64 flash4" "b64 flash4 coord" "b96 flash4")
  train_explore_logged 1 "$L/train_modes1.log" "${tags[@]}"
}
at_once gpu0 gpu1
print_trains train_modes0 train_modes1
end_call
