"""`sqrt`, `log`, `rsqrt` or `pow(x, p<1)` of a value that can be exactly 0, with no eps or clamp in front.

## What it does
Finds `sqrt`, `rsqrt`, `log`/`log2`/`log10`, `reciprocal` and `pow` with an exponent below 1 in
`forward` whose input is not kept away from zero: no `+ eps` (a positive constant or a stored eps
tensor), no `clamp(min=eps)`, and not the output of an always-positive op (`exp`, `softplus`).
Inputs that carry no gradient (constants, sizes) are left alone; `log` of a softmax or sigmoid is
GL601's.

## Why is this bad
Each of these ops has an infinite derivative at 0: d√x/dx = 1/(2√x), d log x/dx = 1/x,
d x^p/dx = p·x^(p-1). A single exact zero — a padded token, an all-zero feature row, a dead ReLU,
`x - x.mean()` of a constant row — sends an inf into the backward pass, and inf·0 = NaN spreads to
every weight at the next step. It usually appears mid-training, long after the code was written.

## Example
```python
length = torch.sqrt((x * x).sum(dim=-1))     # 0 for an all-zero row
```

## Use instead
```python
length = torch.sqrt((x * x).sum(dim=-1) + 1e-12)
length = torch.linalg.vector_norm(x, dim=-1)   # its gradient at 0 is defined
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, frozen_mapping

from ._ops import EPS, carries_signal, has_floor, masked_singular_ops, singular_at_zero

CODE = "GL602"
NAME = "singular-at-zero"
SEVERITY = Severity.WARNING
KIND = "unstable-op"


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    masked = masked_singular_ops(view)
    for node in graph.nodes:
        found = singular_at_zero(view, node)
        if found is None or node.name in masked:
            continue  # GL606: the op sits in a where branch, whose fix differs
        source = found.operand
        if has_floor(view, source) or not carries_signal(view, source):
            continue
        yield Hit(
            message=(
                f"`{node.target}` of a value that can be exactly 0 (no eps or clamp before it): its derivative "
                f"{found.derivative} is infinite at 0, so one zero entry (padding, an all-zero row, a dead ReLU) makes the "
                "gradient inf and the weights NaN"
            ),
            module=node.module,
            location=node.location,
            fix=Fix(f"keep the input away from 0 with an eps ({EPS}; 1e-6 under float16)", found.fixed),
            evidence=frozen_mapping({"op": node.name, "input": source.name if source is not None else None}),
        )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = self.fc(x)
        return h / torch.sqrt(h.pow(2).mean(dim=-1, keepdim=True) + 1e-6)
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
        return torch.sqrt((h * h).sum(dim=-1, keepdim=True))
""",
        says="`sqrt` of a value that can be exactly 0",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        return torch.log(torch.relu(self.fc(x))).mean(dim=-1)
""",
]
