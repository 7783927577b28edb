"""Layers in series are initialised at the wrong scale for the activation they feed.

## What it does
For every run of Linear/Conv layers in series (no normalization, skip connection or gate between
them) computes each layer's backward gain χ = fan_in·E[W²]·E[φ'(√q z)²] (DESIGN §3) at the
layer's predicted pre-activation second moment q, and flags the run when the product of the
gradient-norm factors √χ leaves 10^±2 over at least three layers, or a single layer alone leaves
10^±2. It fires only when re-initialising the run at the critical scale for its activation (He for
ReLU, Xavier with `calculate_gain("tanh")` for tanh, LeCun for SELU, the mean-field std for SiLU/GELU)
brings the product back: that is what makes it an init problem. The finding's `after_fix` is the
static estimate re-run with that init.

Severity: a warning; an error when the product leaves 10^±4 (DESIGN §3's error threshold). When GL102/GL101
(vanishing/exploding gradient) or GL301 (deep plain stack) report the same run of layers, they are
folded into this finding as related locations, and it takes the highest of their severities.

## Why is this bad
The gradient norm is multiplied by √χ at every layer, so a small mismatch compounds with depth:
PyTorch's default `nn.Linear`/`nn.Conv*` init (variance 1/(3·fan_in)) under ReLU gives χ = 1/6,
×0.41 per layer and 10^-3.5 over nine layers; `normal_(std=1.0)` at width 128 gives ×8 per layer.
The first layers then learn orders of magnitude slower (or faster) than the last.

## Example
```python
layers = []
for _ in range(12):
    layers += [nn.Linear(256, 256), nn.ReLU()]   # PyTorch's default init: χ = 1/6 per layer
self.net = nn.Sequential(*layers)
```

## Use instead
```python
def init_weights(module):
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)

model.apply(init_weights)
```
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator

from gradlint.rulekit import (
    Chain,
    Estimates,
    Example,
    Fix,
    Hit,
    ModelGraph,
    RuleContext,
    Severity,
    View,
    fan_in,
    frozen_mapping,
    module_span,
)

from ._gains import LayerGain, RecommendedInit, chain_gains, common_scope, in_scope, init_snippet, recommended_init
from ._whatif import reestimate, summary, with_params

CODE = "GL201"
NAME = "init-activation-mismatch"
SEVERITY = Severity.WARNING
KIND = "init-mismatch"

#: DESIGN §3: an overall norm gain beyond 10^±2 warns, 10^±4 is an error.
WARN_ORDERS = 2.0
ERROR_ORDERS = 4.0
#: A run needs this many activation-fed layers before the product counts ("a single layer with χ = 0.33
#: in a 3-layer net is harmless").
MIN_LAYERS = 3
#: The recommended init must bring the product at least this many orders closer to 1 to count as the fix.
MIN_IMPROVEMENT = 1.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for chain in view.chains():
        gains = chain_gains(view, chain)
        if not gains:
            continue
        total = sum(g.log10_norm for g in gains)
        worst = max(gains, key=lambda g: abs(g.log10_norm))
        deep = len(gains) >= MIN_LAYERS and abs(total) >= WARN_ORDERS
        if not (deep or abs(worst.log10_norm) >= WARN_ORDERS) or not math.isfinite(total):
            continue
        hit = _hit(graph, view, chain, gains, total)
        if hit is not None:
            yield hit


def _hit(graph: ModelGraph, view: View, chain: Chain, gains: list[LayerGain], total: float) -> Hit | None:
    first = gains[0]
    q_in = view.forward_rms(first.layer.inputs[0]) if first.layer.inputs else None
    init = recommended_init(first.activation, len(gains), (q_in or 1.0) ** 2)
    if init is None or any(g.activation.activation != first.activation.activation for g in gains):
        return None  # sigmoid-like (no init fixes it: GL202), or mixed activations
    # the whole run, its output layer included: the snippet re-initialises every layer of these types in scope
    types = tuple(sorted({n.module_type or "Linear" for n in chain.layers}))
    scope = common_scope([n.module or "" for n in chain.layers])
    fixed_estimates, after_total = _after_fix(graph, gains, init, types, scope)
    if abs(after_total) > abs(total) - MIN_IMPROVEMENT:
        return None  # the init is not the lever (saturation, width changes): other rules say why
    layers = [g.layer for g in gains]
    activation = first.activation.activation
    scales = [g.weight_scale for g in gains]
    chis = [g.chi for g in gains]
    scheme = _scheme(graph, first.layer.module)
    direction = "shrinks" if total < 0 else "grows"
    per_layer = 10 ** (total / len(gains))
    message = (
        f"{len(gains)} {first.layer.module_type or 'Linear'} layers in series feed {activation} with "
        f"fan_in·E[W²] = {_spread(scales)}{f' ({scheme})' if scheme else ''}: the per-layer gain "
        f"χ = fan_in·E[W²]·E[φ′²] = {_spread(chis)} (1 is critical), so the gradient norm {direction} "
        f"×{per_layer:.2g} per layer, 10^{total:+.1f} across {module_span(layers)}; {init.name} init "
        f"brings it to 10^{after_total:+.1f}"
    )
    fix = Fix(
        f"initialise these layers at the critical scale for {activation}: `{init.call}` (fan_in·E[W²] = {init.gain_sq:.3g})",
        init_snippet(init.call, types, scope),
    )
    return Hit(
        message=message,
        module=first.layer.module,
        fix=fix,
        severity=Severity.ERROR if abs(total) >= ERROR_ORDERS else Severity.WARNING,
        evidence=frozen_mapping(
            {
                "layers": [g.layer.module for g in gains],
                "activation": activation,
                "weight_scale": _rounded(scales),
                "chi": _rounded(chis),
                "log10_norm_gain": round(total, 3),
                "init": scheme,
                "after_fix": {"init": init.call, "log10_norm_gain": round(after_total, 3), **summary(fixed_estimates)},
            }
        ),
    )


def _after_fix(
    graph: ModelGraph, gains: list[LayerGain], init: RecommendedInit, types: tuple[str, ...], scope: str
) -> tuple[Estimates, float]:
    """Re-estimate with the snippet applied: every layer of ``types`` under ``scope`` re-initialised, biases zeroed."""
    moments: dict[str, tuple[float, float]] = {}
    view = View(graph, None)
    for node in graph.nodes:
        if node.op != "call_module" or node.module_type not in types or not in_scope(node.module, scope):
            continue
        weight = view.param(node.module, "weight")
        if weight is None:
            continue
        moments[weight.name] = (0.0, init.mean_sq(fan_in(node, weight), weight.shape[0] * math.prod(weight.shape[2:])))
        if view.param(node.module, "bias") is not None:
            moments[f"{node.module}.bias"] = (0.0, 0.0)
    fixed_graph = with_params(graph, moments)
    fixed_estimates = reestimate(fixed_graph)
    fixed_view = View(fixed_graph, fixed_estimates)
    names = {g.layer.name for g in gains}
    after = [g for c in fixed_view.chains() for g in chain_gains(fixed_view, c) if g.layer.name in names]
    return fixed_estimates, sum(g.log10_norm for g in after)


def _scheme(graph: ModelGraph, module: str | None) -> str | None:
    for weight in graph.weights:
        if weight.module == module:
            return weight.init.scheme if weight.init.scheme != "unknown" else None
    return None


def _spread(values: list[float]) -> str:
    low, high = min(values), max(values)
    if high <= low * 1.15:
        return f"{statistics.median(values):.3g}"
    return f"{low:.3g}–{high:.3g}"


def _rounded(values: list[float]) -> list[float]:
    return [float(f"{v:.4g}") for v in values]


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
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)
""",
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

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
            layers += [nn.Linear(128, 128), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)
""",
        module="net.0",
        says="Linear layers in series feed relu",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(6):
            layer = nn.Linear(128, 128)
            nn.init.normal_(layer.weight, std=1.0)
            layers += [layer, nn.LeakyReLU(0.1)]
        self.net = nn.Sequential(*layers, nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)
""",
    """
import torch
from torch import nn

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Conv1d(16, 64, 3, padding=1), nn.Tanh()]
        for _ in range(14):
            layers += [nn.Conv1d(64, 64, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).mean(dim=-1)

EXAMPLE_INPUTS = (torch.randn(8, 16, 32),)
""",
]
