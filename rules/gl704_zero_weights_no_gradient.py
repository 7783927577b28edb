"""A layer's weights are all zero and get no gradient: they stay zero forever, and so does everything before them.

## What it does
Finds Linear/Conv layers whose weight is exactly zero at init and whose gradient is exactly zero
too, so no optimizer ever moves them:
- the static estimate finds that no gradient reaches the weight (the layers after it are zero as
  well, or its input is a constant zero);
- or the layer, with a zero or no bias, feeds a ReLU: its pre-activation is exactly 0 everywhere
  and PyTorch takes ReLU′(0) = 0, so its own gradient is zero and the next layer's input is zero.

A zero-initialised layer that does get a gradient — the last layer of a residual branch (Fixup,
SkipInit), a zero-initialised classifier head — is left alone: it moves at the first step. The
finding's `after_fix` re-estimates with the layers initialised for the activation they feed.

## Why is this bad
∂L/∂W = δ·xᵀ: with a zero weight the layer's output is its bias, the gradient it passes back is
Wᵀδ = 0, and its own gradient vanishes as soon as δ or x does. SGD, Adam and weight decay all leave
an exactly-zero weight with an exactly-zero gradient at zero, so the layer and every layer before
it never train; gradlint's gradient verdict leaves such weights out as "blocked", as it does for
deliberate zero gates, so without this rule the model looks healthy. It comes from
`nn.init.zeros_` applied to every layer (a common "safe" init), or a zero init meant for the
output layer applied to a hidden one.

## Example
```python
for module in self.modules():
    if isinstance(module, nn.Linear):
        nn.init.zeros_(module.weight)
        nn.init.zeros_(module.bias)
```

## Use instead
Random weights at the scale of the activation they feed (zeros only for biases, and for the last
layer of a residual branch or the head):
```python
for module in self.modules():
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from gradlint.rulekit import (
    WEIGHT_ROLES,
    Example,
    Fix,
    Hit,
    LayerNode,
    ParamStats,
    RuleContext,
    Severity,
    View,
    fan_in,
    frozen_mapping,
)

from ._gains import recommended_init, submodule_expr
from ._whatif import reestimate, summary, with_params

CODE = "GL704"
NAME = "zero-weights-no-gradient"
SEVERITY = Severity.ERROR
KIND = "dead-units"

#: PyTorch's derivative of these at exactly 0 is 0.
_FLAT_AT_ZERO = frozenset({"relu", "relu6"})
#: fan_in·E[W²] of PyTorch's default init (kaiming_uniform_(a=√5)), for layers that feed no activation.
_DEFAULT_GAIN_SQ = 1.0 / 3.0


@dataclass(frozen=True)
class Stuck:
    layer: LayerNode
    weight: ParamStats
    activation: LayerNode | None
    reason: str


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, estimates = ctx.graph, ctx.estimates
    view = ctx.view
    stuck = stuck_layers(view)
    if not stuck:
        return
    first = stuck[0]
    moments, lines = {}, []
    for found in stuck:
        expr = submodule_expr(found.layer.module or "")
        init = recommended_init(found.activation) if found.activation is not None else None
        if init is None:
            lines.append(f"{expr}.reset_parameters()  # PyTorch's default init")
            gain_sq = _DEFAULT_GAIN_SQ
        else:
            lines.append(init.call.replace("module.", f"{expr}."))
            gain_sq = init.gain_sq
        fans_in = max(fan_in(found.layer, found.weight), 1)
        shape = found.weight.shape
        mean_sq = init.mean_sq(fans_in, shape[0] * math.prod(shape[2:])) if init is not None else gain_sq / fans_in
        moments[found.weight.name] = (0.0, mean_sq)
    after_estimates = reestimate(with_params(graph, moments))
    after_blocked = [w.name for w in after_estimates.weights if w.log10_grad_rms is None]
    names = ", ".join(f"`{s.layer.module}`" for s in stuck)
    yield Hit(
        message=(
            f"{len(stuck)} layer{'s start' if len(stuck) > 1 else ' starts'} ({names}) with all-zero weights and no gradient: "
            f"`{first.layer.module}` {first.reason}. An exactly-zero weight with an exactly-zero gradient stays zero under "
            "SGD, Adam and weight decay, so these layers never train and pass no gradient to the layers before them"
        ),
        module=first.layer.module,
        fix=Fix(
            "initialise the weights randomly at the scale of the activation they feed (keep zeros for biases)",
            "\n".join(lines),
        ),
        evidence=frozen_mapping(
            {
                "layers": [s.layer.module for s in stuck],
                "reasons": {s.layer.module: s.reason for s in stuck},
                "blocked_weights": [w.name for w in estimates.weights if w.log10_grad_rms is None],
                "after_fix": {"blocked_weights": after_blocked, **summary(after_estimates)},
            }
        ),
    )


def stuck_layers(view: View) -> list[Stuck]:
    """Linear/Conv layers with an all-zero weight that no gradient will ever move, in forward order.

    A zero layer that gets a gradient moves at the first step and may unblock the ones behind it (a zero
    head in front of zero residual branches): those are given a nonzero weight and the rest re-estimated,
    until every remaining zero layer is stuck."""
    moved: dict[str, tuple[float, float]] = {}
    while True:
        stuck, moving = [], []
        for node, weight in _zero_layers(view):
            if weight.name in moved:
                continue
            activation = _activation_after(view, node)
            reason = _stuck_reason(view, node, weight, activation)
            if reason is None:
                moving.append((node, weight))
            else:
                stuck.append(Stuck(node, weight, activation, reason))
        if not stuck or not moving:
            return stuck
        for node, weight in moving:
            moved[weight.name] = (0.0, _DEFAULT_GAIN_SQ / max(fan_in(node, weight), 1))
        graph = with_params(view.graph, moved)
        view = View(graph, reestimate(graph))


def _zero_layers(view: View) -> list[tuple[LayerNode, ParamStats]]:
    found = []
    for node in view.graph.nodes:
        if node.op != "call_module" or node.role not in WEIGHT_ROLES or node.call_index:
            continue
        weight = view.param(node.module, "weight")
        if weight is not None and weight.mean_sq == 0:
            found.append((node, weight))
    return found


def _stuck_reason(view: View, node: LayerNode, weight: ParamStats, activation: LayerNode | None) -> str | None:
    bias = view.param(node.module, "bias")
    if activation is not None and activation.activation in _FLAT_AT_ZERO and (bias is None or bias.mean_sq == 0):
        # the pre-activation stays exactly 0 whatever the input, and so do the weight's and the bias's gradients
        return f"outputs exactly 0 into a {activation.activation}, whose derivative PyTorch takes as 0 at 0"
    gradient = view.estimates.weights_by_name.get(weight.name) if view.estimates else None
    if gradient is not None and gradient.log10_grad_rms is None:
        return "gets no gradient from the layers after it (they are zero too, or its input is a constant 0)"
    return None


def _activation_after(view: View, node: LayerNode) -> LayerNode | None:
    """The activation the layer's output goes into, through dropout and reshapes."""
    for user in view.graph.downstream(node, limit=4):
        if user.role == "activation":
            return user
        if user.role not in ("dropout", "reshape"):
            return None
    return None


VALID = [
    """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1 = nn.Linear(d, d)
        self.fc2 = nn.Linear(d, d)
        nn.init.zeros_(self.fc2.weight)   # SkipInit-style: the branch starts as the identity
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(32), Block(32))
        self.head = nn.Linear(32, 10)
        nn.init.zeros_(self.head.weight)

    def forward(self, x):
        return self.head(self.blocks(x))

EXAMPLE_INPUTS = (torch.randn(8, 32),)
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
        self.net = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
        for module in self.net:
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        return self.net(x)
""",
        module="net.0",
        says="with all-zero weights and no gradient",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 64)
        self.fc2 = nn.Linear(64, 10)
        nn.init.zeros_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
""",
]
