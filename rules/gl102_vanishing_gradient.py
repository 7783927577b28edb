"""Gradients are predicted to vanish: some weight's gradient is tiny, or it shrinks by orders of magnitude toward the input.

## What it does
Runs gradlint's static estimate of every weight's gradient RMS under the reference protocol
and flags the model when the smallest predicted gradient RMS falls to 10^-3 or, along depth, the
gradient shrinks by 10^2 toward the input (below). The message names the layers whose backward gain shrinks the
gradient most, and the finding's `after_fix` gives the re-estimated verdict with the fix applied.
Gradients that are small only behind learnable gates initialised small (LayerScale's γ = 1e-6 in
ConvNeXt and CaiT, ReZero's α) are by design and not flagged: re-estimated with the gates at 1,
the model must still vanish for the rule to fire.

Along depth it compares like with like: weights of one role (the same name with the block indices
as `*`: `layers.*.self_attn.q_proj.weight`, `net.*.weight`, `rnn.weight_hh_l*`), the first against the
last; the span of the steepest role fires when the gradient shrinks by 10^2 toward the input. A
query projection is never compared with an output head. The absolute test (a weight's gradient RMS
falls to 10^-3) is the reference protocol's scale: it applies without a configured optimizer;
with one (`--optimizer` or `[tool.gradlint] optimizer`), the training check judges the scale for that
optimizer instead, and only the span along depth fires this rule.

Severity: without a configured optimizer, an error when the span or the drop below the last weight reaches
10^-4 (DESIGN §3's error threshold) on an estimate every op had a rule for, a warning
otherwise (a warning at most where a generic rule stood in for an op). With a configured optimizer the
training check decides: the same when it predicts the model stalls, a warning when it predicts
the other trouble, info when it predicts the model trains.

## Why is this bad
The first layers barely learn: their updates are orders of magnitude smaller than the last
layers', so training stalls or only the head trains. Typical causes: PyTorch's default
`nn.Linear`/`nn.Conv*` init (U(±1/sqrt(fan_in)), variance 1/(3·fan_in)) under ReLU — each layer
keeps 1/6 of the gradient variance, 10 layers give 10^-4 in norm — saturating activations
(sigmoid's slope is at most 1/4), and deep stacks without normalisation or skip connections.

## Example
```python
self.net = nn.Sequential(*[m for _ in range(20) for m in (nn.Linear(256, 256), nn.ReLU())])
```

## Use instead
He init for ReLU layers (Xavier with the tanh gain for tanh), and residual connections or
normalisation in deep stacks:
```python
def init_weights(module):
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)

model.apply(init_weights)
```
The finding's fix fits the model's layers, as GL101's does (orthogonal `weight_hh` and an LSTM
forget-gate bias of 1 for recurrent layers; He, Xavier with `calculate_gain('tanh')`, or the SiLU/GELU
gain for the activation each Linear/Conv feeds; a deliberate init is not overwritten), and is offered
only when the re-estimate with it applied no longer vanishes (`after_fix`). The finding sits on the
first weight within 0.1 orders of the smallest, where the shrinking starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from gradlint.rulekit import Estimates, Example, Hit, ModelGraph, RuleContext, Severity, estimate, frozen_mapping

from ._gradient_fix import gradient_fix
from ._gradients import (
    contributing_layers,
    small_gates,
    steepest,
    thresholds_of,
    training_note,
    training_severity,
    uncertainty_note,
    unfixed_note,
    vanishes,
    verdict_evidence,
    where_it_starts,
)
from ._whatif import with_params

CODE = "GL102"
NAME = "vanishing-gradient"
SEVERITY = Severity.ERROR
KIND = "vanishing-gradient"

# DESIGN §3: an overall norm gain beyond 10^±2 warns, 10^±4 is an error.
ERROR_ORDERS = 4.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, estimates = ctx.graph, ctx.estimates
    thresholds = thresholds_of(ctx)
    if not vanishes(estimates, thresholds):
        return
    found = estimates.verdict
    if found.min_weight is None:
        return
    training = estimates.training

    def still_fires(after: Estimates) -> bool:
        return vanishes(replace(after, training=training), thresholds)

    if _gated_by_design(graph, still_fires):
        return
    worst = where_it_starts(estimates, found.min_weight, found.min_value)
    depth = steepest(estimates, exploding=False)
    span = depth.span if depth is not None else 0.0
    last = estimates.weights_by_name.get(found.last_weight) if found.last_weight else None
    drop = (found.min_value or 0.0) - (
        last.log10_grad_rms if last is not None and last.log10_grad_rms is not None else 0.0
    )
    severe = span <= -ERROR_ORDERS or drop <= -ERROR_ORDERS
    layers = contributing_layers(graph, estimates, growing=False)
    planned = gradient_fix(graph, still_fires, exploding=False)
    after = planned.after.verdict
    shrink = f", {span:+.1f} orders from `{depth.last}` to `{depth.first}`" if depth is not None and span <= -1 else ""
    yield Hit(
        message=(
            f"gradients are predicted to vanish: gradient RMS down to 10^{found.min_value:.1f} at `{found.min_weight}`"
            f"{shrink}; smallest backward gains at {', '.join(layers) or 'no single layer'}{uncertainty_note(estimates)}"
            f"{training_note(estimates)}{unfixed_note(planned.fix, planned.tried)}"
        ),
        module=worst.module,
        fix=planned.fix,
        severity=training_severity(severe, estimates, "stalls"),
        evidence=frozen_mapping(verdict_evidence(found, layers, after, "min", planned.tried, depth)),
    )


def _gated_by_design(graph: ModelGraph, still_fires: Callable[[Estimates], bool]) -> bool:
    """The gradients are small only behind learnable gates that start small (LayerScale, ReZero).

    Re-estimated with every such gate at 1, the model no longer vanishes: the weights behind the gates
    get small gradients on purpose, as DESIGN §2 leaves zero-initialised gates out of the verdict.
    """
    gates = small_gates(graph)
    if not gates:
        return False
    opened = estimate(with_params(graph, {name: (1.0, 1.0) for name in gates}))
    return not still_fires(opened)


VALID = [
    """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))  # LayerScale (CaiT, ConvNeXt): small on purpose

    def forward(self, x):
        return x + self.gamma * self.fc2(torch.nn.functional.gelu(self.fc1(self.norm(x))))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(32, 128)
        self.blocks = nn.Sequential(*[Block(128) for _ in range(4)])
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))
""",
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(20):
            layer = nn.Linear(128, 128)
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(128, 10))

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
        for _ in range(20):
            layers += [nn.Linear(256, 256), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)
""",
        module="net.0",
        says="gradients are predicted to vanish",
    ),
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
]
