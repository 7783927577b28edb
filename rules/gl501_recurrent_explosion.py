"""A recurrent weight amplifies the gradient at every time step: backpropagation through time explodes.

## What it does
For every vanilla `nn.RNN` layer (tanh or ReLU) and every Linear applied step after step in a Python
loop, computes the mean-field per-step rate χ_rec = H·E[W_hh²]·E[φ'(√q z)²] at the predicted
pre-activation second moment (DESIGN §3) and the factor χ_rec^(T/2) it gives over the example's T
steps. It fires when that factor reaches 10^2 (an error at 10^4), and reports Pascanu et al.'s
necessary condition σ_max(W_hh) > 1/γ (γ = max|φ'|: 1 for tanh and ReLU). The finding's `after_fix`
re-estimates with W_hh orthogonal.

Severity: an error when the growth over the sequence reaches 10^4 (DESIGN §3); a warning from 10^2.

## Why is this bad
The gradient reaching step t - k has been multiplied by W_hhᵀ·diag(φ') k times. With χ_rec > 1 it
grows geometrically with k (Pascanu, Mikolov & Bengio 2013): over a 64-step sequence a rate of
1.3 is 10^3.6. The first SGD step then overshoots, the loss jumps to Inf/NaN, and training depends
on gradient clipping to survive.

## Example
```python
self.rnn = nn.RNN(32, 128, batch_first=True)
nn.init.normal_(self.rnn.weight_hh_l0, std=3.0 / 128**0.5)   # H·E[W²] = 9
```

## Use instead
An orthogonal recurrent matrix (every singular value 1), and clip the gradient norm:
```python
nn.init.orthogonal_(self.rnn.weight_hh_l0)
torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, ModelGraph, RuleContext, Severity, View, frozen_mapping

from ._gains import submodule_expr
from ._recurrence import Recurrence, loop_recurrences, rnn_recurrences
from ._whatif import reestimate, summary, with_params

CODE = "GL501"
NAME = "recurrent-explosion"
SEVERITY = Severity.ERROR
KIND = "recurrent"

#: DESIGN §3: an overall norm gain beyond 10^2 warns, 10^4 is an error.
WARN_ORDERS = 2.0
ERROR_ORDERS = 4.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for found in [*rnn_recurrences(view), *loop_recurrences(view)]:
        growth = found.log10_over_steps
        if found.chi <= 1.0 or growth < WARN_ORDERS:
            continue
        yield _hit(graph, found, growth)


def _hit(graph: ModelGraph, found: Recurrence, growth: float) -> Hit:
    sigma = found.weight.spectral_norm
    rows, cols = found.weight.shape[0], found.weight.shape[-1]
    orthogonal_sq = 1.0 / max(rows, cols)  # orthonormal rows (or columns): every singular value 1
    fixed = with_params(graph, {found.weight.name: (0.0, orthogonal_sq)})
    after_estimates = reestimate(fixed)
    fixed_view = View(fixed, after_estimates)
    again = [r for r in [*rnn_recurrences(fixed_view), *loop_recurrences(fixed_view)] if r.label == found.label]
    after = again[0] if again else None
    pascanu = (
        f"; σ_max(W) = {sigma:.3g} > 1/γ = {found.bound:g}, Pascanu et al.'s necessary condition for explosion"
        if sigma is not None and sigma > found.bound
        else ""
    )
    local = found.weight.name.rpartition(".")[2]
    owner = found.weight.module
    return Hit(
        message=(
            f"`{found.label}` multiplies the gradient by √χ_rec = {found.chi**0.5:.3g} per step "
            f"(χ_rec = H·E[W²]·E[{found.nonlinearity}′²] = {found.hidden}·{found.weight.mean_sq:.3g}·{found.slope_sq:.3g} "
            f"= {found.chi:.3g}): over {found.steps} steps backpropagation through time grows it 10^{growth:+.1f}{pascanu}"
        ),
        module=found.node.module,
        fix=Fix(
            f"initialise `{found.weight.name}` orthogonal (every singular value 1) and clip the gradient norm",
            f"nn.init.orthogonal_({submodule_expr(owner)}.{local})\n"
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # after loss.backward()",
        ),
        severity=Severity.ERROR if growth >= ERROR_ORDERS else Severity.WARNING,
        evidence=frozen_mapping(
            {
                "weight": found.weight.name,
                "hidden": found.hidden,
                "steps": found.steps,
                "chi_rec": round(found.chi, 4),
                "slope_sq": round(found.slope_sq, 4),
                "log10_growth_over_steps": round(growth, 3),
                "spectral_norm": None if sigma is None else round(sigma, 4),
                "spectral_radius": None
                if found.weight.spectral_radius is None
                else round(found.weight.spectral_radius, 4),
                "pascanu_bound": found.bound,
                "after_fix": {
                    "init": "orthogonal_",
                    "chi_rec": None if after is None else round(after.chi, 4),
                    "log10_growth_over_steps": None if after is None else round(after.log10_over_steps, 3),
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
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 48, 16),)
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
        with torch.no_grad():
            nn.init.normal_(self.rnn.weight_hh_l0, std=3.0 / 64**0.5)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 48, 16),)
""",
        module="rnn",
        says="multiplies the gradient by",
    ),
    """
import torch
from torch import nn

class LoopRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.i2h = nn.Linear(8, 32)
        self.h2h = nn.Linear(32, 32, bias=False)
        nn.init.orthogonal_(self.h2h.weight, gain=3.0)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        h = x.new_zeros(x.size(1), 32)
        for x_t in x.unbind(0):
            h = torch.tanh(self.i2h(x_t) + self.h2h(h))
        return self.out(h)

EXAMPLE_INPUTS = (torch.randn(24, 4, 8),)
""",
]
