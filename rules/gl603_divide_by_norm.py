"""Division by a norm or standard deviation with no eps: `x / x.norm()` is 0/0 for a zero vector.

## What it does
Finds divisions in `forward` whose divisor is (through reshapes) a `norm`, `torch.linalg.vector_norm`
or `std` of a value that carries a gradient, with no `+ eps` or `clamp(min=eps)` in between.

## Why is this bad
For an all-zero row the quotient is 0/0 = NaN in the forward pass, and the norm's own gradient
x/‖x‖ is NaN at 0 as well; a row with a tiny norm gives huge gradients long before that. Zero rows
are common: padding, masked positions, a dead ReLU layer, a constant feature map. `F.normalize`
clamps the norm with an eps for exactly this reason.

## Example
```python
unit = h / h.norm(dim=-1, keepdim=True)
z = (x - x.mean(0)) / x.std(0)
```

## Use instead
```python
unit = F.normalize(h, dim=-1, eps=1e-12)
z = (x - x.mean(0)) / (x.std(0) + 1e-5)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, frozen_mapping

from ._ops import DIVIDE, NORMS, has_floor, masked_singular_ops, through_views

CODE = "GL603"
NAME = "divide-by-norm"
SEVERITY = Severity.WARNING
KIND = "unstable-op"


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    masked = masked_singular_ops(view)
    for node in graph.nodes:
        if node.op != "call_function" or node.target not in DIVIDE or len(node.inputs) < 2 or node.name in masked:
            continue  # a division in a where branch is GL606's
        divisor = view.input_node(node, 1)
        if has_floor(view, divisor):
            continue
        source = through_views(view, divisor)
        if source is None or source.target not in NORMS:
            continue
        dim = source.attrs.get("dim")
        dim_text = f"dim={dim}" if dim is not None else "dim=-1"
        if source.target == "std":
            fix = Fix(
                "add an eps to the standard deviation",
                f"(x - x.mean({dim_text}, keepdim=True)) / (x.std({dim_text}, keepdim=True) + 1e-5)",
            )
            what = "standard deviation"
        else:
            fix = Fix(
                "use `F.normalize`, which clamps the norm with an eps, or clamp it yourself",
                f"F.normalize(x, {dim_text}, eps=1e-12)\n# or\nx / x.norm({dim_text}, keepdim=True).clamp_min(1e-12)",
            )
            what = "norm"
        yield Hit(
            message=(
                f"division by a {what} (`{source.target}`) with no eps: an all-zero row gives 0/0 = NaN, and rows with a "
                f"tiny {what} give huge gradients"
            ),
            module=node.module,
            location=node.location,
            fix=fix,
            evidence=frozen_mapping({"op": node.name, "divisor": source.name}),
        )


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
        h = self.fc(x)
        return F.normalize(h, dim=-1) + h / (h.norm(dim=-1, keepdim=True) + 1e-6)
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
        h = self.fc(x)
        return h / h.norm(dim=-1, keepdim=True)
""",
        says="division by a norm",
    ),
]
