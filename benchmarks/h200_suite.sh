#!/bin/bash
# GPU host with one H200, one call, at the committed defaults, nothing else running: the standard
# suite, then each task's SM clock over its energy window and what held it (the run file's
# energy.clocks). Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_suite.sh [call seconds]
source benchmarks/device_call.sh "${1:-330}" || exit 1

standard_suite_run 300 "$L/standard.log"
echo "standard rc $? at $(( $(date +%s) - T0 )) s"
# shellcheck disable=SC2086,SC2012  # BEFORE is a list of run file names, split on purpose
for f in $(comm -13 <(printf '%s\n' $BEFORE | sort) <(ls "$R" | sort)); do
  python3 -c '
import sys
from collectors.records import RunRecord
from report.results_table import clock_text
run = RunRecord.model_validate_json(open(sys.argv[1]).read())
for r in run.results:
    e = r.energy
    clocks = clock_text(e.clocks) if e and e.clocks else "no clocks"
    tps = f"{r.throughput.median:,.0f} {r.throughput.unit}" if r.throughput else r.status
    print(f"{r.workload:40s} {tps:>22s} {e.avg_w if e else 0:5.0f} W  {clocks}")
' "$R/$f"
done
end_call
