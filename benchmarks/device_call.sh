# shellcheck shell=bash disable=SC2034  # the calling script reads R and BEFORE
# Sourced first by a script that is one GPU call: `source benchmarks/device_call.sh SECONDS || exit 1`.
# Sets OUT (made; what it holds comes back) and L (the logs, sent back as one archive of /tmp/cplogs),
# BUDGET (the call's seconds, counted from here, the package installs included) and left() (seconds
# of it left), sources device_env.sh, and sets R and BEFORE (the run files there before the call).
OUT=${OUT:-out}; L=/tmp/cplogs; mkdir -p "$OUT" "$L"
BUDGET=$1; T0=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
source benchmarks/device_env.sh || return 1
R=data/runs/h200-sxm; mkdir -p "$R"; BEFORE=$(ls "$R")

# The standard suite on GPU 0 until 15 s before the call ends, and a line on how it ended.
standard_until_call_end() {
  local t=$(( $(left) - 15 ))
  standard_suite_run "$t" "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s (limit $t)"
}
