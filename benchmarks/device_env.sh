# Source on a GPU host without internet: installs the Python packages it lacks, carried as wheels in
# .whl/ (pydantic, zeus, ...), and costperf itself under /tmp, and puts `costperf` on PATH.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
export PYTHONPATH=/tmp/site
rm -rf /tmp/cp
if python3 -m pip install -q --upgrade --no-deps --no-build-isolation --no-index --no-compile --target /tmp/cp . ; then
  export PATH=/tmp/cp/bin:$PATH PYTHONPATH=/tmp/site:/tmp/cp
else
  export PYTHONPATH=/tmp/site:$PWD
  costperf() { python3 -c 'from collectors.cli import main; main()' "$@"; }
fi
export PYTHONUNBUFFERED=1

# FlashAttention-4 (collectors/models/flash4.py) from its wheels in .fa4/: flash-attn-4 and its CuTe
# DSL packages (nvidia-cutlass-dsl with its cu13 libraries, quack-kernels, apache-tvm-ffi,
# torch-c-dlpack-ext). The DSL's packages live under a folder of its own, which its .pth file adds
# to the path where pip installs into site-packages; here it is added by hand.
flash4_install() {
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/fa4site .fa4/*.whl || return 1
  export PYTHONPATH=$PYTHONPATH:/tmp/fa4site:/tmp/fa4site/nvidia_cutlass_dsl/dsl_packages
  python3 -c 'import flash_attn.cute.interface; from collectors.models import flash4; print(flash4.label())'
}

# The decode experiments' run: copy + 8B bf16/int8 batch-1 decode, written as a run file.
# decode_suite_run LIMIT_S LOG [VAR=VALUE ...]  (the variables apply to this run only)
DECODE_WORKLOADS=(--workload memcpy --workload decode-llama-3-8b-bf16-compiled-b1
                  --workload decode-llama-3-8b-int8-compiled-b1)
decode_suite_run() {
  local t=$1 log=$2; shift 2
  ( for kv in "$@"; do export "${kv?}"; done
    timeout -k 5 -s TERM "$t" costperf run --suite standard --machine h200-sxm "${DECODE_WORKLOADS[@]}" > "$log" 2>&1 )
}
# The whole standard suite on GPU 0: standard_suite_run LIMIT_S LOG
standard_suite_run() {
  CUDA_VISIBLE_DEVICES=0 timeout -k 5 -s TERM "$1" costperf run --suite standard --machine h200-sxm > "$2" 2>&1
}
# copy_new_runs RUNS_DIR "FILES BEFORE" DEST: the run files written since
copy_new_runs() {
  local f
  for f in $(comm -13 <(printf '%s\n' $2 | sort) <(ls "$1" | sort)); do cp "$1/$f" "$3/"; done
}
