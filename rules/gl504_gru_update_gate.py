"""A GRU's update gate at a bias that makes its state forget within a few steps, or never change at all.

## What it does
For every layer and direction of every `nn.GRU` reads the update-gate block of `bias_ih` and
`bias_hh` (gate order r, z, n; PyTorch computes h' = (1 - z)·n + z·h) and computes, at the
predicted pre-activation spreads, the gate's mean E[z] and the mean-field per-step rate of the
gradient through time: χ = E[z²] (the carry path) plus the paths through W_hh into n, r and z
(DESIGN §3's H·E[W_hh²]·E[φ'²] terms). It fires when
- the bias is at PyTorch's default or below (total below 0.5) and χ^(T/2) over the example's T
  steps is 10^-4 or less (DESIGN §3's error scale): the state forgets half of itself every step;
- or the gate is so close to 1 that the inputs write less than 10 % of the state over the whole
  sequence (1 - E[z]^T): the layer outputs its initial state, and every gradient entering it is
  multiplied by 1 - z.

The finding's `after_fix` re-estimates with the update bias set to 1 (or 2 when 1 is not enough).

## Why is this bad
The update gate plays the LSTM forget gate's part: the gradient flowing back along the state is
multiplied by z at every step. PyTorch initialises every bias U(±1/√H), so z starts at σ(≈0) ≈ 0.5
and 32 steps carry ~1e-9 of the gradient (Pascanu et al. 2013's vanishing regime): dependencies
longer than a few steps are not learned. The opposite mistake — a large positive bias, often from
a paper that writes h' = z·n + (1 - z)·h — freezes the state: z ≈ 1 keeps h at h₀, so the GRU
outputs nearly constant zeros and its weights and everything before it get almost no gradient.

## Example
```python
self.gru = nn.GRU(32, 128, batch_first=True)   # update bias ≈ 0: z ≈ 0.5
```

## Use instead
```python
self.gru = nn.GRU(32, 128, batch_first=True)
H = self.gru.hidden_size
for name, bias in self.gru.named_parameters():
    if name.startswith("bias_ih"):
        with torch.no_grad():
            bias[H:2 * H].fill_(1.0)   # gate order r, z, n
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from gradlint.rulekit import (
    Example,
    Fix,
    Hit,
    LayerNode,
    ParamStats,
    RuleContext,
    Severity,
    View,
    activation_function,
    expect,
    frozen_mapping,
)

from ._recurrence import gate_bias_fixed, gate_bias_snippet, sequence_steps
from ._whatif import reestimate, summary

CODE = "GL504"
NAME = "gru-update-gate"
SEVERITY = Severity.WARNING
KIND = "recurrent"

#: Total update bias (b_ih + b_hh) below this counts as PyTorch's default (≈ 0) or a mistaken negative one.
DEFAULT_BIAS_BELOW = 0.5
#: Gradient-norm factor through time over the sequence at or below which the memory is gone (DESIGN §3: 10^-4).
MAX_LOG10_OVER_STEPS = -4.0
#: Below this share of the final state written by the inputs, the state is frozen at its initial value.
MIN_RENEWED = 0.1
#: The fix: 1 (z ≈ 0.73, as an LSTM's forget bias), or 2 when 1 still leaves the memory below the threshold.
FIX_BIASES = (1.0, 2.0)
_SIGMOID = activation_function("sigmoid", {})
_TANH = activation_function("tanh", {})
_RESET, _UPDATE, _NEW = 0, 1, 2
_GATES = 3
_ORDER = "r, z, n"


@dataclass(frozen=True)
class UpdateGate:
    layer: str
    """``l0``, ``l1_reverse`` ..."""
    bias: float
    mean: float
    """E[z]"""
    chi: float
    """Mean-field per-step gradient-variance rate through time."""
    steps: int

    @property
    def log10_over_steps(self) -> float:
        return (self.steps / 2) * math.log10(self.chi) if self.chi > 0 else -math.inf

    @property
    def renewed(self) -> float:
        """1 - E[z]^T: the share of the final state the inputs wrote (the rest is the initial state)."""
        return 1.0 - self.mean**self.steps

    @property
    def forgets(self) -> bool:
        return self.bias < DEFAULT_BIAS_BELOW and self.log10_over_steps <= MAX_LOG10_OVER_STEPS

    @property
    def frozen(self) -> bool:
        return self.renewed < MIN_RENEWED


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for node in graph.nodes:
        if node.op != "call_module" or node.module_type != "GRU" or node.call_index != 0:
            continue
        gates = update_gates(view, node)
        bad = [g for g in gates if g.forgets or g.frozen]
        if not bad:
            continue
        worst = min(bad, key=lambda g: g.renewed if g.frozen else g.log10_over_steps)
        for value in FIX_BIASES:
            fixed = gate_bias_fixed(graph, node, _UPDATE, _GATES, value)
            after_estimates = reestimate(fixed)
            after = {g.layer: g for g in update_gates(View(fixed, after_estimates), node)}.get(worst.layer)
            if (
                after is not None
                and not after.forgets
                and not after.frozen
                and after.log10_over_steps > MAX_LOG10_OVER_STEPS
            ):
                break
        if worst.frozen:
            problem = (
                f"the update gate of `{node.module}` ({worst.layer}) starts at E[z] = {worst.mean:.3f} (bias b_ih + b_hh = "
                f"{worst.bias:+.2f}): h' = (1 - z)·n + z·h keeps the state, so over {worst.steps} steps the inputs write only "
                f"{worst.renewed:.1%} of it — the layer outputs its initial state, and every gradient into its weights and "
                "its input is multiplied by 1 - z"
            )
        else:
            problem = (
                f"the update gate of `{node.module}` ({worst.layer}) starts at E[z] = {worst.mean:.2f} (bias b_ih + b_hh = "
                f"{worst.bias:+.2f}): the gradient through time keeps √χ = {math.sqrt(worst.chi):.2f} per step, "
                f"10^{worst.log10_over_steps:.0f} over {worst.steps} steps, so nothing beyond a few steps back is learned"
            )
        yield Hit(
            message=problem,
            module=node.module,
            fix=Fix(
                f"set the update-gate bias to {value:.1f} (rows H:2H of every `bias_ih`, gate order {_ORDER}; z = σ({value:.0f}) "
                f"≈ {1 / (1 + math.exp(-value)):.2f})",
                gate_bias_snippet(node.module or "", _UPDATE, _ORDER, value),
            ),
            evidence=frozen_mapping(
                {
                    "layers": {
                        g.layer: {
                            "update_bias": round(g.bias, 4),
                            "mean_update": round(g.mean, 4),
                            "chi_rec": round(g.chi, 4),
                        }
                        for g in gates
                    },
                    "steps": worst.steps,
                    "log10_over_steps": round(worst.log10_over_steps, 3),
                    "renewed": round(worst.renewed, 4),
                    "after_fix": {
                        "update_bias": value,
                        "mean_update": None if after is None else round(after.mean, 4),
                        "log10_over_steps": None if after is None else round(after.log10_over_steps, 3),
                        **summary(after_estimates),
                    },
                }
            ),
        )


def update_gates(view: View, node: LayerNode) -> list[UpdateGate]:
    """Every layer and direction of the GRU ``node``: its update gate and per-step rate at the predicted moments."""
    attrs = node.attrs
    hidden = int(attrs.get("hidden_size", 0) or 0)
    source = view.input_node(node)
    steps = sequence_steps(view, node)
    if not hidden or source is None or steps is None or _SIGMOID is None or _TANH is None:
        return []
    q_x = (view.forward_rms(source.name) or 1.0) ** 2
    q_h = (view.forward_rms(node.name) or 0.0) ** 2
    found = []
    for layer in range(int(attrs.get("num_layers", 1) or 1)):
        for suffix in ("", "_reverse") if attrs.get("bidirectional") else ("",):
            key = f"l{layer}{suffix}"
            w_ih, w_hh = view.param(node.module, f"weight_ih_{key}"), view.param(node.module, f"weight_hh_{key}")
            if w_ih is None or w_hh is None:
                continue
            biases = [b for b in (view.param(node.module, f"bias_{k}_{key}") for k in ("ih", "hh")) if b is not None]
            q_in = q_x if layer == 0 else q_h
            size = w_ih.shape[1]

            def pre(gate: int, q_hidden: float) -> tuple[float, float]:
                """(mean, variance) of a gate's pre-activation: the biases set the mean, weights and biases the spread."""
                # called within this iteration only, so the loop's current values are the ones meant
                moments = [_block(b, gate) for b in biases]  # noqa: B023
                mean = sum(m for m, _ in moments)
                variance = sum(max(sq - m * m, 0.0) for m, sq in moments)
                return mean, size * _block(w_ih, gate)[1] * q_in + q_hidden + variance  # noqa: B023

            _, s_r, d_r = expect(_SIGMOID, *pre(_RESET, hidden * _block(w_hh, _RESET)[1] * q_h))
            z_pre = pre(_UPDATE, hidden * _block(w_hh, _UPDATE)[1] * q_h)
            m_z, s_z, d_z = expect(_SIGMOID, *z_pre)
            q_u = hidden * _block(w_hh, _NEW)[1] * q_h  # W_hn·h, gated by r inside the candidate
            m_n, var_n = pre(_NEW, s_r * q_u)
            _, s_n, d_n = expect(_TANH, m_n, var_n)
            keep_new = 1 - 2 * m_z + s_z  # E[(1 - z)²]
            # ∂h'/∂h: z directly, and W_hhᵀ back from the candidate (through r), the reset and the update gates
            chi = s_z + hidden * (
                _block(w_hh, _NEW)[1] * keep_new * d_n * s_r
                + _block(w_hh, _RESET)[1] * keep_new * d_n * q_u * d_r
                + _block(w_hh, _UPDATE)[1] * (q_h + s_n) * d_z
            )
            found.append(UpdateGate(key, z_pre[0], m_z, chi, steps))
    return found


def _block(stats: ParamStats, gate: int) -> tuple[float, float]:
    """(mean, E[w²]) of the gate's rows, or of the whole tensor when it was not split into gate blocks."""
    return stats.blocks[gate] if len(stats.blocks) == _GATES else (stats.mean, stats.mean_sq)


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(16, 32, batch_first=True)
        H = self.gru.hidden_size
        with torch.no_grad():
            self.gru.bias_ih_l0[H:2 * H].fill_(1.0)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 32, 16),)
""",
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(16, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 6, 16),)
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
        self.gru = nn.GRU(16, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 32, 16),)
""",
        module="gru",
        says="the update gate of `gru`",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(16, 32, num_layers=2, batch_first=True)
        H = self.gru.hidden_size
        with torch.no_grad():
            for name, bias in self.gru.named_parameters():
                if name.startswith("bias_ih"):
                    bias[H:2 * H].fill_(8.0)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 16, 16),)
""",
]
