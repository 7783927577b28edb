"""A deep stack of sigmoid/tanh layers runs in the saturated part of its activation: every layer throttles the gradient.

## What it does
Follows every run of Linear/Conv layers in series and evaluates, for each bounded activation between
them (sigmoid, tanh, hardtanh, softsign, hardsigmoid), the mean squared slope E[φ'(√q z)²] at the
layer's predicted pre-activation second moment q (DESIGN §3). It flags a run in which at least three
such activations keep less than 1/4 of the gradient variance each (half of its norm) and the whole
run shrinks the gradient norm by at least 10×. The finding's `after_fix` is the static estimate re-run
with those activations replaced by ReLU under He init.

Severity: a warning; an error when the gradient-norm factor across the run reaches 10^-4 (DESIGN §3).

## Why is this bad
A bounded activation's slope is at most φ'(0) — 1/4 for sigmoid — and falls further as the
pre-activations grow: E[tanh'²] is 0.46 at unit variance and 0.2 at variance 4. Unlike a
mis-scaled init this cannot be undone by larger weights: they push the pre-activations further
into the flat tails. Twenty sigmoid layers shrink the gradient by ~10^-12: the classic network
that does not train (Glorot & Bengio 2010).

## Example
```python
layers = []
for _ in range(12):
    layers += [nn.Linear(128, 128), nn.Sigmoid()]
self.net = nn.Sequential(*layers, nn.Linear(128, 1))
```

## Use instead
A non-saturating activation with He init in the hidden layers (keep sigmoid for outputs and gates),
or a normalization layer before each activation:
```python
layers = []
for _ in range(12):
    layers += [nn.Linear(128, 128), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(128, 1))
for m in self.net:
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from gradlint.rulekit import (
    BOUNDED_ACTIVATIONS,
    Chain,
    Estimates,
    Example,
    Fix,
    Hit,
    LayerNode,
    ModelGraph,
    RuleContext,
    Severity,
    View,
    fan_in,
    frozen_mapping,
    module_span,
)

from ._gains import chain_gains, common_scope, in_scope, init_snippet
from ._whatif import reestimate, summary, with_nodes, with_params

CODE = "GL202"
NAME = "saturating-activation-stack"
SEVERITY = Severity.WARNING
KIND = "saturation"

#: E[φ'²] below this keeps less than half of the gradient norm per activation: 1/4 is sigmoid's ceiling
#: φ'(0)² = 1/16 with room to spare, and tanh at pre-activation variance ≈ 3 (DESIGN §3 quadrature).
SATURATED_SLOPE_SQ = 0.25
#: Saturated activations in series before it is a "deep stack".
MIN_SATURATED = 3
#: The run must shrink the gradient norm at least this many orders (weights included) ...
WARN_ORDERS = 1.0
#: ... and beyond DESIGN §3's 10^-4 the finding is an error.
ERROR_ORDERS = 4.0
#: He init for the ReLU the fix swaps in.
HE_GAIN_SQ = 2.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for chain in view.chains():
        gains = chain_gains(view, chain)
        saturated = [
            g for g in gains if g.activation.activation in BOUNDED_ACTIVATIONS and g.slope_sq < SATURATED_SLOPE_SQ
        ]
        if len(saturated) < MIN_SATURATED:
            continue
        total = sum(g.log10_norm for g in gains)
        if total > -WARN_ORDERS:
            continue
        names = sorted({g.activation.activation or "" for g in saturated})
        slopes = [g.slope_sq for g in saturated]
        first = saturated[0].activation
        after_estimates = _after_fix(graph, chain, {g.activation.name for g in saturated})
        types = tuple(sorted({n.module_type or "Linear" for n in chain.layers}))
        scope = common_scope([n.module or "" for n in chain.layers])
        message = (
            f"{len(saturated)} {'/'.join(names)} activations in series after {module_span([g.layer for g in saturated])} "
            f"run at E[φ′²] = {min(slopes):.2g}–{max(slopes):.2g} at their pre-activation variance "
            f"(each keeps ≤ ×{max(slopes) ** 0.5:.2f} of the gradient norm, and larger weights only saturate them further): "
            f"the gradient norm falls 10^{total:+.1f} across the stack"
        )
        fix = Fix(
            f"use a non-saturating activation (ReLU/GELU) with He init in the hidden layers and keep {'/'.join(names)} "
            "for outputs and gates, or put a normalization layer (LayerNorm/BatchNorm) before each activation",
            "# replace nn.Sigmoid()/nn.Tanh() between the hidden layers with nn.ReLU(), then\n"
            + init_snippet('nn.init.kaiming_normal_(module.weight, nonlinearity="relu")', types, scope),
        )
        yield Hit(
            message=message,
            module=first.module,
            location=first.location if first.op == "call_function" else None,
            fix=fix,
            severity=Severity.ERROR if total <= -ERROR_ORDERS else Severity.WARNING,
            evidence=frozen_mapping(
                {
                    "activations": [
                        g.activation.module if g.activation.op == "call_module" else g.activation.name
                        for g in saturated
                    ],
                    "slope_sq": [float(f"{s:.4g}") for s in slopes],
                    "pre_activation_variance": [float(f"{g.pre_q:.4g}") for g in saturated],
                    "log10_norm_gain": round(total, 3),
                    "after_fix": {"change": "ReLU + kaiming_normal_(relu)", **summary(after_estimates)},
                }
            ),
        )


def _after_fix(graph: ModelGraph, chain: Chain, activations: set[str]) -> Estimates:
    """The graph with the saturated activations swapped for ReLU and the run's layers at He init."""

    def swap(node: LayerNode) -> LayerNode:
        if node.name in activations:
            return replace(node, activation="relu", target="relu" if node.op == "call_function" else node.target)
        if node.name in layer_names and node.feeds_activation in BOUNDED_ACTIVATIONS:
            return replace(node, feeds_activation="relu")
        return node

    layer_names = {n.name for n in chain.layers}
    scope = common_scope([n.module or "" for n in chain.layers])
    types = {n.module_type for n in chain.layers}
    view = View(graph, None)
    moments: dict[str, tuple[float, float]] = {}
    for node in graph.nodes:
        if node.op == "call_module" and node.module_type in types and in_scope(node.module, scope):
            weight = view.param(node.module, "weight")
            if weight is not None:
                moments[weight.name] = (0.0, HE_GAIN_SQ / fan_in(node, weight))
            if view.param(node.module, "bias") is not None:
                moments[f"{node.module}.bias"] = (0.0, 0.0)
    return reestimate(with_params(with_nodes(graph, swap), moments))


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(12):
            layer = nn.Linear(128, 128)
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
            layers += [layer, nn.Tanh()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)
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
        layers = []
        for _ in range(12):
            layers += [nn.Linear(128, 128), nn.Sigmoid()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 1))

    def forward(self, x):
        return self.net(x)
""",
        module="net.1",
        says="sigmoid activations in series",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(64, 64) for _ in range(8))
        for layer in self.layers:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        self.out = nn.Linear(64, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return self.out(x)
""",
]
