"""GPU experiment: whether sampling the GPU's clock during a window (collectors/meters/clocks.py)
costs a host-bound task throughput. GPT-2-124M eager b16 training (the standard suite's task, its
timing policy), with the NVML meter's clock sampler on and off, alternating ROUNDS times.

    python benchmarks/clock_cost.py [ROUNDS]      (CUDA)
"""

from __future__ import annotations

import statistics
import sys

import torch

from collectors.runner import make_meter
from collectors.workloads import train
from collectors.workloads.common import Context
from collectors.workloads.suites import POLICIES


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    device = torch.device("cuda")
    meter = make_meter("auto", device, None)
    sampler = getattr(meter, "clocks", None)
    print(f"meter {meter.method}, clock sampler {'present' if sampler else 'absent'}")
    ctx = Context(device=device, policy=POLICIES["standard"], meter=meter)
    got: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for on in (True, False):
            meter.clocks = sampler if on else None  # type: ignore[union-attr]
            r = train.run(train.TrainSpec("gpt2-124m", batch=16, seq_len=1024), ctx)
            tps = r.throughput.median if r.throughput else float("nan")
            got[on].append(tps)
            clocks = r.energy.clocks if r.energy else None
            print(f"sampler {'on ' if on else 'off'} {tps:10,.0f} tok/s cv {100 * r.throughput.cv:.1f}% "
                  f"clocks {clocks.sm_mhz_median if clocks else '-'} MHz", flush=True)
    for on in (True, False):
        print(f"sampler {'on ' if on else 'off'} median {statistics.median(got[on]):,.0f} tok/s over {rounds}")


if __name__ == "__main__":
    main()
