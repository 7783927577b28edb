"""Attention logits are too large: `softmax(q @ kᵀ)` without the 1/√d_k scale, or logits whose std exceeds 4.

## What it does
For every explicit attention — a softmax whose input is `q @ kᵀ` of two activations (through masks,
reshapes and dropout) — it checks whether a scale (a multiplication or division by a constant, on
the logits or on `q`/`k`) is on the path; with head dimension d_k ≥ 16 and no scale it fires. For
explicit attention, `F.scaled_dot_product_attention` and `nn.MultiheadAttention` it also fires when
the predicted logit std reaches 4 (DESIGN §3: scale·√(d_k·E[q²]·E[k²]) from the static estimate).
The finding's `after_fix` re-estimates with the logits brought to scale.

## Why is this bad
With unit-variance q and k the dot product over d_k dimensions has std √d_k: 8 for d_k = 64. Softmax
over logits of std s concentrates on the largest (Σp² → 1 as e^{s²}/n grows): attention is nearly
one-hot at init, the gradient through every other key vanishes, and the few large logits make
training unstable (attention entropy collapse, Zhai et al. 2023). Vaswani et al. (2017) divide by
√d_k for exactly this reason.

## Example
```python
scores = q @ k.transpose(-2, -1)          # d_k = 64: logit std ≈ 8
weights = torch.softmax(scores, dim=-1)
```

## Use instead
```python
out = F.scaled_dot_product_attention(q, k, v)            # scales by 1/sqrt(d_k)
# or, by hand
scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
# when q and k themselves are large: QK-norm
q, k = self.q_norm(q), self.k_norm(k)                     # nn.LayerNorm(head_dim) each
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from gradlint.rulekit import (
    Example,
    Fix,
    Hit,
    LayerNode,
    RuleContext,
    Severity,
    View,
    concentration,
    frozen_mapping,
)

from ._whatif import reestimate, scaled, summary, with_params

CODE = "GL401"
NAME = "attention-logit-scale"
SEVERITY = Severity.WARNING
KIND = "attention"

#: DESIGN §3: no 1/√d_k scaling with d_k ≥ 16, or a logit std above 4, saturates the softmax.
MIN_HEAD_DIM = 16
MAX_LOGIT_STD = 4.0
#: Ops between the logits and the softmax that do not change their scale.
_MASKS = frozenset({"masked_fill", "masked_fill_", "where", "to", "float", "type_as"})
_SCALES = frozenset({"mul", "mul_", "__mul__", "__rmul__", "imul", "truediv", "div", "__truediv__", "div_"})
_PASS = frozenset({"reshape", "dropout"})

SDPA_FIX = "out = F.scaled_dot_product_attention(q, k, v)  # scales the logits by 1/sqrt(d_k)"
QK_NORM_FIX = (
    "# QK-norm: normalise q and k per head before the dot product\n"
    "self.q_norm = nn.LayerNorm(head_dim)\n"
    "self.k_norm = nn.LayerNorm(head_dim)\n"
    "...\n"
    "q, k = self.q_norm(q), self.k_norm(k)"
)


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    for node in graph.nodes:
        if node.role == "softmax" and node.op == "call_function" and node.target != "log_softmax":
            yield from _explicit(view, node)
        elif node.role == "attention" and node.op == "call_function":
            yield from _sdpa(view, node)
        elif node.role == "attention" and node.op == "call_module":
            yield from _multihead(view, node)


def _explicit(view: View, softmax: LayerNode) -> Iterator[Hit]:
    matmul, scaled_on_path = _logits_source(view, softmax)
    if matmul is None or len(matmul.inputs) < 2:
        return
    q_node, k_node = view.input_node(matmul, 0), view.input_node(matmul, 1)
    if q_node is None or k_node is None or _is_parameter(view, q_node) or _is_parameter(view, k_node):
        return  # x @ W: a linear layer, not attention
    scaled_on_path = scaled_on_path or _has_scale(view, q_node) or _has_scale(view, k_node) or "alpha" in matmul.attrs
    head_dim = (q_node.shape or (0,))[-1]
    std = view.forward_rms(softmax.inputs[0])
    if std is None:
        return
    unscaled = not scaled_on_path and head_dim >= MIN_HEAD_DIM
    if not unscaled and std < MAX_LOGIT_STD:
        return
    keys = (softmax.shape or (1,))[-1]
    projections = _projection(view, q_node), _projection(view, k_node)
    if unscaled:
        why = f"`softmax(q @ kᵀ)` has no 1/√d_k scale (d_k = {head_dim})"
        target = std / math.sqrt(head_dim)
        fix = Fix(
            f"divide the logits by √d_k = {math.sqrt(head_dim):.3g}, or use `F.scaled_dot_product_attention`",
            f"scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # d_k = {head_dim}\n# or\n{SDPA_FIX}",
        )
    else:
        why = "the scaled logits are still large (q and k have grown)"
        target = 1.0
        fix = Fix("normalise q and k per head (QK-norm) so the logits start at std ≈ 1", QK_NORM_FIX)
    # the product is the line to change: the scale belongs there
    yield _hit(view, matmul, why, std, keys, head_dim, fix, _after_projections(view, projections, std, target))


def _sdpa(view: View, node: LayerNode) -> Iterator[Hit]:
    if node.target != "scaled_dot_product_attention" or len(node.inputs) < 2:
        return
    q_node, k_node = view.input_node(node, 0), view.input_node(node, 1)
    if q_node is None or k_node is None or not q_node.shape:
        return
    head_dim = q_node.shape[-1]
    scale = node.attrs.get("scale")
    scale = float(scale) if isinstance(scale, int | float) else 1 / math.sqrt(head_dim)
    rms_q, rms_k = view.forward_rms(q_node.name), view.forward_rms(k_node.name)
    if rms_q is None or rms_k is None:
        return
    std = scale * math.sqrt(head_dim) * rms_q * rms_k
    if std < MAX_LOGIT_STD:
        return
    keys = (k_node.shape or (1,))[-2] if k_node.shape and len(k_node.shape) >= 2 else 1
    fix = Fix("normalise q and k per head (QK-norm) so the logits start at std ≈ 1", QK_NORM_FIX)
    projections = _projection(view, q_node), _projection(view, k_node)
    why = f"q and k reach `scaled_dot_product_attention` with RMS {rms_q:.3g} and {rms_k:.3g}"
    yield _hit(view, node, why, std, keys, head_dim, fix, _after_projections(view, projections, std, 1.0))


def _multihead(view: View, node: LayerNode) -> Iterator[Hit]:
    weight = view.param(node.module, "in_proj_weight")
    bias = view.param(node.module, "in_proj_bias")
    embed = int(node.attrs.get("embed_dim", 0) or 0)
    heads = int(node.attrs.get("num_heads", 1) or 1)
    if weight is None or len(weight.blocks) != 3 or not embed:
        return
    sources = [i for i in node.inputs if view.forward_rms(i) is not None]
    if not sources:
        return
    q_in = view.forward_rms(sources[0]) ** 2
    k_in = view.forward_rms(sources[min(1, len(sources) - 1)]) ** 2
    bias_sq = [b[1] for b in bias.blocks] if bias is not None and len(bias.blocks) == 3 else [0.0] * 3
    q_sq = embed * weight.blocks[0][1] * q_in + bias_sq[0]
    k_sq = embed * weight.blocks[1][1] * k_in + bias_sq[1]
    std = math.sqrt(q_sq * k_sq)  # (1/√d_h)² · d_h · E[q²] · E[k²]
    if std < MAX_LOGIT_STD:
        return
    keys = _sequence_length(view, node)
    blocks = list(weight.blocks)
    blocks[0] = (blocks[0][0] / math.sqrt(q_sq), blocks[0][1] / q_sq)
    blocks[1] = (blocks[1][0] / math.sqrt(k_sq), blocks[1][1] / k_sq)
    after = summary(reestimate(with_params(view.graph, {}, {weight.name: tuple(blocks)})))
    fix = Fix(
        "bring q and k to unit scale: initialise `in_proj_weight` at xavier_uniform_ (nn.MultiheadAttention's "
        "default), or normalise q and k per head (QK-norm) in a custom attention",
        f"nn.init.xavier_uniform_(model.get_submodule({node.module!r}).in_proj_weight)\n\n" + QK_NORM_FIX,
    )
    why = f"the q and k projections give E[q²] = {q_sq:.3g}, E[k²] = {k_sq:.3g}"
    yield _hit(
        view, node, why, std, keys, embed // heads, fix, {"change": "q, k projections scaled to unit RMS", **after}
    )


def _hit(
    view: View, node: LayerNode, why: str, std: float, keys: int, head_dim: int, fix: Fix, after: dict[str, Any] | None
) -> Hit:
    share = concentration(std * std, max(keys, 1), False) if keys > 1 else 1.0
    flat = 1 / max(keys, 1)
    if std >= 1.0:
        state = (
            f"over {keys} keys the softmax is {'nearly one-hot' if share > 0.5 else 'sharply peaked'} "
            f"(Σp² = {share:.2f}, flat is {flat:.2g}), so the gradient through all but a few keys vanishes"
        )
    else:
        # unscaled, but q and k start small (GPT-Neo's N(0, 0.02) projections): flat today, not once they grow
        state = (
            f"the softmax is still flat at init over {keys} keys (Σp² = {share:.2f}, flat is {flat:.2g}) only because q "
            f"and k are small; once they reach unit RMS the logits' std is √d_k = {math.sqrt(head_dim):.3g} and the "
            "softmax concentrates on a few keys, whose gradient alone gets through"
        )
    return Hit(
        message=f"attention logits have std {std:.3g} at init: {why}; {state}",
        module=node.module,
        location=node.location if node.op == "call_function" else None,
        fix=fix,
        evidence=frozen_mapping(
            {
                "logit_std": round(std, 4),
                "head_dim": head_dim,
                "keys": keys,
                "sum_p_sq": round(share, 4),
                **({"after_fix": after} if after is not None else {}),
            }
        ),
    )


def _logits_source(view: View, softmax: LayerNode) -> tuple[LayerNode | None, bool]:
    """The matmul behind a softmax's input (through masks, reshapes, dropout, scales), and whether a scale was crossed."""
    node = view.input_node(softmax)
    scaled_on_path = False
    for _ in range(16):
        if node is None:
            return None, scaled_on_path
        if node.role == "matmul":
            return node, scaled_on_path
        if node.target in _SCALES and _scalar_operand(view, node):
            scaled_on_path = True
            node = _tensor_operand(view, node)
            continue
        if node.role == "add" or node.target in _MASKS:
            node = _tensor_operand(view, node)  # a mask added or filled in: the logits pass unscaled
            continue
        if node.role in _PASS:
            node = view.input_node(node)
            continue
        return None, scaled_on_path
    return None, scaled_on_path


