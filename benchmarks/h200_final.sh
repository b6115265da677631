#!/bin/bash
# GPU host with two H200s, one call. GPU 0: the standard suite with the committed defaults (training
# with the fused output layer + loss), then a compiled training profile and batches 96 and 48.
# GPU 1: the GEMV block shapes tuned inside the decode step, int8 with each program reading its next
# weight block ahead (COSTPERF_GEMV_AHEAD=int8, timed against the start without it), then bf16; then
# copy + 8B bf16/int8 batch-1 decode with what won. Run files are copied to $OUT. (Run at the commit
# that had COSTPERF_GEMV_AHEAD; measured slower, the read-ahead was taken out afterwards.)
# Usage (on the GPU host): bash benchmarks/h200_final.sh [call seconds]
source benchmarks/device_call.sh "${1:-520}" || exit 1

gpu0() {
  standard_suite_run 330 "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s: $(grep -o 'Wrote [^ ]*' "$L/standard.log")"
  [ "$(left)" -lt 60 ] && return
  CUDA_VISIBLE_DEVICES=0 OUT=$L timeout -k 5 -s TERM $(( $(left) - 10 )) python3 benchmarks/train_explore.py \
    profile "b96 fused-loss" "b48 fused-loss" > "$L/train.txt" 2>&1
  echo "train rc $? at $(( $(date +%s) - T0 )) s"
}
gpu1() {
  CUDA_VISIBLE_DEVICES=1 COSTPERF_GEMV_AHEAD=int8 OUT=$L timeout -k 5 -s TERM 220 \
    python3 benchmarks/int8_decode_tune.py --dtype int8 --budget-s 100 > "$L/tune_int8.log" 2>&1
  echo "tune int8 rc $? at $(( $(date +%s) - T0 )) s"
  CUDA_VISIBLE_DEVICES=1 OUT=$L timeout -k 5 -s TERM 180 \
    python3 benchmarks/int8_decode_tune.py --dtype bf16 --budget-s 90 > "$L/tune_bf16.log" 2>&1
  echo "tune bf16 rc $? at $(( $(date +%s) - T0 )) s"
  local choice; choice=$(python3 - "$L" <<'PY'
import json, re, sys
from pathlib import Path
from collectors.models import gemv_fused
d = Path(sys.argv[1])
def us(log, label):
    m = re.search(label + r"\s+([\d,.]+) us/step", (d / log).read_text()) if (d / log).exists() else None
    return float(m.group(1).replace(",", "")) if m else None
def changed(name):
    try:
        chosen = json.loads((d / name).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in chosen.items()
            if tuple(v) != gemv_fused.config_for(*(int(x) for x in k.split(",")[:3]), k.endswith(",1"))}
tuned, without = us("tune_int8.log", "int8 tuned"), us("tune_int8.log", "int8 start without ahead")
ahead = tuned is not None and without is not None and tuned < 0.995 * without
configs = {**(changed("int8_tuned.json") if ahead else {}), **changed("bf16_tuned.json")}
print(("int8" if ahead else "0") + " " + (json.dumps(configs, separators=(",", ":")) if configs else ""))
PY
)
  local ah=${choice%% *} cfg=${choice#* }
  echo "chosen: COSTPERF_GEMV_AHEAD=$ah COSTPERF_GEMV_CONFIGS=$cfg"
  local t=$(( $(left) - 10 )); [ "$t" -lt 50 ] && { echo "decode: no time"; return; }
  decode_logged decode "$t" CUDA_VISIBLE_DEVICES=1 "COSTPERF_GEMV_AHEAD=$ah" "COSTPERF_GEMV_CONFIGS=$cfg"
}
at_once gpu0 gpu1
for f in tune_int8 tune_bf16; do grep -vE "UserWarning|_warn_once|^\s*$" "$L/$f.log" | tail -22 | cut -c1-170; done
grep -vE "UserWarning|_warn_once|^\s*$" "$L/train.txt" | tail -28 | cut -c1-150
end_call
