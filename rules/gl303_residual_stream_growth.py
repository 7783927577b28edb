"""The residual stream's scale grows geometrically with depth: unnormalised residual branches add up.

## What it does
Follows every residual stream (residual adds each feeding the next through activations only) of at
least four blocks and reads the static estimate's forward RMS and gradient RMS along it. It flags
the stream when both grow geometrically: the growth over the stream's second half, extrapolated to
its whole depth, reaches 10× forward and backward (100× backward is an error: DESIGN §2's span). A stream that
grows only while small embeddings are swamped by the first branches (Pre-LN transformers: √L) is
not geometric and is left alone. The finding's `after_fix` re-estimates with every branch's weights
scaled by Fixup's L^(-1/(2m-2)).

Severity: a warning; an error when the backward growth reaches 100× (DESIGN §2's span threshold).

## Why is this bad
For `x + F(x)` the variances add forward and backward: ‖g_l‖² = ‖g_{l+1}‖²·(1 + χ_F). A branch
initialised to preserve its own input (He init, no normalization in it, or a normalization that
restores unit scale at its end) has χ_F ≈ 1, so every block doubles the variance: 2^(L/2) in norm
over L blocks (16 blocks: 256×). Zero-initialising the last normalization's γ (Goyal et al. 2017),
Fixup (Zhang et al. 2019) or SkipInit/ReZero (De & Smith 2020; Bachlechner et al. 2020) start each
block as the identity instead.

## Example
```python
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        for fc in (self.fc1, self.fc2):
            nn.init.kaiming_normal_(fc.weight, nonlinearity="relu")

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))
```

## Use instead
Start each branch at zero with a learnable scale (SkipInit/ReZero), or zero the last BatchNorm's γ:
```python
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.alpha * self.fc2(torch.relu(self.fc1(x)))
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from gradlint.rulekit import (
    WEIGHT_ROLES,
    Estimates,
    Example,
    Fix,
    Hit,
    LayerNode,
    ModelGraph,
    RuleContext,
    Severity,
    Stream,
    View,
    frozen_mapping,
)

from ._whatif import reestimate, scaled, summary, with_params

CODE = "GL303"
NAME = "residual-stream-growth"
SEVERITY = Severity.WARNING
KIND = "residual-scaling"

#: Residual blocks in a stream before its growth is read.
MIN_BLOCKS = 4
#: Projected growth of the gradient norm over the stream (log10): DESIGN §3's per-stack scale,
#: 10× warns, DESIGN §2's span threshold (100×) is an error.
WARN_ORDERS = 1.0
ERROR_ORDERS = 2.0


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for stream in view.streams():
        blocks = len(stream.adds)
        if blocks < MIN_BLOCKS:
            continue
        growth = _projected_growth(view, stream)
        forward_growth = _projected_forward(view, stream)
        # both directions: a stream whose branches end in a norm (a BatchNorm ResNet) can steepen the gradient
        # at init without its scale running away; the forward RMS is what grows without bound
        if growth is None or forward_growth is None or min(growth, forward_growth) < WARN_ORDERS:
            continue
        start = view.forward_rms(stream.skip(0))
        end = view.forward_rms(stream.adds[-1].name)
        forward = math.log10(end / start) if start and end else None
        nodes = [_branch_nodes(view, stream, i) for i in range(blocks)]
        if any(
            view.node_estimates[n.name].uncertain for block in nodes for n in block if n.name in view.node_estimates
        ):
            continue  # an op the estimator has no rule for sits in a branch: its growth is a guess
        branches = [[n for n in block if n.op == "call_module" and n.role in WEIGHT_ROLES] for block in nodes]
        m = max(1, round(sum(len(b) for b in branches) / blocks))
        factor = blocks ** (-1.0 / (2 * m - 2)) if m > 1 else blocks**-0.5
        after = _after_fix(graph, branches, factor)
        after_growth = _projected_growth(View(after[0], after[1]), stream)
        first = stream.adds[0]
        norms = _last_norms(view, stream)
        yield Hit(
            message=(
                f"the residual stream through {blocks} blocks grows geometrically: each block adds a branch as large as "
                f"its input (χ_F ≈ 1), so the gradient norm grows ×{10 ** (growth / blocks):.2f} per block, "
                f"10^{growth:+.1f} over the stream"
                + (f" (forward RMS {start:.3g} → {end:.3g})" if start and end else "")
            ),
            module=first.module,
            location=first.location,
            fix=_fix(norms, blocks, m, factor),
            severity=Severity.ERROR if growth >= ERROR_ORDERS else Severity.WARNING,
            evidence=frozen_mapping(
                {
                    "blocks": blocks,
                    "branch_layers": m,
                    "log10_grad_growth": round(growth, 3),
                    "log10_forward_growth": None if forward is None else round(forward, 3),
                    "projected_log10_forward_growth": round(forward_growth, 3),
                    "after_fix": {
                        "change": f"every branch weight ×{factor:.3g} (Fixup: L^(-1/(2m-2)), L={blocks}, m={m})",
                        "log10_grad_growth": None if after_growth is None else round(after_growth, 3),
                        **summary(after[1]),
                    },
                }
            ),
        )


def _projected_growth(view: View, stream: Stream) -> float | None:
    """Gradient-norm growth over the stream's second half, per block, times the number of blocks (log10).

    A geometric stream grows as much in its second half as in its first; a stream that only grows while
    the first branches swamp a small input (Pre-LN: √L) barely grows in its second half."""
    blocks = len(stream.adds)
    middle = blocks // 2
    at_middle = view.node_estimates.get(stream.skip(middle))
    at_end = view.node_estimates.get(stream.adds[-1].name)
    if at_middle is None or at_end is None or not at_middle.gradient_rms or not at_end.gradient_rms:
        return None
    per_block = math.log10(at_middle.gradient_rms / at_end.gradient_rms) / (blocks - middle)
    return per_block * blocks


def _projected_forward(view: View, stream: Stream) -> float | None:
    """The forward counterpart of :func:`_projected_growth`: RMS growth over the second half, per block, times the blocks."""
    blocks = len(stream.adds)
    middle = blocks // 2
    at_middle, at_end = view.forward_rms(stream.skip(middle)), view.forward_rms(stream.adds[-1].name)
    if not at_middle or not at_end:
        return None
    return math.log10(at_end / at_middle) / (blocks - middle) * blocks


def _branch_nodes(view: View, stream: Stream, index: int) -> list[LayerNode]:
    """The nodes of block ``index``'s branch, in forward order: from the branch input back to the stream."""
    stop = stream.skip(index)
    order = {n.name: i for i, n in enumerate(view.graph.nodes)}
    # nothing before the previous block's add belongs to this branch (the skip may be cast after the branch ran);
    # the first block's branch starts with the first node of its module
    add = stream.adds[index]
    if index:
        floor = order[stream.adds[index - 1].name]
    else:
        inside = [
            order[n.name] for n in view.graph.nodes if add.module and (n.module or "").startswith(add.module + ".")
        ]
        floor = min(inside, default=order.get(stop, 0))
    adds = {a.name for a in stream.adds}
    found, seen = [], set()
    pending = [stream.branch(index)]
    while pending:
        name = pending.pop()
        node = view.by_name.get(name)
        if node is None or name in seen or name == stop or order.get(name, 0) < floor:
            continue
        seen.add(name)
        if name in adds or node.op in ("placeholder", "get_attr"):
            continue
        found.append(node)
        pending.extend(node.inputs)
    return sorted(found, key=lambda n: order[n.name])


