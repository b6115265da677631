#!/bin/bash
# GPU host, one call: the standard suite's training tasks with FlashAttention-4's kernels
# (COSTPERF_SDPA=flash4; collectors/models/flash4.py, its wheels in .fa4/ as device_env.sh's
# flash4_install takes them), beside the matmul and copy of the same run; the run file to $OUT. With
# a torch.compile mode, the compiled task alone in that mode (COSTPERF_TRAIN_COMPILE_MODE).
# Usage (on the GPU host): bash benchmarks/h200_flash4_suite.sh [call seconds] [compile mode]
source benchmarks/device_call.sh "${1:-300}" || exit 1
flash4_install || exit 1
train=(--workload train-gpt2)
[ -n "${2:-}" ] && train=(--workload train-gpt2-124m-compiled-b64)
CUDA_VISIBLE_DEVICES=0 COSTPERF_SDPA=flash4 COSTPERF_TRAIN_COMPILE_MODE=${2:-default} \
  timeout -k 5 -s TERM $(( $(left) - 20 )) costperf run --suite standard \
  --machine h200-sxm --workload memcpy --workload matmul "${train[@]}" > "$L/flash4_suite.log" 2>&1
echo "suite rc $? at $(( $(date +%s) - T0 )) s"
grep -E "^  [a-z].*: |Wrote|rror" "$L/flash4_suite.log" | cut -c1-160
end_call
