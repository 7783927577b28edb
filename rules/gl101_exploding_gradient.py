"""Gradients are predicted to explode: some weight's gradient is huge, or it grows by orders of magnitude toward the input.

## What it does
Runs gradlint's static estimate of every weight's gradient RMS under the reference protocol
(random N(0, 1) inputs, a random linear loss; DESIGN §2) and flags the model when the largest
predicted gradient RMS reaches 10^3 or, along depth, the gradient grows by 10^2 toward the input (below).
The message names the layers whose backward gain contributes most.

Along depth it compares like with like: weights of one role (the same name with the block indices
as `*`: `layers.*.self_attn.q_proj.weight`, `net.*.weight`, `rnn.weight_hh_l*`), the first against the
last; the span of the steepest role fires when the gradient grows by 10^2 toward the input. A
query projection is never compared with an output head. The absolute test (a weight's gradient RMS
reaches 10^3) is the reference protocol's scale: it applies without a configured optimizer;
with one (`--optimizer` or `[tool.gradlint] optimizer`), the training check judges the scale for that
optimizer instead, and only the span along depth fires this rule.

Severity: without a configured optimizer, an error when the predicted maximum or the span reaches
10^4 (DESIGN §3's error threshold) on an estimate every op had a rule for, a warning
otherwise (a warning at most where a generic rule stood in for an op). With a configured optimizer the
training check decides: the same when it predicts the model diverges, a warning when it predicts
the other trouble, info when it predicts the model trains.

## Why is this bad
Exploding gradients make the first SGD/Adam steps overshoot: the loss jumps to Inf/NaN, or the
optimiser spends its first thousands of steps undoing the initial scale. They come from weights
initialised too large for their fan-in (std ≫ 1/sqrt(fan_in)), from deep stacks whose layers each
amplify the backward signal (χ = fan_out·Var(W)·E[φ'²] > 1), and from recurrence (see GL5xx).

## Example
```python
layers = [nn.Linear(256, 256) for _ in range(20)]
for layer in layers:
    nn.init.normal_(layer.weight, std=0.2)   # 3.2× the He scale for fan_in 256
```

## Use instead
Initialise at the critical scale for the activation, and clip gradients as a safety net:
```python
nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
```
The finding's fix fits the model's layers: orthogonal `weight_hh` (and an LSTM forget-gate bias of 1)
for recurrent layers; He for ReLU, Xavier with `calculate_gain('tanh')` for tanh, the mean-field
gain for SiLU/GELU; and for a model with its own deliberate init and residual branches (GPT-2/Llama's
depth-scaled `normal_`), no re-init: each branch's output layer scaled by 1/√(2·blocks). A fix is
offered only when the static estimate re-run with it applied no longer explodes (`after_fix`; its
`tried` lists the candidates re-estimated); otherwise the message says none could be verified.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from gradlint.rulekit import Example, Hit, RuleContext, Severity, frozen_mapping

from ._gradient_fix import gradient_fix
from ._gradients import (
    contributing_layers,
    explodes,
    steepest,
    thresholds_of,
    training_note,
    training_severity,
    uncertainty_note,
    unfixed_note,
    verdict_evidence,
    where_it_starts,
)

CODE = "GL101"
NAME = "exploding-gradient"
SEVERITY = Severity.ERROR
KIND = "exploding-gradient"

# DESIGN §3: an overall norm gain beyond 10^±2 warns, 10^±4 is an error.
ERROR_ORDERS = 4.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, estimates = ctx.graph, ctx.estimates
    thresholds = thresholds_of(ctx)
    if not explodes(estimates, thresholds):
        return
    found = estimates.verdict
    if found.max_weight is None:
        return
    worst = where_it_starts(estimates, found.max_weight, found.max_value)
    depth = steepest(estimates, exploding=True)
    span = depth.span if depth is not None else 0.0
    severe = bool(found.nonfinite) or (found.max_value or 0.0) >= ERROR_ORDERS or span >= ERROR_ORDERS
    layers = contributing_layers(graph, estimates, growing=True)
    training = estimates.training
    planned = gradient_fix(graph, lambda after: explodes(replace(after, training=training), thresholds), exploding=True)
    after = planned.after.verdict
    growth = f", {span:+.1f} orders from `{depth.last}` to `{depth.first}`" if depth is not None and span >= 1 else ""
    yield Hit(
        message=(
            f"gradients are predicted to explode: gradient RMS up to 10^{found.max_value:.1f} at `{found.max_weight}`"
            f"{growth}; largest backward gains at {', '.join(layers) or 'no single layer'}{uncertainty_note(estimates)}"
            f"{training_note(estimates)}{unfixed_note(planned.fix, planned.tried)}"
        ),
        module=worst.module,
        fix=planned.fix,
        severity=training_severity(severe, estimates, "diverges"),
        evidence=frozen_mapping(verdict_evidence(found, layers, after, "max", planned.tried, depth)),
    )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(8):
            layer = nn.Linear(128, 128)
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
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
            layer = nn.Linear(256, 256)
            nn.init.normal_(layer.weight, std=0.2)
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)
""",
        module="net.40",
        says="gradients are predicted to explode",
    ),
    Example(
        """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(32, 128, batch_first=True)
        with torch.no_grad():
            nn.init.normal_(self.rnn.weight_hh_l0, std=3.0 / 128**0.5)  # σ_max(W_hh) far above 1
        self.head = nn.Linear(128, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(8, 64, 32),)
""",
        module="rnn",
        says="gradients are predicted to explode",
    ),
]
