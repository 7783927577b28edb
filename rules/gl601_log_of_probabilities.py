"""`log(softmax(x))` or `log(sigmoid(x))` in forward: the probability underflows to 0 and its log to -inf.

## What it does
Finds `log` applied directly (through reshapes only) to the output of `softmax` or `sigmoid`.

## Why is this bad
A softmax or sigmoid output underflows to exactly 0 in float32 once the logit gap passes ~104
(~17 in float16). `log(0)` is -inf in the forward pass and its gradient `1/p` is inf, which turns
into NaN in every weight after the next step. `log_softmax` and `logsigmoid` compute the same
values as `x - logsumexp(x)` and `-softplus(-x)`: finite for every input, with gradients bounded
by 1.

## Example
```python
log_probs = torch.log(torch.softmax(logits, dim=-1))
```

## Use instead
```python
log_probs = torch.log_softmax(logits, dim=-1)
log_p = F.logsigmoid(logits)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, View, frozen_mapping

from ._ops import through_views

CODE = "GL601"
NAME = "log-of-probabilities"
SEVERITY = Severity.WARNING
KIND = "unstable-op"

_LOGS = frozenset({"log", "log_", "log2", "log10"})


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = View(graph, None)
    for node in graph.nodes:
        if node.op != "call_function" or node.target not in _LOGS:
            continue
        source = through_views(view, view.input_node(node))
        if source is None:
            continue
        if source.role == "softmax" and source.target not in ("log_softmax", "_log_softmax"):
            dim = source.attrs.get("dim", -1)
            fix = Fix(
                "compute the log-probabilities with `log_softmax` (x - logsumexp(x), finite for every input)",
                f"log_probs = torch.log_softmax(logits, dim={dim})",
            )
            what = "softmax"
        elif source.activation == "sigmoid":
            fix = Fix("use `F.logsigmoid(x)` (= -softplus(-x), finite for every input)", "log_p = F.logsigmoid(logits)")
            what = "sigmoid"
        else:
            continue
        yield Hit(
            message=(
                f"`log({what}(x))`: the {what} underflows to exactly 0 once the logits are large enough "
                "(~104 apart in float32, ~17 in float16), making the log -inf and its gradient 1/p infinite"
            ),
            module=node.module,
            location=node.location,
            fix=fix,
            evidence=frozen_mapping({"op": node.name, "input": source.name}),
        )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return torch.log_softmax(self.fc(x), dim=-1)
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
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return torch.log(torch.softmax(self.fc(x), dim=-1))
""",
        says="`log(softmax(x))`",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x)).log()
""",
]
