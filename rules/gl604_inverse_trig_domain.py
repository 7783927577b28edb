"""`acos`/`asin` of a value that reaches ±1, or `atan2`, whose gradients are infinite or NaN at the domain edge.

## What it does
Finds `acos`/`asin` (`arccos`/`arcsin`) in `forward` whose input is not clamped strictly inside
(-1, 1), and `atan2` with no eps on either operand.

## Why is this bad
d acos(x)/dx = -1/√(1 - x²) is infinite at x = ±1, and a cosine similarity of a vector with itself
(or of two parallel vectors) is exactly 1 up to rounding — or slightly above, which makes the forward
NaN. `atan2(y, x)` has gradient (x, -y)/(x² + y²): NaN at (0, 0), which padded or masked inputs hit.
Angular losses (ArcFace, geodesic distances) are the usual place.

## Example
```python
cos = F.cosine_similarity(a, b, dim=-1)
angle = torch.acos(cos)
```

## Use instead
```python
angle = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
angle = torch.atan2(y, x + 1e-12)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, LayerNode, RuleContext, Severity, View, frozen_mapping

from ._ops import CLAMPS, has_floor, scalar_values, through_views

CODE = "GL604"
NAME = "inverse-trig-domain"
SEVERITY = Severity.WARNING
KIND = "unstable-op"

_INVERSE = frozenset({"acos", "asin", "arccos", "arcsin", "acos_", "asin_"})
_ATAN2 = frozenset({"atan2", "arctan2", "atan2_"})
#: Clamp bounds inside (-LIMIT, LIMIT) keep acos/asin's derivative finite.
LIMIT = 1.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for node in graph.nodes:
        if node.op != "call_function" or not node.inputs:
            continue
        if node.target in _INVERSE and not _clamped_inside(view, view.input_node(node)):
            yield Hit(
                message=(
                    f"`{node.target}` of a value not clamped inside (-1, 1): its derivative ∓1/√(1 - x²) is infinite "
                    "at ±1, which a cosine similarity reaches for parallel vectors (and passes by rounding, giving NaN)"
                ),
                module=node.module,
                location=node.location,
                fix=Fix(
                    "clamp the argument strictly inside (-1, 1)", f"torch.{node.target}(x.clamp(-1 + 1e-7, 1 - 1e-7))"
                ),
                evidence=frozen_mapping({"op": node.name}),
            )
        elif node.target in _ATAN2 and not any(
            has_floor(view, view.input_node(node, i)) for i in range(len(node.inputs))
        ):
            yield Hit(
                message="`atan2(y, x)` has gradient (x, -y)/(x² + y²): NaN where both operands are 0 (padding, masked or dead units)",
                module=node.module,
                location=node.location,
                fix=Fix("keep the operands off (0, 0) with an eps", "torch.atan2(y, x + 1e-12)"),
                evidence=frozen_mapping({"op": node.name}),
            )


def _clamped_inside(view: View, node: LayerNode | None) -> bool:
    node = through_views(view, node)
    if node is None or node.target not in CLAMPS:
        return False
    low, high = node.attrs.get("min"), node.attrs.get("max")
    values = scalar_values(node)
    if low is None and values:
        low = values[0]
    if high is None and len(values) > 1:
        high = values[1]
    return isinstance(low, int | float) and isinstance(high, int | float) and low > -LIMIT and high < LIMIT


VALID = [
    """
import torch
from torch import nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        cos = F.normalize(self.fc(x), dim=-1)
        return torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        cos = F.normalize(self.fc(x), dim=-1)
        return torch.acos(cos)
""",
        says="`acos` of a value not clamped",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        h = torch.relu(self.fc(x))
        return torch.atan2(h[:, :1], h[:, 1:])
""",
]
