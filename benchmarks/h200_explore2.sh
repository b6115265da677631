#!/bin/bash
# Second GPU experiment (two GPUs): GPU 0 the int8 GEMV sweep and the decode variants with the
# fused attention kernel, and a profile; GPU 1 more training batches. Logs in $OUT/logs.tgz.
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
source benchmarks/device_env.sh || exit 1
(CUDA_VISIBLE_DEVICES=0 OUT=$L timeout -s TERM 300 python3 benchmarks/decode_explore.py gemv8 decode profile > "$L/decode.out" 2>&1) &
DEC=$!
(CUDA_VISIBLE_DEVICES=1 timeout -s TERM 200 python3 benchmarks/train_explore.py "b128 cudnn" "b64 flash" > "$L/train.out" 2>&1) &
TR=$!
wait $DEC $TR
tar czf "$OUT/logs.tgz" -C "$OUT" logs
echo "== train"; tail -4 "$L/train.out"
echo "== decode"; grep -v "^ " "$L/decode_explore.log" | tail -30; tail -14 "$L/decode.out"
