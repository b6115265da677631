# First call on the device: software check, quick suite on CUDA, GEMV kernels, 8B decode and
# GPT-2 training spot checks. Usage (on the device): bash benchmarks/device_smoke.sh
set -x
nvidia-smi --query-gpu=name,power.draw,power.limit,clocks.sm,temperature.gpu,driver_version --format=csv
source benchmarks/device_env.sh || exit 1
python3 -c "import torch,triton,pydantic,zeus;print(torch.__version__,torch.version.cuda,triton.__version__,pydantic.__version__)"
which costperf; costperf --version
costperf run --suite quick --machine h100-sxm 2>&1 | tee $OUT/quick.log
cp data/runs/h100-sxm/*.json $OUT/ 2>/dev/null
python3 benchmarks/gemv_bench.py 2>&1 | tee $OUT/gemv.log
costperf run --suite standard --machine h100-sxm --no-save --workload memcpy --workload decode-llama-3-8b-bf16-compiled-b1 --workload decode-llama-3-8b-int8 --workload train-gpt2-124m-compiled-b64 2>&1 | tee $OUT/spot.log
