"""A deep stack of BatchNorm blocks without skip connections: batch normalization itself makes the gradient grow with depth.

## What it does
Finds runs of at least ten Linear/Conv → BatchNorm → activation blocks in series with no skip
connection and adds up each block's predicted backward gain of the gradient norm (the static
estimate, which models batch norm's finite-batch backward and the removal of the part of the
signal shared by a batch). It flags the run when that product reaches 10× and makes it an error at
100×, the span at which DESIGN §2 calls the model exploding.

Severity: a warning; an error when the predicted growth reaches 100× (DESIGN §2's span threshold).

## Why is this bad
Batch normalization fixes the forward scale, but in a plain stack its backward does not preserve
the gradient: Yang et al. (2019) prove ‖g‖² grows by a constant factor per layer (×1.4–1.5 per
ReLU block at batch 16–512, ×1.2 with tanh), so at init the first layers of a deep plain BN net get
exponentially larger gradients than the last — whatever the weights' init. Skip connections are
what remove the effect: the identity path carries the gradient unchanged.

## Example
```python
layers = []
for _ in range(30):
    layers += [nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU()]
self.net = nn.Sequential(*layers)
```

## Use instead
Residual blocks, with the last BatchNorm of each branch starting at γ = 0 (Goyal et al. 2017):
```python
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.bn = nn.BatchNorm1d(width)
        nn.init.zeros_(self.bn.weight)

    def forward(self, x):
        return torch.relu(x + self.bn(self.fc(x)))
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import (
    Chain,
    Example,
    Fix,
    Hit,
    LayerNode,
    RuleContext,
    Severity,
    View,
    frozen_mapping,
    module_span,
    width,
)

CODE = "GL302"
NAME = "batchnorm-plain-stack"
SEVERITY = Severity.WARNING
KIND = "normalization"

#: BatchNorm blocks in series before the stack counts as deep.
MIN_BLOCKS = 10
#: Predicted growth of the gradient norm across the stack (log10): warn at 10×; DESIGN §2's span
#: threshold for "exploding" (100×) makes it an error.
WARN_ORDERS = 1.0
ERROR_ORDERS = 2.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    view = ctx.view
    for chain in view.chains(norm_types=("BatchNorm", "SyncBatchNorm")):
        blocks = _blocks(view, chain)
        if len(blocks) < MIN_BLOCKS:
            continue
        growth = sum(gain for _, gain in blocks)
        if growth < WARN_ORDERS:
            continue
        layers = [node for node, _ in blocks]
        kind = layers[-1].module_type or "Linear"
        size = next((w for w in (width(n) for n in layers[1:]) if w), 64)
        per_block = 10 ** (2 * growth / len(blocks))
        yield Hit(
            message=(
                f"{len(blocks)} {kind} → BatchNorm blocks in series with no skip connection ({module_span(layers)}): "
                f"batch norm's backward makes ‖g‖² grow ×{per_block:.2f} per block (Yang et al. 2019), so the "
                f"gradient norm at the first block is 10^{growth:+.1f} times that at the last"
            ),
            module=layers[0].module,
            fix=Fix(
                "add skip connections around the blocks (`x + block(x)`), with the branch's last BatchNorm at γ = 0",
                _snippet(kind.startswith("Conv"), size),
            ),
            severity=Severity.ERROR if growth >= ERROR_ORDERS else Severity.WARNING,
            evidence=frozen_mapping(
                {
                    "blocks": len(blocks),
                    "layers": [n.module for n in layers],
                    "log10_norm_growth": round(growth, 3),
                    "grad_sq_factor_per_block": round(per_block, 4),
                }
            ),
        )


def _blocks(view: View, chain: Chain) -> list[tuple[LayerNode, float]]:
    """(layer, log10 norm gain of layer + BatchNorm + activation) for each layer followed by a BatchNorm."""
    found = []
    for index, link in enumerate(chain.links):
        if not any(n.role == "normalization" for n in link):
            continue
        parts = [chain.layers[index], *(n for n in link if n.role in ("normalization", "activation"))]
        gains = [view.log10_norm_gain(n) for n in parts]
        if any(g is None for g in gains):
            continue
        found.append((chain.layers[index], sum(g for g in gains if g is not None)))
    return found


def _snippet(convolutional: bool, size: int) -> str:
    layer = f"nn.Conv2d({size}, {size}, 3, padding=1, bias=False)" if convolutional else f"nn.Linear({size}, {size})"
    norm = f"nn.BatchNorm2d({size})" if convolutional else f"nn.BatchNorm1d({size})"
    return (
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        f"        self.layer = {layer}\n"
        f"        self.bn = {norm}\n"
        "        nn.init.zeros_(self.bn.weight)  # the block starts as the identity\n"
        "\n"
        "    def forward(self, x):\n"
        "        return torch.relu(x + self.bn(self.layer(x)))"
    )


VALID = [
    """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.bn = nn.BatchNorm1d(width)

    def forward(self, x):
        return torch.relu(x + self.bn(self.fc(x)))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(64) for _ in range(16)])
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.blocks(x))

EXAMPLE_INPUTS = (torch.randn(16, 64),)
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
            layers += [nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)

EXAMPLE_INPUTS = (torch.randn(16, 64),)
""",
        module="net.0",
        says="BatchNorm blocks in series with no skip connection",
    ),
]
