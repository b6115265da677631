#!/bin/bash
# GPU host with one H200, one call, at the committed defaults, nothing else running: the standard
# suite, then GPT-2-124M b64 with the MLP's forward GELU by bias_grads' kernel or by inductor,
# alternating, with the board's energy (tokens per joule). Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_single.sh [call seconds]
source benchmarks/device_call.sh "${1:-420}" || exit 1

standard_suite_run 300 "$L/standard.log"
echo "standard rc $? at $(( $(date +%s) - T0 )) s"
train_alternating 0 "$L/train_single.log" 3 "b64 fused-bias" "b64 inductor-gelu"
print_trains train_single
end_call
