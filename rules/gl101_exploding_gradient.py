"""Gradients are predicted to explode: some weight's gradient is huge, or it grows by orders of magnitude toward the input.

## What it does
Runs gradlint's static estimate of every weight's gradient RMS under the reference protocol
(random N(0, 1) inputs, a random linear loss; DESIGN §2) and flags the model when the largest
predicted gradient RMS reaches 10^3 or the first weight's gradient is 10^2 above the last's.
The message names the layers whose backward gain contributes most.

## Why is this bad
Exploding gradients make the first SGD/Adam steps overshoot: the loss jumps to Inf/NaN, or the
optimiser spends its first thousands of steps undoing the initial scale. They come from weights
initialised too large for their fan-in (std ≫ 1/sqrt(fan_in)), from deep stacks whose layers each
amplify the backward signal (χ = fan_out·Var(W)·E[φ'²] > 1), and from recurrence (see GL5xx).

## Example
```python
layers = [nn.Linear(256, 256) for _ in range(20)]
for layer in layers:
    nn.init.normal_(layer.weight, std=0.2)   # 3.2× the He scale for fan_in 256
```

## Use instead
Initialise at the critical scale for the activation, and clip gradients as a safety net:
```python
nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, estimate, frozen_mapping

from ._gradients import (
    contributing_layers,
    gain_severity,
    init_fix_code,
    uncertainty_note,
    verdict_evidence,
)
from ._whatif import with_critical_init

CODE = "GL101"
NAME = "exploding-gradient"
SEVERITY = Severity.ERROR
KIND = "exploding-gradient"

# DESIGN §3: an overall norm gain beyond 10^±2 warns, 10^±4 is an error.
ERROR_ORDERS = 4.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, estimates = ctx.graph, ctx.estimates
    if estimates.verdict.verdict != "exploding":
        return
    found = estimates.verdict
    if found.max_weight is None:
        return
    worst = estimates.weight(found.max_weight)
    span = found.span or 0.0
    severe = (found.max_value or 0.0) >= ERROR_ORDERS or span >= ERROR_ORDERS
    layers = contributing_layers(graph, estimates, growing=True)
    after = estimate(with_critical_init(graph)).verdict
    fix = Fix(
        "initialise each layer at the critical scale for its activation (He for ReLU, Xavier for tanh), "
        "and clip the gradient norm while training",
        init_fix_code(graph) + "\ntorch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)",
    )
    growth = f", {span:+.1f} orders from the last weight to the first" if span >= 1 else ""
    yield Hit(
        message=(
            f"gradients are predicted to explode: gradient RMS up to 10^{found.max_value:.1f} at `{found.max_weight}`"
            f"{growth}; largest backward gains at {', '.join(layers) or 'no single layer'}{uncertainty_note(estimates)}"
        ),
        module=worst.module,
        fix=fix,
        severity=gain_severity(severe, estimates),
        evidence=frozen_mapping(verdict_evidence(found, layers, after, "max")),
    )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(8):
            layer = nn.Linear(128, 128)
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)
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
        for _ in range(20):
            layer = nn.Linear(256, 256)
            nn.init.normal_(layer.weight, std=0.2)
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)
""",
        module="net.40",
        says="gradients are predicted to explode",
    ),
]