def _last_norms(view: View, stream: Stream) -> list[LayerNode]:
    """The normalization layer that ends each branch, when every branch ends in one with a γ."""
    found = []
    for index in range(len(stream.adds)):
        node = view.by_name.get(stream.branch(index))
        while node is not None and node.role in ("dropout", "reshape"):
            node = view.input_node(node)
        if node is None or node.role != "normalization" or view.param(node.module, "weight") is None:
            return []
        found.append(node)
    return found


def _after_fix(graph: ModelGraph, branches: list[list[LayerNode]], factor: float) -> tuple[ModelGraph, Estimates]:
    view = View(graph, None)
    moments = {}
    for layers in branches:
        for layer in layers:
            weight = view.param(layer.module, "weight")
            if weight is not None:
                moments[weight.name] = scaled(weight, factor)
    fixed = with_params(graph, moments)
    return fixed, reestimate(fixed)


def _fix(norms: list[LayerNode], blocks: int, m: int, factor: float) -> Fix:
    if norms:
        names = sorted({n.module.rpartition(".")[2] for n in norms if n.module})
        local = names[0] if len(names) == 1 else "<last norm>"
        return Fix(
            f"start every block as the identity: zero the γ of the normalization that ends each branch "
            f"(`{local}`; Goyal et al. 2017 — torchvision's `zero_init_residual=True`)",
            "for module in model.modules():\n"
            f"    if hasattr(module, {local!r}):\n"
            f"        nn.init.zeros_(module.{local}.weight)",
        )
    return Fix(
        f"start every block as the identity: a learnable branch scale initialised to 0 (SkipInit/ReZero), or Fixup — "
        f"scale the {m} weight layers of each branch by L^(-1/(2m-2)) = {blocks}^(-1/{max(2 * m - 2, 1)}) = {factor:.3g} "
        "and zero the last one",
        "# SkipInit / ReZero: in the block's __init__\n"
        "self.alpha = nn.Parameter(torch.zeros(()))\n"
        "# and in its forward\n"
        "return x + self.alpha * branch_output",
    )


VALID = [
    """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(64) for _ in range(12)])
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.blocks(x))
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        for fc in (self.fc1, self.fc2):
            nn.init.kaiming_normal_(fc.weight, nonlinearity="relu")

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(64) for _ in range(12)])
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.blocks(x))
""",
        module="blocks.0",
        says="grows geometrically",
    ),
]
