#!/bin/bash
# GPU host with two H200s, one call: the batch-1 decode kernels checked on the GPU, programmatic
# dependent launch (PDL) off against on in copy + 8B bf16/int8 batch-1 decode runs (one setting
# per GPU at once, then swapped), then the standard suite on GPU 0 with PDL as those runs chose.
# Every run file is copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_decode_final.sh [call seconds]
source benchmarks/device_call.sh "${1:-560}" || exit 1

CUDA_VISIBLE_DEVICES=0 python3 benchmarks/decode_check.py > "$L/decode_check.log" 2>&1
echo "decode_check rc $?"; grep -E "FAIL" "$L/decode_check.log" | head -5; grep -c " ok$" "$L/decode_check.log"
grep -q "merged in kernel.*FAIL" "$L/decode_check.log" && export COSTPERF_ATTN_COMBINE=triton
grep -q "kernel combine.*FAIL" "$L/decode_check.log" && export COSTPERF_ATTN_COMBINE=torch
grep -q "int8 prmt.*FAIL" "$L/decode_check.log" && export COSTPERF_I8_CONVERT=cvt
grep -q "^gemv.*bfloat16.*FAIL" "$L/decode_check.log" && export COSTPERF_FUSED_GEMV=0 COSTPERF_FUSED_ATTN=0
env | grep "^COSTPERF_" || true

decode_run() {  # gpu pdl tag
  decode_suite_run 150 "$L/decode_$3.log" "CUDA_VISIBLE_DEVICES=$1" "COSTPERF_PDL=$2"
  echo "decode $3 (GPU $1, PDL $2) rc $? at $(( $(date +%s) - T0 )) s: $(grep -o 'Wrote [^ ]*' "$L/decode_$3.log")"
}
decode_run 0 0 a0 & decode_run 1 1 b1 & wait
decode_run 0 1 b0 & decode_run 1 0 a1 & wait
copy_new_runs "$R" "$BEFORE" "$OUT"
PDL=$(python3 - "$L" <<'PY'
import json, re, sys, pathlib
L = pathlib.Path(sys.argv[1]); rates = {"0": [], "1": []}
for tag in ("a0", "b1", "b0", "a1"):
    m = re.search(r"Wrote (\S+?)\s", (L / f"decode_{tag}.log").read_text())
    if not m:
        continue
    d = json.load(open(m.group(1)))
    r = {(x["workload"], x["params"]["dtype"]): x for x in d["results"] if x.get("throughput")}
    bf, i8 = r.get(("decode", "bf16")), r.get(("decode", "int8-weight-only"))
    cp = r.get(("memcpy", None))
    if bf and i8:
        pdl = "1" if i8["params"]["extra"].get("pdl") else "0"
        rates[pdl].append(i8["throughput"]["median"])
        print(f"{tag}: copy {cp['throughput']['median'] if cp else 0:,.0f} GB/s bf16 {bf['throughput']['median']:.1f} "
              f"int8 {i8['throughput']['median']:.1f} tok/s = {i8['throughput']['median'] / bf['throughput']['median']:.3f}x "
              f"(pdl {pdl})", file=sys.stderr)
a, b = (sum(v) / len(v) if v else 0.0 for v in (rates["0"], rates["1"]))
print("1" if b > a * 1.005 else "0")
PY
)
echo "PDL for the standard suite: $PDL ($(left) s left)"
t=$(( $(left) - 10 )); [ "$t" -gt 330 ] && t=330
start=$(date +%s)
CUDA_VISIBLE_DEVICES=0 COSTPERF_PDL=$PDL timeout -k 5 -s TERM "$t" costperf run --suite standard --machine h200-sxm \
  > "$L/standard.log" 2>&1
echo "standard rc $? in $(( $(date +%s) - start )) s (limit $t)"
copy_new_runs "$R" "$BEFORE" "$OUT"
grep -E "^  [a-z].*: |Wrote" "$L/standard.log" | cut -c1-160 | tail -30
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"; ls "$OUT"
