#!/bin/bash
# GPU host with one H200, one call, at the committed defaults, one thing at a time: the residual
# add + LayerNorm kernels' check (benchmarks/residual_norm_check.py, the forward kernel's too), the
# standard suite, then GPT-2-124M b64 with the residual sums' forward by residual_norm's kernel or by
# inductor, alternating, with the board's energy (tokens per joule), and a profile of the step.
# Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_resfwd.sh [call seconds]
source benchmarks/device_call.sh "${1:-500}" || exit 1

check_logged 0 benchmarks/residual_norm_check.py
standard_suite_run 300 "$L/standard.log"
echo "standard rc $? at $(( $(date +%s) - T0 )) s"
train_alternating 0 "$L/train_resfwd.log" 3 "b64 fused-bias" "b64 norms-torch-forward" profile
print_check "rel|GB/s|loss|equal|Error"
print_profile "$L/train_resfwd.log"
print_trains train_resfwd
end_call
