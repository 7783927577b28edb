"""Weights whose predicted gradient is below the adaptive optimizer's eps: their updates shrink to lr·g/eps and they stay frozen.

## What it does
Reads the training check (DESIGN §2b) for the configured optimizer, else the documented default
(AdamW, lr 1e-3, eps 1e-8). For Adam, AdamW and RMSprop it lists the weights whose predicted gradient
RMS at init, under the training protocol's MSE loss (after any `clip_grad_norm_`), is below the
optimizer's `eps`, and gives the `eps` to use: a tenth of the smallest such gradient, rounded down to a
power of ten. SGD has no `eps` and is never flagged.

## Why is this bad
Adam's step is `lr·m/(√v + eps)`. While `|g| ≫ eps` that is about `lr` per element whatever the
gradient's scale, which is why Adam trains models whose gradients vanish; once `|g| < eps` the
denominator is `eps` and the step becomes `lr·g/eps`, a small fraction of a normal step. With
`eps = 1e-8` a weight whose gradient is 1e-10 moves 100 times slower than Adam's usual pace: those
layers look trained by Adam and are in fact frozen, the symptom of a vanishing gradient that Adam
would otherwise have hidden.

## Example
```python
model = DeepTanhMLP()          # gradients of 1e-11 at the first layers
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
```

## Use instead
A smaller `eps` (or fix the vanishing gradient itself, e.g. with the init the activation needs):
```python
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, eps=1e-13)
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, frozen_mapping

CODE = "GL103"
NAME = "gradient-below-adam-eps"
SEVERITY = Severity.WARNING
KIND = "optimizer"

_ADAPTIVE = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, training = ctx.graph, ctx.estimates.training
    if training is None or training.optimizer.name not in _ADAPTIVE or training.optimizer.eps is None:
        return
    frozen = [w for w in training.weights if w.below_eps and w.grad_rms is not None and w.grad_rms > 0]
    if not frozen:
        return
    opt = training.optimizer
    eps = opt.eps
    smallest = min(w.grad_rms for w in frozen)  # type: ignore[type-var]
    suggested = recommended_eps(smallest)
    first = frozen[0]
    module = next((w.module for w in graph.weights if w.name == first.name), None)
    names = ", ".join(f"`{w.name}`" for w in frozen[:3]) + (f" and {len(frozen) - 3} more" if len(frozen) > 3 else "")
    optimizer = _ADAPTIVE[opt.name]
    which = "the default optimizer " if opt.default else ""
    yield Hit(
        message=(
            f"{len(frozen)} of {len(training.weights)} weights ({names}) get predicted gradients below "
            f"{which}{optimizer}'s eps {eps:g} (smallest RMS {smallest:.2g}): their steps shrink to lr·g/eps, "
            f"down to {smallest / (smallest + eps):.2g} of a normal {optimizer} step, so they stay frozen; "
            f"use eps={suggested:g} or fix the vanishing gradient"
        ),
        module=module,
        fix=Fix(
            f"set {optimizer}'s eps below the smallest predicted gradient (a tenth of it), or fix the init that makes it vanish",
            f"torch.optim.{optimizer}(model.parameters(), lr={opt.lr:g}, eps={suggested:g})",
        ),
        evidence=frozen_mapping(
            {
                "optimizer": opt.name,
                "eps": eps,
                "recommended_eps": suggested,
                "smallest_grad_rms": smallest,
                "weights": [w.name for w in frozen],
                "default_optimizer": opt.default,
            }
        ),
    )


def recommended_eps(smallest_grad_rms: float) -> float:
    """A tenth of the smallest gradient, rounded down to a power of ten."""
    return 10.0 ** math.floor(math.log10(smallest_grad_rms) - 1.0)


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)

EXAMPLE_INPUTS = (torch.randn(16, 32),)
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(8):
            layer = nn.Linear(64, 64)
            nn.init.normal_(layer.weight, std=0.01)   # far below 1/sqrt(64): every layer shrinks the gradient
            layers += [layer, nn.Tanh()]
        self.net = nn.Sequential(*layers, nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)

EXAMPLE_INPUTS = (torch.randn(16, 64),)
""",
        module="net.0",
        says="below the default optimizer AdamW's eps 1e-08",
    ),
]
