#!/bin/bash
# Third GPU experiment (one GPU): the decode variants and the profile after the argmax fix.
OUT=${OUT:-out}; mkdir -p "$OUT/logs"; L=$OUT/logs
source benchmarks/device_env.sh || exit 1
CUDA_VISIBLE_DEVICES=0 OUT=$L timeout -s TERM 240 python3 benchmarks/decode_explore.py decode profile > "$L/decode.out" 2>&1
tar czf "$OUT/logs.tgz" -C "$OUT" logs
grep -v "^ " "$L/decode_explore.log" | tail -30 | cut -c1-400; tail -8 "$L/decode.out" | cut -c1-400
