#!/bin/bash
# GPU host with two H200s, one call, logs only: GPT-2-124M b64 with its matrix products autotuned
# against Triton's persistent TMA templates (which may take the bias, GELU or residual add as their
# epilogue) or left to cuBLAS, alternating, each GPU with one of the two template options; a profile
# of the autotuned step; the GPUs' SM clock, power and clock-limit reasons every 200 ms throughout.
# Usage (on the GPU host): bash benchmarks/h200_gemm_autotune.sh [call seconds]
source benchmarks/device_call.sh "${1:-540}" || exit 1

nvidia-smi --query-gpu=timestamp,index,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_event_reasons.sw_power_cap,clocks_event_reasons.hw_slowdown,clocks_event_reasons.sw_thermal_slowdown \
  --format=csv -lms 200 > "$L/clocks.csv" 2>&1 & smi=$!
train_explore_logged 0 "$L/train_autotune.log" "b64 gemm-autotune" "b64 fused-bias" "b64 gemm-autotune" \
  "b64 fused-bias" "profile:b64 gemm-autotune" "b64 gemm-autotune" "b64 fused-bias" & p0=$!
train_explore_logged 1 "$L/train_autotune_store.log" "b64 gemm-autotune tma-store" "b64 fused-bias" \
  "b64 gemm-autotune tma-store" "b64 fused-bias" "b64 gemm-autotune tma-store" "b64 fused-bias" & p1=$!
wait $p0 $p1
kill $smi
grep -A45 "^profile b64" "$L/train_autotune.log" | grep -E "^profile|^  [a-z]|^ +[0-9.]+ ms" | cut -c1-150
for f in train_autotune train_autotune_store; do
  echo "== $f"; grep -E "tok/s MFU|not run|status|Error|^AUTOTUNE|^  [a-z_0-9]+ [0-9.]+ ms" "$L/$f.log" | cut -c1-140 | head -60
done
python3 - "$L/clocks.csv" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) >= 9 and r[1].strip().isdigit()]
for gpu in sorted({r[1].strip() for r in rows}):
    busy = [r for r in rows if r[1].strip() == gpu and float(r[4].split()[0]) > 400]
    if busy:
        clk = [float(r[2].split()[0]) for r in busy]; w = [float(r[4].split()[0]) for r in busy]
        cap = sum("Active" in r[6] for r in busy) / len(busy)
        print(f"GPU {gpu}: {len(busy)} samples over 400 W: SM clock median {statistics.median(clk):.0f} MHz "
              f"(min {min(clk):.0f}, max {max(clk):.0f}), power median {statistics.median(w):.0f} W, "
              f"power cap active {100 * cap:.0f}%, temp max {max(float(r[5]) for r in busy):.0f} C")
PY
tar czf "$OUT/logs.tgz" -C /tmp cplogs
echo "== done at $(( $(date +%s) - T0 )) s"
