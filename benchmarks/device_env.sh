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
