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
from typing import Any

from gradlint.rulekit import Fix, Hit, ModelGraph
from gradlint.rules._graphs import View
from gradlint.rules._ops import has_floor, scalar_values, through_views
from gradlint.types import LayerNode, Severity, frozen_mapping

CODE = "GL602"
NAME = "singular-at-zero"
SEVERITY = Severity.WARNING
KIND = "unstable-op"

#: The eps the fixes suggest: far below float32 resolution of typical values, above its smallest normal.
EPS = "1e-12"
_LOGS = frozenset({"log", "log_", "log2", "log10"})
_POWS = frozenset({"pow", "pow_", "__pow__", "float_power"})


def check(graph: ModelGraph, estimates: Any) -> Iterator[Hit]:
    view = View(graph, estimates)
    for node in graph.nodes:
        if node.op != "call_function" or not node.inputs:
            continue
        described = _describe(view, node)
        if described is None:
            continue
        source = view.input_node(node)
        if has_floor(view, source) or not _carries_signal(view, source):
            continue
        derivative, code = described
        yield Hit(
            message=(
                f"`{node.target}` of a value that can be exactly 0 (no eps or clamp before it): its derivative "
                f"{derivative} is infinite at 0, so one zero entry (padding, an all-zero row, a dead ReLU) makes the "
                "gradient inf and the weights NaN"
            ),
            module=node.module,
            location=node.location,
            fix=Fix(f"keep the input away from 0 with an eps ({EPS}; 1e-6 under float16)", code),
            evidence=frozen_mapping({"op": node.name, "input": source.name if source is not None else None}),
        )


def _describe(view: View, node: LayerNode) -> tuple[str, str] | None:
    """(the derivative, the fixed code) for an op singular at 0, or None."""
    target = node.target
    if target in ("sqrt", "sqrt_"):
        return "1/(2√x)", f"torch.sqrt(x + {EPS})"
    if target in ("rsqrt", "rsqrt_"):
        return "-1/(2·x^1.5)", f"torch.rsqrt(x + {EPS})"
    if target in ("reciprocal", "reciprocal_"):
        return "-1/x²", f"1.0 / x.clamp_min({EPS})"
    if target in _LOGS:
        source = through_views(view, view.input_node(node))
        if source is not None and (source.role == "softmax" or source.activation == "sigmoid"):
            return None  # GL601
        return "1/x", f"torch.{target}(x.clamp_min({EPS}))"
    if target in _POWS:
        values = scalar_values(node)
        exponent = values[0] if values else node.attrs.get("exponent")
        if not isinstance(exponent, int | float) or exponent >= 1 or exponent == 0:
            return None
        return f"{exponent:g}·x^({exponent - 1:g})", f"(x + {EPS}).pow({exponent:g})"
    return None


def _carries_signal(view: View, node: LayerNode | None) -> bool:
    """A value computed from the inputs (not a constant, a size or a stored tensor)."""
    if node is None or node.op == "get_attr":
        return False
    if view.estimates is None:
        return True
    rms = view.forward_rms(node.name)
    return rms is None or rms > 0


VALID = [
    '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = self.fc(x)
        return h / torch.sqrt(h.pow(2).mean(dim=-1, keepdim=True) + 1e-6)
''',
]

INVALID = [
    '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        h = torch.relu(self.fc(x))
        return torch.sqrt((h * h).sum(dim=-1, keepdim=True))
''',
    '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        return torch.log(torch.relu(self.fc(x))).mean(dim=-1)
''',
]
