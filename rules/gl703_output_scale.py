"""The output head produces values orders of magnitude above 1 at init: saturated softmax, huge first loss.

## What it does
Reads the static estimate's RMS of the model's output (the first tensor it returns) when that
output comes from a Linear/Conv head, and fires when it reaches 10 (an error at 100) and the head
itself amplifies its input at least 3×; an output that is large because the body's activations grew
is left to the gradient rules. The finding's `after_fix` re-estimates with the head's weights scaled
so that it no longer amplifies (output RMS = input RMS).

Severity: a warning; an error when the output RMS reaches 100.

## Why is this bad
Logits with std 10 put a softmax over 10 classes near one-hot at random: the first loss is tens
of nats instead of ln(classes), its gradient is as large, and the first optimiser steps are spent
shrinking the head rather than learning features. A regression output that far off the target's
scale does the same to an MSE loss. Usual causes: a head tied to an `nn.Embedding` left at N(0, 1)
(logit std ≈ √d), `normal_(std=1)` on the head, or activations that grew through the network.

## Example
```python
self.head = nn.Linear(512, 1000)
nn.init.normal_(self.head.weight, std=1.0)      # logit std ≈ √512 ≈ 23
```

## Use instead
```python
nn.init.normal_(self.head.weight, std=0.01)     # or nn.init.zeros_(self.head.weight)
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, LayerNode, RuleContext, Severity, View, frozen_mapping

from ._gains import submodule_expr
from ._whatif import reestimate, scaled, summary, with_params

CODE = "GL703"
NAME = "output-scale"
SEVERITY = Severity.WARNING
KIND = "init-mismatch"

#: One order of magnitude above unit scale warns; DESIGN §3's 10^2 is an error.
WARN_RMS = 10.0
ERROR_RMS = 100.0
#: The head itself must amplify its input this much: an output that is large because the body's
#: activations grew is the gradient rules' finding (GL1xx, GL201, GL303), not the head's.
MIN_HEAD_GAIN = 3.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    output = graph.output_node
    if output is None or not output.inputs:
        return
    y = graph.input_node(output)
    rms = view.forward_rms(y.name) if y is not None else None
    head = _head(view, y)
    if rms is None or head is None or rms < WARN_RMS:
        return
    rms_in = view.forward_rms(head.inputs[0]) if head.inputs else None
    if not rms_in or rms / rms_in < MIN_HEAD_GAIN:
        return
    weight = view.param(head.module, "weight")
    if weight is None:
        return
    factor = rms_in / rms  # the head's own gain brought to 1: its output at its input's scale
    moments = {weight.name: scaled(weight, factor)}
    bias = view.param(head.module, "bias")
    if bias is not None:
        moments[bias.name] = scaled(bias, factor)
    after_estimates = reestimate(with_params(graph, moments))
    std = math.sqrt(max(weight.mean_sq - weight.mean**2, 0.0)) * factor
    head_expr = submodule_expr(head.module or "")
    yield Hit(
        message=(
            f"the model's output (from `{head.module}`) has RMS {rms:.3g} at init, {rms / rms_in:.3g}× the head's input: "
            "a softmax over it is saturated and the first loss and gradients are correspondingly huge"
        ),
        module=head.module,
        fix=Fix(
            f"initialise the head so it does not amplify its input (weight std {std:.3g} here), or at zero",
            f"nn.init.normal_({head_expr}.weight, std={std:.3g})\n# or\nnn.init.zeros_({head_expr}.weight)",
        ),
        severity=Severity.ERROR if rms >= ERROR_RMS else Severity.WARNING,
        evidence=frozen_mapping(
            {
                "output_rms": round(rms, 4),
                "head": head.module,
                "head_gain": round(rms / rms_in, 4),
                "after_fix": {"weight_std": float(f"{std:.4g}"), **summary(after_estimates)},
            }
        ),
    )


def _head(view: View, node: LayerNode | None) -> LayerNode | None:
    """The Linear/Conv that produces the output, through reshapes and dropout."""
    for current in view.graph.upstream(node, limit=8, inclusive=True):
        if current.op == "call_module" and current.role in ("linear", "conv"):
            return current
        if current.role not in ("reshape", "dropout"):
            return None
    return None


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(64, 512)
        self.head = nn.Linear(512, 100)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))
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
        self.body = nn.Linear(64, 512)
        nn.init.kaiming_normal_(self.body.weight, nonlinearity="relu")
        self.head = nn.Linear(512, 100)
        nn.init.normal_(self.head.weight, std=1.0)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))
""",
        module="head",
        says="the model's output",
    ),
]
