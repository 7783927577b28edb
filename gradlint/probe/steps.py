"""Steps mode: a few real optimizer steps on a private copy -- "will it blow up at this learning rate?"

The copy fits random regression targets (MSE on ``y``) from one fixed batch of protocol
inputs, both drawn with seed 0. It diverges when a loss is not finite or the loss grows
more than ``DIVERGENCE_GROWTH`` times its starting value.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from gradlint.errors import UsageError
from gradlint.probe.deadline import Deadline
from gradlint.probe.device import seeded_rng
from gradlint.probe.io import call_model, output_tensor, protocol_inputs
from gradlint.probe.result import StepsResult

OPTIMIZERS = ("sgd", "adam")
DIVERGENCE_GROWTH = 100.0
STEPS_SEED = 0


def make_optimizer(name: str, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    key = name.strip().lower()
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise UsageError(f"--optimizer {name}: expected one of {', '.join(OPTIMIZERS)}")


def run_steps(
    model: nn.Module,
    example_inputs: Any,
    steps: int,
    lr: float,
    optimizer: str,
    device: torch.device,
    deadline: Deadline,
) -> StepsResult:
    """Train ``model`` (a private copy on ``device``, in train mode) for ``steps`` steps."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params, lr)
    generator = torch.Generator().manual_seed(STEPS_SEED)
    inputs = protocol_inputs(example_inputs, generator, device)
    losses: list[float] = []
    target: torch.Tensor | None = None
    with seeded_rng(device, STEPS_SEED), torch.enable_grad():
        for step in range(steps + 1):
            deadline.stage = f"training step {step} of {steps} (--probe-steps)"
            deadline.check()
            y, _ = output_tensor(call_model(model, inputs))
            y = y.float() if y.dtype not in (torch.float32, torch.float64) else y
            if target is None:  # y's shape is only known after the first forward
                target = torch.randn(tuple(y.shape), generator=generator, dtype=y.dtype).to(device)
            loss = nn.functional.mse_loss(y, target)
            value = float(loss.detach())
            losses.append(value)
            if not math.isfinite(value) or step == steps:
                break  # the loss after the last step is measured; nothing past a NaN is informative
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    diverged, reason = judge_losses(losses)
    return StepsResult(
        steps=steps, lr=lr, optimizer=optimizer.strip().lower(), losses=tuple(losses), diverged=diverged, reason=reason
    )


def judge_losses(losses: list[float]) -> tuple[bool, str]:
    """Diverged when any loss is not finite or the maximum exceeds ``DIVERGENCE_GROWTH`` × the first."""
    if not losses:
        return False, "no loss measured"
    for step, value in enumerate(losses):
        if not math.isfinite(value):
            return True, f"loss became {value} after {step} step(s) (started at {losses[0]:.4g})"
    first = losses[0]
    peak = max(losses)
    peak_step = losses.index(peak)
    if first > 0 and peak > DIVERGENCE_GROWTH * first:
        return True, (
            f"loss grew ×{peak / first:.3g} from {first:.4g} to {peak:.4g} after {peak_step} step(s) "
            f"(divergence: more than ×{DIVERGENCE_GROWTH:g})"
        )
    return False, f"loss went from {first:.4g} to {losses[-1]:.4g} in {len(losses) - 1} step(s); peak {peak:.4g}"
