"""A vanilla recurrence forgets within a few steps: the gradient through time vanishes long before the sequence starts.

## What it does
For every vanilla `nn.RNN` layer and every Linear applied step after step in a loop, computes the
mean-field per-step rate χ_rec = H·E[W_hh²]·E[φ'(√q z)²] (DESIGN §3) and, when χ_rec < 1, the
memory horizon: the number of steps after which the gradient through time has fallen to 1 %.
It reports a recurrence whose factor over the example's T steps, χ_rec^(T/2), is 10^-4 or less
(DESIGN §3's error scale) as a note — for a structured W_hh (identity-like or orthogonal, σ_max ≈ ρ)
only when Pascanu et al.'s bound (σ_max·γ)^T is that small too: the weights still get gradients from the recent steps. The
finding's `after_fix` re-estimates with W_hh orthogonal.

## Why is this bad
The gradient reaching step t - k is multiplied by √χ_rec k times (Pascanu et al. 2013:
σ_max(W_hh) < 1/γ is sufficient for it to vanish). PyTorch's default U(±1/√H) gives
H·E[W²] = 1/3, so a tanh RNN keeps ~0.55 of the gradient per step: nothing more than ~8 steps back
influences learning, and long-range dependencies cannot be learned at all.

## Example
```python
self.rnn = nn.RNN(32, 128, batch_first=True)   # default init: H·E[W_hh²] = 1/3
```

## Use instead
An orthogonal W_hh (every singular value 1), or a gated recurrence (`nn.GRU`, `nn.LSTM` with forget
bias 1):
```python
nn.init.orthogonal_(self.rnn.weight_hh_l0)
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, View, frozen_mapping

from ._gains import submodule_expr
from ._recurrence import loop_recurrences, rnn_recurrences
from ._whatif import reestimate, summary, with_params

CODE = "GL503"
NAME = "recurrent-memory-horizon"
SEVERITY = Severity.INFO
KIND = "recurrent"

#: DESIGN §3's 10^-4 over the whole sequence.
MAX_LOG10_OVER_STEPS = -4.0
#: The horizon: steps until the gradient through time falls to 1 %.
HORIZON_LOG10 = -2.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for found in [*rnn_recurrences(view), *loop_recurrences(view)]:
        if found.chi >= 1.0 or found.chi <= 0.0 or found.log10_over_steps > MAX_LOG10_OVER_STEPS:
            continue
        if found.structured and found.log10_bound_over_steps > MAX_LOG10_OVER_STEPS:
            continue  # identity-like or orthogonal W (an IRNN): the mean field is too pessimistic, Pascanu's bound is not met
        horizon = 2 * HORIZON_LOG10 / math.log10(found.chi)
        rows, cols = found.weight.shape[0], found.weight.shape[-1]
        fixed = with_params(graph, {found.weight.name: (0.0, 1.0 / max(rows, cols))})
        after_estimates = reestimate(fixed)
        again = [
            r
            for r in [*rnn_recurrences(View(fixed, after_estimates)), *loop_recurrences(View(fixed, after_estimates))]
            if r.label == found.label
        ]
        local = found.weight.name.rpartition(".")[2]
        yield Hit(
            message=(
                f"`{found.label}` keeps √χ_rec = {found.chi**0.5:.2f} of the gradient per step "
                f"(χ_rec = H·E[W²]·E[{found.nonlinearity}′²] = {found.chi:.3g}): it falls to 1 % within {horizon:.0f} steps and "
                f"10^{found.log10_over_steps:.0f} over the {found.steps}-step sequence, so dependencies longer than "
                f"~{horizon:.0f} steps cannot be learned"
            ),
            module=found.node.module,
            fix=Fix(
                f"initialise `{found.weight.name}` orthogonal (every singular value 1), or use a gated recurrence (GRU, LSTM)",
                f"nn.init.orthogonal_({submodule_expr(found.weight.module)}.{local})",
            ),
            evidence=frozen_mapping(
                {
                    "weight": found.weight.name,
                    "chi_rec": round(found.chi, 4),
                    "steps": found.steps,
                    "horizon_steps": round(horizon, 1),
                    "log10_over_steps": round(found.log10_over_steps, 3),
                    "after_fix": {
                        "init": "orthogonal_",
                        "chi_rec": round(again[0].chi, 4) if again else None,
                        **summary(after_estimates),
                    },
                }
            ),
        )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(16, 64, batch_first=True)
        nn.init.orthogonal_(self.rnn.weight_hh_l0)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)

EXAMPLE_INPUTS = (torch.randn(4, 32, 16),)
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
        self.rnn = nn.RNN(16, 64, batch_first=True)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)

EXAMPLE_INPUTS = (torch.randn(4, 32, 16),)
""",
        module="rnn",
        says="of the gradient per step",
    ),
]
