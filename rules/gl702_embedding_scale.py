"""An embedding starts a residual stream at a scale that swamps every branch added to it.

## What it does
For every residual stream fed by an `nn.Embedding` (or a sum of embeddings) compares the
embedding's predicted RMS with the median RMS of the branches added to the stream (the static
estimate). It fires when the embedding is 100× larger (DESIGN §3's 10^2), typically
`nn.Embedding`'s default N(0, 1) under blocks initialised GPT-style at std 0.02. The finding's
`after_fix` re-estimates with the embedding at std 0.02.

## Why is this bad
The blocks' outputs are then a percent of the stream: the model starts as its embedding, and every
normalization that reads the stream (each Pre-LN norm, the final norm) divides the gradient reaching
the branches by the stream's scale, so all block weights start ~100× slower than the embedding.
GPT-2, BERT and Llama initialise embeddings at the same 0.02 as their projections for this reason.

## Example
```python
self.wte = nn.Embedding(vocab, 256)          # N(0, 1)
for block in self.blocks:                    # branches initialised N(0, 0.02)
    ...
```

## Use instead
```python
nn.init.normal_(self.wte.weight, std=0.02)
```
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, LayerNode, RuleContext, Severity, View, frozen_mapping

from ._gains import submodule_expr
from ._whatif import reestimate, summary, with_params

CODE = "GL702"
NAME = "embedding-scale"
SEVERITY = Severity.WARNING
KIND = "init-mismatch"

#: DESIGN §3: an overall scale beyond 10^2 warns.
SWAMP_RATIO = 100.0
#: GPT-2 / BERT / Llama's embedding std.
FIX_STD = 0.02
MIN_BLOCKS = 2
_SUM = frozenset({"add", "residual-add", "dropout", "reshape"})


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for stream in view.streams():
        if len(stream.adds) < MIN_BLOCKS:
            continue
        embeddings = _embeddings(view, stream.skip(0))
        branches = [view.forward_rms(stream.branch(i)) for i in range(len(stream.adds))]
        typical = statistics.median([b for b in branches if b is not None] or [0.0])
        large = [e for e in embeddings if (view.forward_rms(e.name) or 0.0) >= SWAMP_RATIO * typical > 0]
        if not large:
            continue
        first = large[0]
        rms = view.forward_rms(first.name) or 0.0
        moments = {}
        for node in large:
            weight = view.param(node.module, "weight")
            if weight is not None:
                moments[weight.name] = (0.0, FIX_STD**2)
        after_estimates = reestimate(with_params(graph, moments))
        after_view = View(graph, after_estimates)
        after_rms = after_view.forward_rms(first.name)
        after_branch = statistics.median(
            [b for b in (after_view.forward_rms(stream.branch(i)) for i in range(len(stream.adds))) if b is not None]
            or [0.0]
        )
        yield Hit(
            message=(
                f"`{first.module}` starts a residual stream at RMS {rms:.3g}, {rms / typical:.0f}× the median branch added "
                f"to it ({typical:.3g}, over {len(stream.adds)} blocks): the blocks start as a percent of the stream, and "
                "every norm that reads the stream divides their gradient by its scale"
            ),
            module=first.module,
            fix=Fix(
                f"initialise the embedding at the scale of the rest of the model (std {FIX_STD}, as GPT-2/BERT/Llama)",
                "\n".join(f"nn.init.normal_({submodule_expr(n.module or '')}.weight, std={FIX_STD})" for n in large),
            ),
            evidence=frozen_mapping(
                {
                    "embeddings": [n.module for n in large],
                    "embedding_rms": round(rms, 5),
                    "median_branch_rms": round(typical, 6),
                    "ratio": round(rms / typical, 2),
                    "after_fix": {
                        "std": FIX_STD,
                        "ratio": round(after_rms / after_branch, 3) if after_rms and after_branch else None,
                        **summary(after_estimates),
                    },
                }
            ),
        )


def _embeddings(view: View, name: str) -> list[LayerNode]:
    """Embedding lookups summed into the value ``name`` (through adds, dropout and reshapes)."""
    found, pending, seen = [], [name], set()
    while pending:
        node = view.by_name.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.role == "embedding" and node.op == "call_module":
            found.append(node)
        elif node.role in _SUM:
            pending.extend(node.inputs)
    return found


VALID = [
    """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)
        nn.init.normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        return x + self.fc(self.norm(x))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 64)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = nn.Sequential(*[Block(64) for _ in range(4)])
        self.norm = nn.LayerNorm(64)
        self.head = nn.Linear(64, 100)

    def forward(self, tokens):
        return self.head(self.norm(self.blocks(self.embed(tokens))))

EXAMPLE_INPUTS = (torch.randint(0, 100, (4, 16)),)
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)
        nn.init.normal_(self.fc.weight, std=0.001)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        return x + self.fc(self.norm(x))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 64)
        self.blocks = nn.Sequential(*[Block(64) for _ in range(4)])
        self.norm = nn.LayerNorm(64)
        self.head = nn.Linear(64, 100)

    def forward(self, tokens):
        return self.head(self.norm(self.blocks(self.embed(tokens))))

EXAMPLE_INPUTS = (torch.randint(0, 100, (4, 16)),)
""",
        module="embed",
        says="starts a residual stream",
    ),
]
