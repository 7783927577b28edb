"""An LSTM's forget gate starts at ≈ 0.5: the cell state forgets half of itself every step.

## What it does
For every layer and direction of every `nn.LSTM` reads the forget-gate block of `bias_ih` and
`bias_hh` (gate order i, f, g, o), computes the gate's mean E[σ(b_f + W·x + U·h)] at the predicted
pre-activation spread, and the factor √E[f²]^T by which the cell path carries a gradient back over
the example's T steps. It fires when the forget bias is at PyTorch's default (total below 0.5)
and that factor falls below 10^-4 (DESIGN §3's error scale). The finding's `after_fix` re-estimates
with the forget bias set to 1.

## Why is this bad
The cell state is the LSTM's long-term memory: the gradient flowing back along it is multiplied
by the forget gate at every step. PyTorch initialises every bias U(±1/√H), so the gate starts at
σ(≈0) = 0.5 and the memory halves each step — 100 steps is ~1e-30. Long-range dependencies are
then invisible to the gradient. Gers et al. (2000) and Jozefowicz et al. (2015) start the forget
bias at 1–2 (gate ≈ 0.73–0.88).

## Example
```python
self.lstm = nn.LSTM(32, 128, batch_first=True)   # forget bias ≈ 0: gate ≈ 0.5
```

## Use instead
```python
self.lstm = nn.LSTM(32, 128, batch_first=True)
H = self.lstm.hidden_size
for name, bias in self.lstm.named_parameters():
    if name.startswith("bias_ih"):
        with torch.no_grad():
            bias[H:2 * H].fill_(1.0)   # gate order i, f, g, o
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
    RuleContext,
    Severity,
    View,
    activation_function,
    expect,
    frozen_mapping,
)

from ._recurrence import gate_bias_fixed, gate_bias_snippet, sequence_steps
from ._whatif import reestimate, summary

CODE = "GL502"
NAME = "lstm-forget-bias"
SEVERITY = Severity.WARNING
KIND = "recurrent"

#: Total forget bias (b_ih + b_hh) below this counts as PyTorch's default (≈ 0).
DEFAULT_BIAS_BELOW = 0.5
#: The fix: 1 (Jozefowicz et al. 2015), or 2 when 1 still leaves the memory below the threshold.
FIX_BIASES = (1.0, 2.0)
#: Cell-path factor over the sequence at or below which the memory is gone (DESIGN §3: 10^-4 is an error scale).
MAX_LOG10_DECAY = -4.0
_SIGMOID = activation_function("sigmoid", {})
_FORGET = 1  # gate order i, f, g, o


@dataclass(frozen=True)
class Gate:
    layer: str
    """``l0``, ``l1_reverse`` ..."""
    bias: float
    mean: float
    rms: float
    steps: int

    @property
    def log10_decay(self) -> float:
        return self.steps * math.log10(self.rms) if self.rms > 0 else -math.inf


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for node in graph.nodes:
        if node.op != "call_module" or node.module_type != "LSTM" or node.call_index != 0:
            continue
        gates = _forget_gates(view, node)
        weak = [g for g in gates if g.bias < DEFAULT_BIAS_BELOW and g.log10_decay <= MAX_LOG10_DECAY]
        if not weak:
            continue
        worst = min(weak, key=lambda g: g.log10_decay)
        for value in FIX_BIASES:
            fixed = gate_bias_fixed(graph, node, _FORGET, 4, value)
            after_estimates = reestimate(fixed)
            after = {g.layer: g for g in _forget_gates(View(fixed, after_estimates), node)}.get(worst.layer)
            if after is not None and after.log10_decay > MAX_LOG10_DECAY:
                break
        yield Hit(
            message=(
                f"the forget gate of `{node.module}` ({worst.layer}) starts at E[f] = {worst.mean:.2f} "
                f"(bias b_ih + b_hh = {worst.bias:+.2f}, PyTorch's default): the cell state keeps ×{worst.rms:.2f} "
                f"of the gradient per step, 10^{worst.log10_decay:.0f} over {worst.steps} steps, so nothing beyond a "
                f"few steps back is learned"
            ),
            module=node.module,
            fix=Fix(
                f"set the forget-gate bias to {value:.1f} (rows H:2H of every `bias_ih`, gate order i, f, g, o)",
                gate_bias_snippet(node.module or "", _FORGET, "i, f, g, o", value),
            ),
            evidence=frozen_mapping(
                {
                    "layers": {
                        g.layer: {"forget_bias": round(g.bias, 4), "mean_forget": round(g.mean, 4)} for g in gates
                    },
                    "steps": worst.steps,
                    "log10_cell_decay": round(worst.log10_decay, 3),
                    "after_fix": {
                        "forget_bias": value,
                        "mean_forget": None if after is None else round(after.mean, 4),
                        "log10_cell_decay": None if after is None else round(after.log10_decay, 3),
                        **summary(after_estimates),
                    },
                }
            ),
        )


def _forget_gates(view: View, node: LayerNode) -> list[Gate]:
    attrs = node.attrs
    hidden = int(attrs.get("hidden_size", 0) or 0)
    source = view.input_node(node)
    steps = sequence_steps(view, node)
    if not hidden or source is None or steps is None or _SIGMOID is None:
        return []
    q_x = (view.forward_rms(source.name) or 1.0) ** 2
    q_h = (view.forward_rms(node.name) or 0.0) ** 2
    gates = []
    for layer in range(int(attrs.get("num_layers", 1) or 1)):
        for suffix in ("", "_reverse") if attrs.get("bidirectional") else ("",):
            key = f"l{layer}{suffix}"
            w_ih, w_hh = view.param(node.module, f"weight_ih_{key}"), view.param(node.module, f"weight_hh_{key}")
            biases = [view.param(node.module, f"bias_{k}_{key}") for k in ("ih", "hh")]
            if w_ih is None or w_hh is None:
                continue
            blocks = [b.blocks[_FORGET] for b in biases if b is not None and len(b.blocks) == 4]
            mean = sum(m for m, _ in blocks)
            bias_var = sum(max(sq - m * m, 0.0) for m, sq in blocks)
            w_ih_sq = w_ih.blocks[_FORGET][1] if len(w_ih.blocks) == 4 else w_ih.mean_sq
            w_hh_sq = w_hh.blocks[_FORGET][1] if len(w_hh.blocks) == 4 else w_hh.mean_sq
            variance = w_ih.shape[1] * w_ih_sq * (q_x if layer == 0 else q_h) + hidden * w_hh_sq * q_h + bias_var
            f_mean, f_sq, _ = expect(_SIGMOID, mean, variance)
            gates.append(Gate(key, mean, f_mean, math.sqrt(f_sq), steps))
    return gates


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        H = self.lstm.hidden_size
        with torch.no_grad():
            self.lstm.bias_ih_l0[H:2 * H].fill_(1.0)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 32, 16),)
""",
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
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
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])

EXAMPLE_INPUTS = (torch.randn(4, 32, 16),)
""",
        module="lstm",
        says="the forget gate of `lstm`",
    ),
]
