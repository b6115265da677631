#!/bin/bash
# GPU host with two H200s, one call, each GPU's part on its own half of the CPUs; every training
# variant with the board's energy (tokens per joule). GPU 0: the check of the MLP's GELU in cuBLASLt's
# matmul epilogues (benchmarks/bias_grads_check.py epilogues), then the standard suite at the
# committed defaults. GPU 1: GPT-2-124M b64 with the epilogues or with the GELU kernels, alternating,
# then a profile of the step. Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_epilogues.sh [call seconds]
source benchmarks/device_call.sh "${1:-560}" || exit 1

gpu0() {
  cpu_half 0
  check_logged 0 benchmarks/bias_grads_check.py epilogues
  standard_suite_run 320 "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s"
}
gpu1() {
  cpu_half 1
  train_alternating 1 "$L/train_epi1.log" 3 "b64 fused-bias" "b64 no-epilogues" profile
}
at_once gpu0 gpu1
print_check "rel|epilogue|loss|Error|error"
print_profile "$L/train_epi1.log"
print_trains train_epi1
end_call
