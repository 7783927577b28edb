"""`torch.where(cond, f(x), y)` with `f` singular where `cond` is false: the discarded branch still sends NaN back.

## What it does
Finds `torch.where` and `masked_fill` in `forward` one of whose value branches is computed (through
views and elementwise arithmetic) by an op with an infinite derivative at 0 — `log`, `sqrt`,
`rsqrt`, `reciprocal`, `pow(x, p<1)`, or a division by a computed tensor — whose operand is not kept
away from 0 (no eps, clamp, or the masked operand of a double where).

## Why is this bad
`where` selects values in the forward pass, but the backward pass still runs through both branches:
the discarded one receives a gradient of exactly 0, and 0 times its op's derivative is 0·inf = NaN
at the very points the mask was written to avoid (x = 0 for `log(x)`, `1/x`, `sqrt(x)`; x < 0 makes
`sqrt` and `log` NaN already in the forward). `torch.where(x > 0, torch.log(x), 0)` has a finite
output and a NaN gradient wherever x = 0, and the NaN reaches every weight at the next step.

## Example
```python
y = torch.where(x > 0, torch.log(x), torch.zeros_like(x))
inv = torch.where(x != 0, 1 / x, 0.0)
```

## Use instead
Mask the op's input too (the "double where"), so the discarded branch is evaluated at a harmless value:
```python
safe = torch.where(x > 0, x, torch.ones_like(x))
y = torch.where(x > 0, torch.log(safe), torch.zeros_like(x))
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, LayerNode, RuleContext, Severity, View, frozen_mapping

from ._ops import DIVIDE, masked_singular_ops, scalar_values

CODE = "GL606"
NAME = "where-nan-branch"
SEVERITY = Severity.WARNING
KIND = "unstable-op"

_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "ne": "!=", "eq": "=="}


def check(ctx: RuleContext) -> Iterator[Hit]:
    view = ctx.view
    for singular, mask in masked_singular_ops(view).values():
        op = singular.node
        what = "a division by x" if op.target in DIVIDE else f"`{op.target}`"
        yield Hit(
            message=(
                f"`{mask.target}` keeps {what} only where its condition holds, but the backward pass still runs through "
                f"the discarded entries: their gradient 0 times the derivative {singular.derivative} is 0·inf = NaN where "
                "x = 0, and the NaN reaches the weights"
            ),
            module=op.module,
            location=op.location,
            fix=Fix(
                "mask the op's input as well (the double where), so the discarded entries are computed at a harmless value",
                _double_where(op, mask, view),
            ),
            evidence=frozen_mapping(
                {"op": op.name, "mask": mask.name, "operand": singular.operand.name if singular.operand else None}
            ),
        )


def _double_where(op: LayerNode, mask: LayerNode, view: View) -> str:
    """The fixed code: the op applied to a masked copy of its operand, under the same condition."""
    target = op.target.rstrip("_")
    if op.target in DIVIDE:
        applied = "a / safe"
    elif target in ("pow", "float_power", "__pow__"):
        applied = "safe.pow(p)"
    else:
        applied = f"torch.{target}(safe)"
    if mask.target.startswith("masked_fill"):
        return f"safe = x.masked_fill(mask, 1.0)\ny = ({applied}).masked_fill(mask, 0.0)"
    condition = _condition(view.input_node(mask))
    return f"safe = torch.where({condition}, x, torch.ones_like(x))\ny = torch.where({condition}, {applied}, torch.zeros_like(x))"


def _condition(node: LayerNode | None) -> str:
    """``x > 0`` for a comparison with a constant, else ``cond``."""
    values = scalar_values(node) if node is not None else []
    symbol = _SYMBOLS.get(node.target) if node is not None else None
    return f"x {symbol} {values[0]:g}" if symbol and values else "cond"


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = torch.relu(self.fc(x))
        safe = torch.where(h > 0, h, torch.ones_like(h))
        logs = torch.where(h > 0, torch.log(safe), torch.zeros_like(h))
        inverse = torch.where(h != 0, 1 / torch.where(h != 0, h, 1.0), 0.0)
        return logs + inverse
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
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = torch.relu(self.fc(x))
        return torch.where(h > 0, torch.log(h), torch.zeros_like(h))
""",
        says="`where` keeps `log`",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = self.fc(x)
        return torch.where(h != 0, 1 / h, 0.0)
""",
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x, pad):
        h = self.fc(x)
        norm = h.norm(dim=-1, keepdim=True)
        return (h / norm).masked_fill(pad, 0.0)

EXAMPLE_INPUTS = (torch.randn(4, 16), torch.zeros(4, 1, dtype=torch.bool))
""",
]