def _has_scale(view: View, node: LayerNode) -> bool:
    """A constant scale applied to q or k before the product (``q = q * self.scale``)."""
    for current in view.graph.upstream(node, limit=12, inclusive=True):
        if current.target in _SCALES and _scalar_operand(view, current):
            return True
        if current.role != "reshape":
            return False
    return False


def _scalar_operand(view: View, node: LayerNode) -> bool:
    """One operand is a Python number or a size expression (``math.sqrt(d)``), not a tensor."""
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in node.attrs.get("scalars", ())):
        return True
    return any((source := view.by_name.get(name)) is not None and source.shape is None for name in node.inputs)


def _tensor_operand(view: View, node: LayerNode) -> LayerNode | None:
    """The operand that carries the signal: the one with the largest predicted RMS."""
    tensors = [n for n in (view.by_name.get(i) for i in node.inputs) if n is not None and n.shape is not None]
    return max(tensors, key=lambda n: view.forward_rms(n.name) or 0.0, default=None)


def _is_parameter(view: View, node: LayerNode) -> bool:
    for current in view.graph.upstream(node, limit=8, inclusive=True):
        if current.op == "get_attr":
            return True
        if current.role != "reshape":
            return False
    return False


def _projection(view: View, node: LayerNode) -> LayerNode | None:
    """The Linear that produced q (or k), through reshapes and splits."""
    for current in view.graph.upstream(node, limit=12, inclusive=True):
        if current.op == "call_module" and current.role == "linear":
            return current
        if current.role != "reshape":
            return None
    return None


