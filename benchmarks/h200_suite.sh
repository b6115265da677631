#!/bin/bash
# GPU host with one H200, one call, at the committed defaults, nothing else running: the standard
# suite, then each task's SM clock over its energy window and what held it (the run file's
# energy.clocks). Run files to $OUT.
# Usage (on the GPU host): bash benchmarks/h200_suite.sh [call seconds]
source benchmarks/device_call.sh "${1:-330}" || exit 1

standard_suite_run 300 "$L/standard.log"
echo "standard rc $? at $(( $(date +%s) - T0 )) s"
python3 benchmarks/run_summary.py --clocks "$L"
end_call
