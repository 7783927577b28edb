"""Ten or more Linear/Conv layers in series with no normalization and no skip connection between them.

## What it does
Finds runs of at least ten weight layers in series — each one's input is the previous one's output
through nothing but activations, dropout, reshapes and pooling — and reports the run with the
static estimate of its gradient-norm gain and its finite-width spread β = Σ 1/width (Hanin 2018).
It is a warning when β > 0.5 (DESIGN §3), a note otherwise. SELU stacks, which are built to be
self-normalising (Klambauer et al. 2017), are left alone.

Severity: a warning when β > 0.5 (DESIGN §3), info otherwise. When GL201 or GL102/GL101 report the same
run, this finding is folded into theirs as a related location.

## Why is this bad
In a plain stack every layer multiplies the gradient by its own gain χ, so any deviation from
χ = 1 compounds with depth, and the trainable depth of a stack is a few times its correlation
depth even at the critical init (Schoenholz et al. 2017). At finite width the gain is not even
the mean-field value: it is log-normally spread with variance ∝ β, so individual seeds and layers
drift orders of magnitude apart when β approaches 1. Normalization and skip connections are what
make depth cheap.

## Example
```python
layers = []
for _ in range(20):
    layers += [nn.Linear(64, 64), nn.ReLU()]
self.net = nn.Sequential(*layers)
```

## Use instead
Residual blocks with a normalization layer:
```python
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc(torch.relu(self.norm(x)))
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import (
    Example,
    Fix,
    Hit,
    RuleContext,
    Severity,
    frozen_mapping,
    module_span,
    width,
)

from ._gains import chain_gains

CODE = "GL301"
NAME = "deep-plain-stack"
SEVERITY = Severity.INFO
KIND = "normalization"

#: Weight layers in series before a stack counts as deep.
MIN_DEPTH = 10
#: DESIGN §3 (Hanin 2018): warn when β = Σ 1/n_j exceeds this.
BETA_WARN = 0.5
#: Self-normalising activations (Klambauer et al. 2017): deep plain stacks are their design.
SELF_NORMALISING = frozenset({"selu"})


def check(ctx: RuleContext) -> Iterator[Hit]:
    estimates = ctx.estimates
    view = ctx.view
    for chain in view.chains():
        if len(chain.layers) < MIN_DEPTH:
            continue
        activations = {a.activation for i in range(len(chain.links)) for a in chain.activations(i)}
        if activations and activations <= SELF_NORMALISING:
            continue
        widths = [w for w in (width(n) for n in chain.layers[:-1]) if w]
        beta = sum(1.0 / w for w in widths)
        gains = chain_gains(view, chain) if estimates is not None else []
        total = sum(g.log10_norm for g in gains) if gains else None
        kind = chain.layers[1].module_type or "Linear"
        convolutional = kind.startswith("Conv")
        typical = max(set(widths), key=widths.count) if widths else 64
        gain_text = f"; the estimated gradient-norm gain across it is 10^{total:+.1f}" if total is not None else ""
        message = (
            f"{len(chain.layers)} {kind} layers in series with no normalization or skip connection "
            f"({module_span(chain.layers)}): every layer's gain compounds{gain_text}, and finite width spreads it "
            f"log-normally with β = Σ 1/width = {beta:.2f} (Hanin 2018; above {BETA_WARN} the spread is large)"
        )
        yield Hit(
            message=message,
            module=chain.layers[0].module,
            fix=Fix(
                "add a normalization layer to every block and wrap blocks in residual connections "
                f"({'BatchNorm2d after each conv' if convolutional else 'LayerNorm before each Linear'}, `x + block(x)`)",
                _snippet(convolutional, typical),
            ),
            severity=Severity.WARNING if beta > BETA_WARN else Severity.INFO,
            evidence=frozen_mapping(
                {
                    "depth": len(chain.layers),
                    "layers": [n.module for n in chain.layers],
                    "beta": round(beta, 4),
                    "log10_norm_gain": None if total is None else round(total, 3),
                }
            ),
        )


def _snippet(convolutional: bool, size: int) -> str:
    if convolutional:
        return (
            "class Block(nn.Module):\n"
            "    def __init__(self, channels):\n"
            "        super().__init__()\n"
            "        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)\n"
            "        self.bn = nn.BatchNorm2d(channels)\n"
            "\n"
            "    def forward(self, x):\n"
            "        return torch.relu(x + self.bn(self.conv(x)))\n"
            "\n"
            f"blocks = nn.Sequential(*[Block({size}) for _ in range(depth)])"
        )
    return (
        "class Block(nn.Module):\n"
        "    def __init__(self, width):\n"
        "        super().__init__()\n"
        "        self.norm = nn.LayerNorm(width)\n"
        "        self.fc = nn.Linear(width, width)\n"
        "\n"
        "    def forward(self, x):\n"
        "        return x + self.fc(torch.relu(self.norm(x)))\n"
        "\n"
        f"blocks = nn.Sequential(*[Block({size}) for _ in range(depth)])"
    )


VALID = [
    """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc(torch.relu(self.norm(x)))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(64) for _ in range(12)])
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.blocks(x))
""",
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(6):
            layer = nn.Linear(64, 64)
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(64, 10))

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
        for _ in range(30):
            layer = nn.Linear(32, 32)
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)
""",
        module="net.0",
        says="with no normalization or skip connection",
    ),
]
