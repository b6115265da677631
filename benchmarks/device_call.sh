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

# This shell (a GPU's part of a call, run in the background) and what it starts on one half of the
# host's CPUs, 0 or 1, so that one GPU's compiles do not slow the other's host-bound eager tasks.
cpu_half() {
  command -v taskset > /dev/null || return 0
  local n h; n=$(nproc); h=$(( n / 2 ))
  if [ "$1" = 0 ]; then taskset -cp "0-$(( h - 1 ))" $BASHPID; else taskset -cp "$h-$(( n - 1 ))" $BASHPID; fi > /dev/null
}

# Commands (shell functions, each a GPU's part of a call) run at once in the background, until all
# have ended: at_once FN...
at_once() {
  local pids=() f
  for f in "$@"; do "$f" & pids+=($!); done
  wait "${pids[@]}"
}

# The standard suite on GPU 0 until 15 s before the call ends, and a line on how it ended.
standard_until_call_end() {
  local t=$(( $(left) - 15 ))
  standard_suite_run "$t" "$L/standard.log"
  echo "standard rc $? at $(( $(date +%s) - T0 )) s (limit $t)"
}

# A decode run (decode_suite_run) logged as $L/NAME.log, and a line on how it ended:
# decode_logged NAME LIMIT_S [VAR=VALUE ...]
decode_logged() {
  local name=$1 t=$2; shift 2
  decode_suite_run "$t" "$L/$name.log" "$@"
  echo "$name rc $? at $(( $(date +%s) - T0 )) s: $(grep -o 'Wrote [^ ]*' "$L/$name.log")"
}

# GPT-2 training variants (benchmarks/train_explore.py: TAGs, "profile") on one GPU until 20 s before
# the call ends, logged, and a line on how it ended: train_explore_logged GPU LOG TAG...
train_explore_logged() {
  local gpu=$1 log=$2; shift 2
  CUDA_VISIBLE_DEVICES=$gpu OUT=$L timeout -k 30 -s TERM $(( $(left) - 20 )) python3 benchmarks/train_explore.py \
    "$@" > "$log" 2>&1
  echo "GPU $gpu rc $? at $(( $(date +%s) - T0 )) s"
}

# A GPU check script, at most 200 s, logged as $L/check.log, and a line on how it ended:
# check_logged GPU SCRIPT
check_logged() {
  CUDA_VISIBLE_DEVICES=$1 timeout -k 30 -s TERM 200 python3 "$2" > "$L/check.log" 2>&1
  echo "check rc $? at $(( $(date +%s) - T0 )) s"
}

# Two training variants in turn, ROUNDS times each, then any further tags, as train_explore_logged:
# train_alternating GPU LOG ROUNDS TAG_A TAG_B [TAG ...]
train_alternating() {
  local gpu=$1 log=$2 n=$3 a=$4 b=$5 rounds=() i
  shift 5
  for ((i = 0; i < n; i++)); do rounds+=("$a" "$b"); done
  train_explore_logged "$gpu" "$log" "${rounds[@]}" "$@"
}

# Training tags in turn, N times, a line each (for mapfile): rounds N TAG...
rounds() {
  local n=$1 i; shift
  for ((i = 0; i < n; i++)); do printf '%s\n' "$@"; done
}

# The check's lines ($L/check.log) that match an extended regular expression: print_check PATTERN
print_check() {
  grep -v Warning "$L/check.log" | grep -E "$1" | cut -c1-170
}

# The step's profile in a train_explore log: print_profile LOG
print_profile() {
  grep -A50 "^profile b64" "$1" | grep -E "^profile|^  [a-z]|^ +[0-9.]+ ms" | cut -c1-150 | head -36
}

# Each training variant's figures (tok/s, MFU, watts, tokens per joule) in train_explore logs
# $L/NAME.log: print_trains NAME...
print_trains() {
  local f
  for f in "$@"; do
    echo "== $f"; grep -E "tok/s MFU|not run|status|Error" "$L/$f.log" | sed 's/warm-up.*task [0-9]* s//; s/\[.*//' | tail -12
  done
}

# The call's end: the run files written since its start to $OUT, a line per run (copy, bf16, int8),
# the standard suite's copy, decode and training lines where it ran, and the logs as one archive.
end_call() {
  copy_new_runs "$R" "$BEFORE" "$OUT"
  python3 benchmarks/run_summary.py "$L"
  if [ -f "$L/standard.log" ]; then
    grep -E "^  [a-z].*: " "$L/standard.log" | grep -E "decode-.*compiled|train|memcpy" | cut -c1-120
  fi
  tar czf "$OUT/logs.tgz" -C /tmp cplogs
  echo "== done at $(( $(date +%s) - T0 )) s"
}
