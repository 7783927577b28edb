"""A softmax or logsumexp written by hand with `exp` and no max-subtraction: overflows to inf/NaN.

## What it does
Finds `exp(x)` in `forward` whose result is summed and then divides the exponentials
(`exp(x) / exp(x).sum()`, a hand-written softmax) or goes into a `log` (`log(exp(x).sum())`, a
hand-written logsumexp), when `x` is not shifted by its maximum first.

## Why is this bad
`exp` overflows float32 at x ≈ 88.7 (float16 at ≈ 11): one large logit makes the sum inf and the
softmax inf/inf = NaN, forward and backward. Subtracting the row maximum leaves the result unchanged
and keeps every exponential in (0, 1]; `torch.softmax` and `torch.logsumexp` do it internally.

## Example
```python
weights = torch.exp(scores) / torch.exp(scores).sum(dim=-1, keepdim=True)
```

## Use instead
```python
weights = torch.softmax(scores, dim=-1)
lse = torch.logsumexp(scores, dim=-1)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, LayerNode, RuleContext, Severity, View, frozen_mapping

from ._ops import DIVIDE, VIEWS, through_views

CODE = "GL605"
NAME = "unstabilized-exp"
SEVERITY = Severity.WARNING
KIND = "unstable-op"

_SUBTRACT = frozenset({"sub", "__sub__", "sub_"})
_MAXIMA = frozenset({"max", "amax", "logsumexp"})
_REDUCE = frozenset({"sum", "mean"})
_LOGS = frozenset({"log", "log_"})


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for node in graph.nodes:
        if node.op != "call_function" or node.target not in ("exp", "exp_") or _shifted(view, node):
            continue
        kind = _use(view, node)
        if kind is None:
            continue
        code = "torch.softmax(x, dim=-1)" if kind == "softmax" else "torch.logsumexp(x, dim=-1)"
        yield Hit(
            message=(
                f"a hand-written {kind} (`exp` then a sum) without subtracting the maximum: `exp` overflows at "
                "x ≈ 88.7 in float32 (≈ 11 in float16), and one overflow makes the result inf/NaN forward and backward"
            ),
            module=node.module,
            location=node.location,
            fix=Fix(
                f"use `torch.{kind}`, which subtracts the maximum internally (or `x - x.amax(dim, keepdim=True)` first)",
                code,
            ),
            evidence=frozen_mapping({"op": node.name, "pattern": kind}),
        )


def _shifted(view: View, exp: LayerNode) -> bool:
    """``exp(x - x.max(...))``: the argument is a difference whose subtrahend is a maximum."""
    source = through_views(view, view.input_node(exp))
    if source is None or source.target not in _SUBTRACT or len(source.inputs) < 2:
        return False
    subtrahend = through_views(view, view.input_node(source, 1))
    return subtrahend is not None and (
        subtrahend.target in _MAXIMA or subtrahend.target == "getitem" and _is_max(view, subtrahend)
    )


def _is_max(view: View, node: LayerNode) -> bool:
    """``x.max(dim).values``: a getitem of a max."""
    source = view.input_node(node)
    return source is not None and source.target in _MAXIMA


def _use(view: View, exp: LayerNode) -> str | None:
    """``softmax`` when exp(x) is divided by its own sum, ``logsumexp`` when the sum goes into a log."""
    for user in _users(view, exp):
        if user.target not in _REDUCE:
            continue
        for consumer in _users(view, user):
            if consumer.target in _LOGS:
                return "logsumexp"
            if consumer.target in DIVIDE:
                return "softmax"
    return None


def _users(view: View, node: LayerNode) -> list[LayerNode]:
    """Consumers of ``node``'s value, looking through views."""
    found, pending = [], list(view.consumers.get(node.name, []))
    while pending:
        user = pending.pop()
        if user.target in VIEWS:
            pending.extend(view.consumers.get(user.name, []))
        else:
            found.append(user)
    return found


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        s = self.fc(x)
        e = torch.exp(s - s.amax(dim=-1, keepdim=True))
        return e / e.sum(dim=-1, keepdim=True)
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
        e = torch.exp(self.fc(x))
        return e / e.sum(dim=-1, keepdim=True)
""",
        says="without subtracting the maximum",
    ),
]
