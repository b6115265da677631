#!/bin/bash
# GPU host with two H200s, one call: the standard suite on GPU 0 with the committed defaults, and
# meanwhile on GPU 1 copy + 8B bf16/int8 batch-1 decode runs: the defaults, the attention's partials
# merged by a second kernel (COSTPERF_ATTN_COMBINE=triton), the output layer's int8 GEMV in 16 x 256
# blocks, and the defaults again (the drift between the first and last). Run files are copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_standard_ab.sh [call seconds]
source benchmarks/device_call.sh "${1:-400}" || exit 1

variants() {
  local tag
  for tag in defaults merge-triton output-16x256 defaults-again; do
    [ "$(left)" -lt 70 ] && { echo "decode $tag: no time"; break; }
    local set=(CUDA_VISIBLE_DEVICES=1)
    case $tag in
      merge-triton) set+=(COSTPERF_ATTN_COMBINE=triton) ;;
      output-16x256) set+=('COSTPERF_GEMV_CONFIGS={"128256,4096,1,0": [16, 256, 4, 1]}') ;;
    esac
    decode_suite_run 120 "$L/decode_$tag.log" "${set[@]}"
    echo "decode $tag rc $? at $(( $(date +%s) - T0 )) s: $(grep -o 'Wrote [^ ]*' "$L/decode_$tag.log")"
  done
}
at_once standard_until_call_end variants
copy_new_runs "$R" "$BEFORE" "$OUT"
python3 benchmarks/run_summary.py "$L"
grep -E "^  [a-z].*: " "$L/standard.log" | grep -vE "^  fit:|unsupported" | cut -c1-120
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
