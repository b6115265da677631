#!/bin/bash
# GPU host with two H200s, one call: the standard suite on GPU 0 with the committed defaults, and
# meanwhile on GPU 1 copy + 8B bf16/int8 batch-1 decode runs: the defaults, the attention's partials
# merged by a second kernel (COSTPERF_ATTN_COMBINE=triton), the output layer's int8 GEMV in 16 x 256
# blocks, and the defaults again (the drift between the first and last). Run files are copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_standard_ab.sh [call seconds]
OUT=${OUT:-out}; L=/tmp/cplogs; mkdir -p "$OUT" "$L"  # logs come back as one archive
BUDGET=${1:-400}; T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
source benchmarks/device_env.sh || exit 1
R=data/runs/h200-sxm; mkdir -p "$R"; BEFORE=$(ls "$R")
newruns() { for f in $(comm -13 <(printf '%s\n' $BEFORE | sort) <(ls "$R" | sort)); do cp "$R/$f" "$OUT/"; done; }
DECODE=(--workload memcpy --workload decode-llama-3-8b-bf16-compiled-b1 --workload decode-llama-3-8b-int8-compiled-b1)

standard() {
  local t=$(( $(left) - 15 ))
  CUDA_VISIBLE_DEVICES=0 timeout -k 5 -s TERM "$t" costperf run --suite standard --machine h200-sxm > "$L/standard.log" 2>&1
  echo "standard rc $? at $(( $(date +%s) - T0 )) s (limit $t)"
}
variants() {
  local tag
  for tag in defaults merge-triton output-16x256 defaults-again; do
    [ "$(left)" -lt 70 ] && { echo "decode $tag: no time"; break; }
    case $tag in
      merge-triton) export COSTPERF_ATTN_COMBINE=triton ;;
      output-16x256) export COSTPERF_GEMV_CONFIGS='{"128256,4096,1,0": [16, 256, 4, 1]}' ;;
    esac
    CUDA_VISIBLE_DEVICES=1 timeout -k 5 -s TERM 120 costperf run --suite standard --machine h200-sxm "${DECODE[@]}" \
      > "$L/decode_$tag.log" 2>&1
    echo "decode $tag rc $? at $(( $(date +%s) - T0 )) s: $(grep -o 'Wrote [^ ]*' "$L/decode_$tag.log")"
    unset COSTPERF_ATTN_COMBINE COSTPERF_GEMV_CONFIGS
  done
}
standard & p0=$!
variants & p1=$!
wait $p0 $p1
newruns
python3 - "$L" <<'PY'
import json, re, sys, pathlib
for log in sorted(pathlib.Path(sys.argv[1]).glob("*.log")):
    m = re.search(r"Wrote (\S+?)\s", log.read_text())
    if not m:
        continue
    d = json.load(open(m.group(1)))
    r = {(x["workload"], x["params"]["dtype"], x["params"]["batch"], x["params"]["compile_mode"]): x
         for x in d["results"] if x.get("throughput")}
    bf = r.get(("decode", "bf16", 1, "layer-compiled+cuda-graph"))
    i8 = r.get(("decode", "int8-weight-only", 1, "layer-compiled+cuda-graph"))
    cp = next((x for k, x in r.items() if k[0] == "memcpy"), None)
    if bf and i8 and cp:
        c, b, i = (x["throughput"]["median"] for x in (cp, bf, i8))
        print(f"{log.stem:22s} copy {c:,.0f} GB/s  bf16 {b:.1f} tok/s = {100 * b * bf['bytes_per_token'] / 1e9 / c:.1f}% "
              f"of copy  int8 {i:.1f} tok/s = {i / b:.3f}x  ({pathlib.Path(m.group(1)).name})")
PY
grep -E "^  [a-z].*: " "$L/standard.log" | grep -vE "^  fit:|unsupported" | cut -c1-120
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
