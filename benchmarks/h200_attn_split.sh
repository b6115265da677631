#!/bin/bash
# GPU host with two H200s, one call: the batch-1 decode kernels checked on the GPU (both slice sizes),
# then copy + 8B bf16/int8 batch-1 decode with the attention's slices of 64 positions against 32,
# one setting per GPU at once, then swapped. Run files are copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_attn_split.sh
OUT=${OUT:-out}; L=/tmp/cplogs; mkdir -p "$OUT" "$L"  # logs come back as one archive
T0=$(date +%s)
source benchmarks/device_env.sh || exit 1
R=data/runs/h200-sxm; mkdir -p "$R"; BEFORE=$(ls "$R")
CUDA_VISIBLE_DEVICES=0 python3 benchmarks/decode_check.py > "$L/decode_check.log" 2>&1
echo "decode_check rc $?: $(grep -c ' ok$' "$L/decode_check.log") ok"; grep FAIL "$L/decode_check.log" | head -5
if ! grep -q "split 32.*FAIL" "$L/decode_check.log"; then
  pair() {  # tag on GPU 0 and tag on GPU 1, as "split" values
    decode_suite_run 110 "$L/split$1_gpu0_$3.log" CUDA_VISIBLE_DEVICES=0 "COSTPERF_ATTN_SPLIT=$1" &
    decode_suite_run 110 "$L/split$2_gpu1_$3.log" CUDA_VISIBLE_DEVICES=1 "COSTPERF_ATTN_SPLIT=$2" &
    wait; echo "pair $3 done at $(( $(date +%s) - T0 )) s"
  }
  pair 64 32 a
  pair 32 64 b
fi
copy_new_runs "$R" "$BEFORE" "$OUT"
python3 benchmarks/run_summary.py "$L"
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
