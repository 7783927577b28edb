"""Steps mode, the training check's protocol (DESIGN §2b): does this optimizer train the model, blow up, or stall?

On a private copy in ``train()`` mode: one fixed batch of protocol inputs (floats N(0, 1)) and fixed
N(0, 1) targets of the output's shape, both from a generator seeded with ``STEPS_SEED`` (dropout
draws from the global RNG, seeded the same way inside a fork); loss MSE; ``steps`` steps of the
configured optimizer, with ``clip_grad_norm_`` before each step when it is set. The loss is measured
before the first step and after each one. **diverges**: a loss that is not finite, or
final/initial > ``DIVERGE_RATIO``; **stalls**: final/initial > ``STALL_RATIO``; else **trains**.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from gradlint.probe.deadline import Deadline
from gradlint.probe.device import seeded_rng
from gradlint.probe.io import call_model, output_tensor, protocol_inputs
from gradlint.probe.result import StepsResult
from gradlint.types import OptimizerConfig

DEFAULT_STEPS = 150
"""The protocol's number of steps: what the static training check predicts, and what the calibration ran."""
DIVERGE_RATIO = 10.0
STALL_RATIO = 0.9
STEPS_SEED = 0


def make_optimizer(config: OptimizerConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer ``config`` describes (its names are checked where it was built)."""
    eps = config.eps if config.eps is not None else 1e-8
    betas = config.betas or (0.9, 0.999)
    if config.name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=betas, eps=eps, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=betas, eps=eps, weight_decay=config.weight_decay)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, eps=eps, momentum=config.momentum, weight_decay=config.weight_decay
        )
    raise ValueError(f"no optimizer {config.name!r}")  # OptimizerConfig's builder admits only the four


def run_steps(
    model: nn.Module,
    example_inputs: Any,
    steps: int,
    optimizer: OptimizerConfig,
    device: torch.device,
    deadline: Deadline,
) -> StepsResult:
    """Train ``model`` (a private copy on ``device``, in train mode) for ``steps`` steps of the protocol."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params)
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
            if optimizer.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(params, optimizer.clip_grad_norm)
            opt.step()
    verdict, ratio, reason = judge_losses(losses)
    return StepsResult(
        steps=steps, optimizer=optimizer, losses=tuple(losses), verdict=verdict, loss_ratio=ratio, reason=reason
    )


def judge_losses(losses: list[float]) -> tuple[str, float | None, str]:
    """(verdict, final/initial loss, one line) by the protocol's thresholds."""
    if not losses:
        return "trains", None, "no loss measured"
    first, last = losses[0], losses[-1]
    for step, value in enumerate(losses):
        if not math.isfinite(value):
            return "diverges", None, f"loss became {value} after {step} step(s) (started at {first:.4g})"
    ratio = last / first if first > 0 else (1.0 if last == first else math.inf)
    moved = f"loss went from {first:.4g} to {last:.4g} in {len(losses) - 1} step(s) (×{ratio:.3g})"
    if ratio > DIVERGE_RATIO:
        return "diverges", ratio, f"{moved}: more than ×{DIVERGE_RATIO:g}"
    if ratio > STALL_RATIO:
        return "stalls", ratio, f"{moved}: above ×{STALL_RATIO:g}"
    return "trains", ratio, moved
