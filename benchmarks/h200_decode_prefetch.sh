#!/bin/bash
# GPU host with two H200s, one call: copy + 8B bf16/int8 batch-1 decode run files, two series at once,
# one per GPU, each starting with the defaults. GPU 0: the output projection's weights asked into L2
# by the attention kernel (COSTPERF_L2_PREFETCH=1), 8 MB of the next weights asked by each GEMV's
# last wave (COSTPERF_GEMV_PREFETCH_MB=8), both, the defaults again (drift). GPU 1: PDL for every
# kernel (COSTPERF_PDL=1), that with both prefetches, 16 MB by the GEMVs, and int8 with the GEMVs'
# PDL but not the attention's (COSTPERF_PDL_ATTN=0).
# Usage (on the GPU host): bash benchmarks/h200_decode_prefetch.sh [call seconds]
OUT=${OUT:-out}; L=/tmp/cplogs; mkdir -p "$OUT" "$L"
BUDGET=${1:-450}; T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
source benchmarks/device_env.sh || exit 1
R=data/runs/h200-sxm; mkdir -p "$R"; BEFORE=$(ls "$R")

series() {
  local gpu=$1 tag; shift
  for tag in "$@"; do
    [ "$(left)" -lt 75 ] && { echo "gpu$gpu $tag: no time"; break; }
    local set=(CUDA_VISIBLE_DEVICES=$gpu)
    case $tag in
      pf1) set+=(COSTPERF_L2_PREFETCH=1) ;;
      gpf8) set+=(COSTPERF_GEMV_PREFETCH_MB=8) ;;
      gpf16) set+=(COSTPERF_GEMV_PREFETCH_MB=16) ;;
      pf1-gpf8) set+=(COSTPERF_L2_PREFETCH=1 COSTPERF_GEMV_PREFETCH_MB=8) ;;
      pdl-pf1-gpf8) set+=(COSTPERF_PDL=1 COSTPERF_L2_PREFETCH=1 COSTPERF_GEMV_PREFETCH_MB=8) ;;
      pdl) set+=(COSTPERF_PDL=1) ;;
      attn-pdl-off) set+=(COSTPERF_PDL_ATTN=0) ;;
    esac
    decode_suite_run $(( $(left) - 10 )) "$L/gpu${gpu}_$tag.log" "${set[@]}"
    echo "gpu$gpu $tag rc $? at $(( $(date +%s) - T0 )) s: $(grep -o 'Wrote [^ ]*' "$L/gpu${gpu}_$tag.log")"
  done
}
series 0 defaults pf1 gpf8 pf1-gpf8 defaults-again & p0=$!
sleep 20  # the two series' first compiles do not write the shared inductor cache at the same moment
series 1 defaults pdl pdl-pf1-gpf8 gpf16 attn-pdl-off & p1=$!
wait $p0 $p1
copy_new_runs "$R" "$BEFORE" "$OUT"
python3 benchmarks/run_summary.py "$L"
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
