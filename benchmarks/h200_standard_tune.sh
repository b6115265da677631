#!/bin/bash
# GPU host with two H200s, one call: the standard suite on GPU 0 with the committed defaults, and
# meanwhile on GPU 1 the int8 block shapes chosen inside the captured decode step (int8_decode_tune.py,
# with the suite's knobs), then copy + 8B bf16/int8 batch-1 decode with its choice (or the defaults
# again if it kept them). Run files are copied to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_standard_tune.sh [call seconds]
source benchmarks/device_call.sh "${1:-330}" || exit 1

tune() {
  CUDA_VISIBLE_DEVICES=1 OUT=$L timeout -k 5 -s TERM 150 python3 benchmarks/int8_decode_tune.py --budget-s 90 \
    > "$L/tune.log" 2>&1
  echo "tune rc $? at $(( $(date +%s) - T0 )) s"
  local cfg; cfg=$(python3 - "$L/int8_tuned.json" <<'PY'
import json, sys
from collectors.models import gemv_fused
try:
    chosen = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    chosen = {}
changed = {k: v for k, v in chosen.items()
           if tuple(v) != gemv_fused.config_for(*(int(x) for x in k.split(",")[:3]), k.endswith(",1"))}
print(json.dumps(changed) if changed else "")
PY
)
  local t=$(( $(left) - 10 )); [ "$t" -gt 110 ] && t=110
  [ "$t" -lt 45 ] && { echo "decode: no time"; return; }
  echo "configs: '${cfg}'"
  decode_logged decode "$t" CUDA_VISIBLE_DEVICES=1 "COSTPERF_GEMV_CONFIGS=$cfg"
}
at_once standard_until_call_end tune
grep -vE "^\s*$|UserWarning|_warn_once" "$L/tune.log" | tail -24 | cut -c1-200
end_call
