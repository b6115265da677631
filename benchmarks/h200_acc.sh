#!/bin/bash
# GPU host with two H200s, one call: the fused GEMV's block shapes with narrow accumulators (ACC 8:
# each thread sums 8 products before accumulating) chosen inside the captured decode step, int8 on
# GPU 1 and bf16 on GPU 0 at once, each judged against the committed shapes (alternating rounds).
# Then, with what won: the standard suite on GPU 0; on GPU 1, copy + 8B bf16/int8 batch-1 decode with
# the committed shapes first and then with the winners (same host). Run files are copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_acc.sh [call seconds]
source benchmarks/device_call.sh "${1:-560}" || exit 1

CUDA_VISIBLE_DEVICES=1 OUT=$L timeout -k 30 -s TERM 230 python3 benchmarks/int8_decode_tune.py --dtype int8 \
  --budget-s 120 > "$L/tune_int8.log" 2>&1 &
p1=$!
CUDA_VISIBLE_DEVICES=0 OUT=$L timeout -k 30 -s TERM 200 python3 benchmarks/int8_decode_tune.py --dtype bf16 \
  --budget-s 100 > "$L/tune_bf16.log" 2>&1
echo "tune bf16 rc $? at $(( $(date +%s) - T0 )) s"
wait $p1; echo "tune int8 rc $? at $(( $(date +%s) - T0 )) s"

# The winners' shapes that differ from the committed ones, where the alternating rounds gave the
# winner at least 0.3% over the start.
CFG=$(python3 - "$L" <<'PY'
import json, re, sys
from pathlib import Path
from collectors.models import gemv_fused
d = Path(sys.argv[1])
configs = {}
for dtype in ("int8", "bf16"):
    log = d / f"tune_{dtype}.log"
    text = log.read_text() if log.exists() else ""
    us = {label: float(m.group(1).replace(",", "")) for label in ("start", "tuned")
          if (m := re.search(rf"{dtype} {label}\s+([\d,.]+) us/step", text))}
    if len(us) < 2 or us["tuned"] > 0.997 * us["start"]:
        continue
    chosen = json.loads((d / f"{dtype}_tuned.json").read_text())
    configs.update({k: v for k, v in chosen.items()
                    if tuple(v) != gemv_fused.config_for(*(int(x) for x in k.split(",")[:3]), k.endswith(",1"))})
print(json.dumps(configs, separators=(",", ":")) if configs else "")
PY
)
echo "chosen: COSTPERF_GEMV_CONFIGS=$CFG"

gpu0() {
  local t=$(( $(left) - 15 ))
  CUDA_VISIBLE_DEVICES=0 COSTPERF_GEMV_CONFIGS=$CFG timeout -k 30 -s TERM "$t" \
    costperf run --suite standard --machine h200-sxm > "$L/standard.log" 2>&1
  echo "standard rc $? at $(( $(date +%s) - T0 )) s (limit $t): $(grep -o 'Wrote [^ ]*' "$L/standard.log")"
}
gpu1() {
  [ -z "$CFG" ] && { echo "decode: nothing chosen"; return; }
  local t=$(( ($(left) - 20) / 2 )); [ "$t" -gt 120 ] && t=120
  [ "$t" -lt 50 ] && { echo "decode: no time"; return; }
  decode_logged decode_committed "$t" CUDA_VISIBLE_DEVICES=1
  t=$(( $(left) - 15 )); [ "$t" -gt 120 ] && t=120
  [ "$t" -lt 50 ] && { echo "decode: no time"; return; }
  decode_logged decode_chosen "$t" CUDA_VISIBLE_DEVICES=1 "COSTPERF_GEMV_CONFIGS=$CFG"
}
at_once gpu0 gpu1
for f in tune_int8 tune_bf16; do grep -vE "UserWarning|_warn_once|^\s*$" "$L/$f.log" | tail -48 | cut -c1-170; done
end_call
