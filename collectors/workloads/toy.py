"""The seed article's toy check: a 1 -> 16 -> 1 MLP learning y = 2x, on the device and on the CPU.

100 points on [-1, 1], MSE, Adam lr 0.01, 300 full-batch iterations, then the prediction at 0.5
(ideal 1.0). It is a functional check that the backend trains at all; kernel-launch overhead
dominates its timing, which is recorded only as samples/s for completeness.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from collectors.meters.base import NullMeter
from collectors.records import Result, WorkloadParams
from collectors.workloads.common import Context, failed_result, measure, now, ok_result, warmup

ITERATIONS = 300
POINTS = 100


@dataclass(frozen=True)
class ToySpec:
    on_cpu: bool = False


def train_once(device: torch.device) -> tuple[float, float]:
    """Returns (final loss, prediction at x = 0.5)."""
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, POINTS).unsqueeze(1).to(device)
    y = 2 * x
    model = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss = torch.zeros((), device=device)
    for _ in range(ITERATIONS):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = model(torch.tensor([[0.5]], device=device))
    return float(loss.detach()), float(pred)


def run(spec: ToySpec, ctx: Context) -> Result:
    started = now()
    device = torch.device("cpu") if spec.on_cpu else ctx.device
    params = WorkloadParams(model="mlp-1-16-1", dtype="fp32", batch=POINTS, compile_mode="eager", engine="torch",
                            extra={"device": device.type, "iterations": ITERATIONS, "target": "y = 2x"})
    try:
        outcome: dict[str, float] = {}

        def call() -> None:
            outcome["final_loss"], outcome["prediction_at_0_5"] = train_once(device)

        # the suite's meter watches the accelerator: a CPU run beside it gets no energy figure
        meter = ctx.meter if device == ctx.device else NullMeter(
            f"the suite's meter covers the {ctx.kind} device; this check ran on the CPU")
        sub = Context(device=device, policy=ctx.policy, meter=meter, idle_w=ctx.idle_w)
        compile_s = warmup(call, sub, reps=1)
        timed = measure(call, ITERATIONS * POINTS, "samples/s", sub)
        learned = abs(outcome["prediction_at_0_5"] - 1.0) < 0.1
        return ok_result("toy-mlp", params, timed, started, sub, compile_s=compile_s,
                         outputs={**outcome, "learned": learned})
    except Exception as exc:  # noqa: BLE001
        return failed_result("toy-mlp", params, exc, started)
