"""A layer feeding a ReLU starts with biases so negative that most of its units never fire.

## What it does
For every Linear/Conv (and affine normalization) layer whose output goes into a ReLU, estimates the
spread of its pre-activation without the bias (the static estimate's forward RMS of the layer, the
bias's share taken out) and, from the bias's mean and variance, the fraction of units whose bias
lies below -3 pre-activation standard deviations: units that are off for 99.9 % of inputs. It fires
when the biases are negative on average and at least a quarter of the units are dead; 90 % is an
error. The finding's `after_fix` re-estimates with the biases at zero.

Severity: a warning; an error when at least 90% of the layer's units are dead at init.

## Why is this bad
A ReLU unit whose pre-activation is always negative outputs 0 and passes no gradient, to its
weights or to anything before it: it never recovers. A negative constant bias init
(`bias.fill_(-1)` to "sparsify", or a copied bias from another scale) can kill most of a layer
before the first step, wasting its width and shrinking the gradient to the layers below.

## Example
```python
self.fc = nn.Linear(256, 256)
nn.init.constant_(self.fc.bias, -3.0)      # the pre-activation std is ~0.6
```

## Use instead
```python
nn.init.zeros_(self.fc.bias)               # or a small positive value, 0.01, for ReLU
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from gradlint.rulekit import (
    Example,
    Fix,
    Hit,
    LayerNode,
    ParamStats,
    RuleContext,
    Severity,
    View,
    frozen_mapping,
)

from ._gains import submodule_expr
from ._whatif import reestimate, summary, with_params

CODE = "GL701"
NAME = "dead-units"
SEVERITY = Severity.WARNING
KIND = "dead-units"

#: A unit whose bias is below -k pre-activation standard deviations is off for all but 1 - Φ(k) of inputs.
DEAD_SIGMAS = 3.0
WARN_FRACTION = 0.25
ERROR_FRACTION = 0.9
RELU_FAMILY = frozenset({"relu", "relu6"})


@dataclass(frozen=True)
class Dead:
    layer: LayerNode
    bias: ParamStats
    spread: float
    """Std of the pre-activation without the bias."""
    fraction: float


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for node in graph.nodes:
        found = _dead(view, node)
        if found is None or found.fraction < WARN_FRACTION:
            continue
        fixed = with_params(graph, {found.bias.name: (0.0, 0.0)})
        after_estimates = reestimate(fixed)
        after = _dead(View(fixed, after_estimates), node)
        yield Hit(
            message=(
                f"{found.fraction:.0%} of the units of `{node.module}` are dead at init: its bias averages "
                f"{found.bias.mean:+.3g} (std {_std(found.bias):.3g}) against a pre-activation spread of {found.spread:.3g}, "
                f"so those units sit more than {DEAD_SIGMAS:g} standard deviations below the ReLU's threshold and pass "
                "no gradient"
            ),
            module=node.module,
            fix=Fix(
                "initialise the bias at zero (or a small positive value for ReLU)",
                f"nn.init.zeros_({submodule_expr(node.module or '')}.bias)",
            ),
            severity=Severity.ERROR if found.fraction >= ERROR_FRACTION else Severity.WARNING,
            evidence=frozen_mapping(
                {
                    "dead_fraction": round(found.fraction, 4),
                    "bias_mean": round(found.bias.mean, 5),
                    "bias_std": round(_std(found.bias), 5),
                    "pre_activation_std": round(found.spread, 5),
                    "after_fix": {
                        "bias": 0.0,
                        "dead_fraction": 0.0 if after is None else round(after.fraction, 4),
                        **summary(after_estimates),
                    },
                }
            ),
        )


def _dead(view: View, node: LayerNode) -> Dead | None:
    if node.op != "call_module" or node.role not in ("linear", "conv", "normalization") or node.call_index:
        return None
    if not _feeds_relu(view, node):
        return None
    bias = view.param(node.module, "bias")
    rms = view.forward_rms(node.name)
    if bias is None or rms is None or bias.mean >= 0:
        return None
    spread = math.sqrt(max(rms * rms - bias.mean_sq, 0.0))
    threshold = -DEAD_SIGMAS * spread
    if bias.mean > -spread:
        return None  # not negative enough to be a deliberate (or mistaken) negative init
    std = _std(bias)
    if std <= 1e-12:
        fraction = 1.0 if bias.mean < threshold else 0.0
    else:
        fraction = 0.5 * math.erfc(-(threshold - bias.mean) / (std * math.sqrt(2.0)))
    return Dead(node, bias, spread, fraction)


def _feeds_relu(view: View, node: LayerNode) -> bool:
    for user in view.graph.downstream(node, limit=4):
        if user.role == "activation":
            return user.activation in RELU_FAMILY
        if user.role not in ("dropout", "reshape"):
            return False
    return False


def _std(stats: ParamStats) -> float:
    return math.sqrt(max(stats.mean_sq - stats.mean * stats.mean, 0.0))


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 64)
        nn.init.constant_(self.fc.bias, 0.01)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(torch.relu(self.fc(x)))
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
        self.fc = nn.Linear(64, 64)
        nn.init.constant_(self.fc.bias, -3.0)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(torch.relu(self.fc(x)))
""",
        module="fc",
        says="are dead at init",
    ),
]