def _after_projections(
    view: View, projections: tuple[LayerNode | None, LayerNode | None], std: float, target: float
) -> dict[str, Any] | None:
    """Re-estimate with q's and k's projections scaled so the logit std becomes ``target``; None when they are one
    fused layer (scaling it would scale v too)."""
    q_layer, k_layer = projections
    if q_layer is None or k_layer is None or q_layer.module == k_layer.module:
        return None
    factor = math.sqrt(target / std)
    moments = {}
    for layer in (q_layer, k_layer):
        for local in ("weight", "bias"):
            stats = view.param(layer.module, local)
            if stats is not None:
                moments[stats.name] = scaled(stats, factor)
    after = summary(reestimate(with_params(view.graph, moments)))
    return {"change": f"q and k projections ×{factor:.3g} (logit std {std:.3g} → {target:.3g})", **after}


def _sequence_length(view: View, node: LayerNode) -> int:
    source = view.input_node(node)
    shape = source.shape if source is not None else None
    if not shape or len(shape) < 3:
        return 1
    return shape[1] if node.attrs.get("batch_first") else shape[0]


VALID = [
    """
import math
import torch
from torch import nn

class Attention(nn.Module):
    def __init__(self, d=128, heads=2):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.heads, -1).transpose(1, 2)
        k = self.k(x).view(b, t, self.heads, -1).transpose(1, 2)
        v = self.v(x).view(b, t, self.heads, -1).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        return (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, d)

EXAMPLE_INPUTS = (torch.randn(4, 16, 128),)
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class Attention(nn.Module):
    def __init__(self, d=128, heads=2):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        for lin in (self.q, self.k, self.v):
            nn.init.xavier_normal_(lin.weight)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.heads, -1).transpose(1, 2)
        k = self.k(x).view(b, t, self.heads, -1).transpose(1, 2)
        v = self.v(x).view(b, t, self.heads, -1).transpose(1, 2)
        scores = q @ k.transpose(-2, -1)
        return (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, d)

EXAMPLE_INPUTS = (torch.randn(4, 16, 128),)
""",
        says="has no 1/√d_k scale",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(64, 4, batch_first=True)
        nn.init.normal_(self.attn.in_proj_weight, std=0.5)

    def forward(self, x):
        out, _ = self.attn(x, x, x, need_weights=False)
        return out

EXAMPLE_INPUTS = (torch.randn(4, 16, 64),)
""",
    # GPT-Neo's pattern: unscaled, with projections at N(0, 0.02); flat at init, not once q and k grow
    """
import torch
from torch import nn

class Attention(nn.Module):
    def __init__(self, d=128, heads=2):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        for lin in (self.q, self.k, self.v):
            nn.init.normal_(lin.weight, std=0.02)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.heads, -1).transpose(1, 2)
        k = self.k(x).view(b, t, self.heads, -1).transpose(1, 2)
        v = self.v(x).view(b, t, self.heads, -1).transpose(1, 2)
        scores = q @ k.transpose(-2, -1)
        return (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, d)

EXAMPLE_INPUTS = (torch.randn(4, 16, 128),)
""",
]
