"""Softmax and attention: ``softmax(scale·QKᵀ + mask)·V`` in explicit form, as ``F.scaled_dot_product_attention``,
and inside ``nn.MultiheadAttention``.

For logits of variance s² over n keys, Σ_j p_j² ≈ r/(1+r) with r = e^{s²}/n: 1/n for flat
attention, → 1 as one key dominates (log-normal weights, Vaswani et al. 2017's motivation for
1/√d_k). A causal mask gives row i only i keys. The attention output keeps the part of V shared
across positions and averages the rest: q_out = shared_V + Σp²·(q_V − shared_V).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from gradlint.estimate.context import Backward, OpContext, mean_sq, weight_gradient_sq
from gradlint.estimate.layers import Op, affine_forward
from gradlint.estimate.signal import Signal, clamp
from gradlint.types import ParamStats


def _typical_row(logit_var: float, keys: int) -> torch.Tensor:
    """Softmax of a typical row: logits at the expected order statistics of ``keys`` Gaussians (Blom's
    approximation), which holds from flat attention (Σp² ≈ 1/n) to one key dominating."""
    k = torch.arange(1, keys + 1, dtype=torch.float64)
    quantiles = math.sqrt(2.0) * torch.special.erfinv(2 * (k - 0.375) / (keys + 0.25) - 1)
    return torch.softmax(math.sqrt(max(logit_var, 0.0)) * quantiles, dim=0)


@lru_cache(maxsize=1024)
def _row_stats(logit_var: float, keys: int) -> tuple[float, float]:
    """(Σ p², backward factor) of one row; the factor is E_i[p_i²(1 - 2p_i + Σp²)]·n, softmax's backward gain
    for independent upstream gradients (δx_i = p_i(δ_i - Σ_j p_j δ_j))."""
    if keys <= 1:
        return 1.0, 0.0
    p = _typical_row(logit_var, keys)
    sum_sq = float((p * p).sum())
    back = float((p * p * (1 - 2 * p + sum_sq)).sum())
    return sum_sq, back


def _rows(logit_var: float, keys: int, causal: bool) -> list[int]:
    if not causal or keys <= 1:
        return [keys]
    if keys <= 64:
        return list(range(1, keys + 1))
    # row i of a causal mask sees i keys; a log-spaced sample of lengths, weighted, stands for all rows
    return sorted({max(1, int(round(keys ** (j / 63)))) for j in range(64)} | {keys})


def concentration(logit_var: float, keys: int, causal: bool) -> float:
    """Expected Σ_j p_j² of one softmax row (averaged over rows when causal)."""
    return _average(logit_var, keys, causal, 0)


def backward_factor(logit_var: float, keys: int, causal: bool) -> float:
    """Σ_j E[p_j²(1 - 2p_j + Σp²)] averaged over rows: g_logits = g_p · factor / keys."""
    return _average(logit_var, keys, causal, 1)


def _average(logit_var: float, keys: int, causal: bool, which: int) -> float:
    key = round(logit_var, 4)
    rows = _rows(logit_var, keys, causal)
    if len(rows) == 1:
        return _row_stats(key, rows[0])[which]
    if rows == list(range(1, keys + 1)):
        return sum(_row_stats(key, n)[which] for n in rows) / keys
    weights = [b - a for a, b in zip([0, *rows[:-1]], rows)]
    return sum(w * _row_stats(key, n)[which] for w, n in zip(weights, rows)) / keys


@dataclass(frozen=True)
class AttentionShape:
    queries: int
    keys: int
    head_dim: int
    value_dim: int
    positions: float
    """Query rows times heads times batch: how many rows the attention has in all."""


class SoftmaxOp(Op):
    def __init__(self, log: bool = False) -> None:
        self.log = log

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        shape = ctx.node.shape or (1,)
        n = shape[-1]
        variance = max(x.q - x.mean * x.mean, 0.0)
        s = concentration(variance, n, x.causal)
        ctx.cache["concentration"] = s
        ctx.cache["back"] = backward_factor(variance, n, x.causal)
        if self.log:
            self.uncertain = "log_softmax: second moment approximated"
            return Signal(q=variance + (math.log(n) + variance / 2) ** 2, mean=-(math.log(n) + variance / 2))
        q = s / n
        return clamp(Signal(q=q, mean=1.0 / n, shared=1.0 / (n * n), probabilities=True))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        s, back = ctx.cache["concentration"], ctx.cache["back"]
        n = (ctx.node.shape or (1,))[-1]
        if self.log:
            return Backward(inputs={0: g * max(1 - 2 / n + s / n, 0.0)}, shared_inputs={0: 0.0})
        return Backward(inputs={0: g * back / n}, shared_inputs={0: 0.0})


def attend(
    q_sig: Signal, k_sig: Signal, v_sig: Signal, shape: AttentionShape, scale: float, causal: bool
) -> tuple[Signal, dict]:
    # the part of K shared across positions adds the same logit to every key: softmax ignores it
    logit_var = scale * scale * shape.head_dim * q_sig.q * k_sig.within_positions
    s = concentration(logit_var, shape.keys, causal)
    back = backward_factor(logit_var, shape.keys, causal)
    return mix_values(v_sig, s, shape.keys), {"s": s, "back": back, "logit_var": logit_var}


def mix_values(v_sig: Signal, s: float, keys: int) -> Signal:
    """Σ_j p_j v_j: the position-shared part of V passes whole, the rest is averaged (Σp² = s)."""
    return clamp(
        Signal(
            q=v_sig.pos_shared + s * v_sig.within_positions,
            mean=v_sig.mean,
            shared=v_sig.shared,
            pos_shared=v_sig.pos_shared + v_sig.within_positions / max(keys, 1),
        )
    )


def mix_values_backward(g: float, g_pos: float, s: float, queries: int, keys: int) -> tuple[float, float]:
    """(g, g_pos) at V for δV_j = Σ_i p_ij δout_i: a column of p sums to ≈ queries/keys."""
    spread = queries / max(keys, 1)
    independent = max(g - g_pos, 0.0)
    g_v = s * spread * independent + spread * spread * g_pos
    g_v_pos = spread * spread * g_pos + s * spread * independent / max(keys, 1)
    return g_v, g_v_pos


def attend_backward(
    q_sig: Signal,
    k_sig: Signal,
    v_sig: Signal,
    shape: AttentionShape,
    scale: float,
    cache: dict,
    g: float,
    g_pos: float,
) -> tuple[float, float, float, float]:
    """Per-element gradient variance of Q, K, V, and the position-shared part of V's."""
    s = cache["s"]
    n_q, n_k = shape.queries, shape.keys
    g_v, g_v_pos = mix_values_backward(g, g_pos, s, n_q, n_k)
    # δp_ij = δout_i·v_j over the value dimension; the part of V shared across keys cancels in softmax's backward.
    g_p = shape.value_dim * g * v_sig.within_positions
    g_logit = cache["back"] / max(n_k, 1) * g_p
    # δlogits sum to zero over keys, so K's position-shared part drops out of δQ
    g_q = scale * scale * n_k * g_logit * k_sig.within_positions
    g_k = scale * scale * n_q * g_logit * q_sig.q
    return g_q, g_k, g_v, g_v_pos


def _is_causal_mask(ctx: OpContext, index: int) -> bool:
    node = ctx.input_nodes[index] if index < len(ctx.input_nodes) else None
    signal = ctx.inputs[index] if index < len(ctx.inputs) else None
    return node is not None and signal is not None and signal.constant


def _query_heads_per_kv_head(q_shape: tuple[int, ...] | None, k_shape: tuple[int, ...] | None) -> int:
    if not q_shape or not k_shape or len(q_shape) < 3 or len(k_shape) < 3:
        return 1
    q_heads, kv_heads = q_shape[-3], k_shape[-3]
    return q_heads // kv_heads if 0 < kv_heads < q_heads and q_heads % kv_heads == 0 else 1


class SdpaOp(Op):
    """``F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale)``."""

    def _setup(self, ctx: OpContext) -> tuple[Signal, Signal, Signal, AttentionShape, float, bool]:
        q_sig, k_sig, v_sig = (ctx.inputs[i] or Signal(q=0.0) for i in range(3))
        q_shape, k_shape, v_shape = (
            ctx.input_shape(0) or (1, 1),
            ctx.input_shape(1) or (1, 1),
            ctx.input_shape(2) or (1, 1),
        )
        head_dim = q_shape[-1]
        scale = ctx.attrs.get("scale")
        scale = float(scale) if isinstance(scale, int | float) else 1 / math.sqrt(head_dim)
        causal = bool(ctx.attrs.get("is_causal", False)) or any(
            _is_causal_mask(ctx, i) for i in range(3, len(ctx.inputs))
        )
        shape = AttentionShape(q_shape[-2], k_shape[-2], head_dim, v_shape[-1], q_shape[0] if q_shape else 1)
        return q_sig, k_sig, v_sig, shape, scale, causal

    def forward(self, ctx: OpContext) -> Signal:
        q_sig, k_sig, v_sig, shape, scale, causal = self._setup(ctx)
        out, cache = attend(q_sig, k_sig, v_sig, shape, scale, causal)
        ctx.cache.update(cache)
        return out

    def backward(self, ctx: OpContext, g: float) -> Backward:
        q_sig, k_sig, v_sig, shape, scale, _ = self._setup(ctx)
        g_q, g_k, g_v, g_v_pos = attend_backward(q_sig, k_sig, v_sig, shape, scale, ctx.cache, g, ctx.g_pos)
        # grouped-query attention (``enable_gqa``): each K/V head serves a group of query heads, whose
        # independent gradients add up on it (an fx or export graph shows this as an expand before the call)
        group = _query_heads_per_kv_head(ctx.input_shape(0), ctx.input_shape(1))
        g_k, g_v, g_v_pos = group * g_k, group * g_v, group * g_v_pos
        result = Backward()
        for index, value in ((0, g_q), (1, g_k), (2, g_v)):
            result.inputs[index] = result.inputs.get(index, 0.0) + value
            result.shared_inputs[index] = result.shared_inputs.get(index, 0.0)
        result.shared_inputs[2] += g_v_pos
        return result


class MultiheadAttentionOp(Op):
    """``nn.MultiheadAttention``: in-projection (q, k, v blocks), scaled dot-product attention per head, out-projection."""

    def _blocks(self, ctx: OpContext) -> tuple[list, list]:
        weight = ctx.param("in_proj_weight")
        bias = ctx.param("in_proj_bias")
        if weight is not None and weight.blocks:
            w_blocks = [_Stats(m, sq) for m, sq in weight.blocks]
        else:
            w_blocks = [_Stats(0.0, mean_sq(ctx.param(f"{n}_proj_weight"))) for n in "qkv"]
        if bias is not None and bias.blocks:
            b_blocks = [_Stats(m, sq) for m, sq in bias.blocks]
        else:
            b_blocks = [_Stats(0.0, 0.0)] * 3
        return w_blocks, b_blocks

    def _geometry(self, ctx: OpContext) -> tuple[int, int, int, int, float]:
        embed = int(ctx.attrs.get("embed_dim", (ctx.input_shape(0) or (1,))[-1]))
        heads = int(ctx.attrs.get("num_heads", 1))
        shape = ctx.input_shape(0) or (1, 1, embed)
        batch_first = bool(ctx.attrs.get("batch_first", False))
        length = shape[1] if batch_first else shape[0]
        key_shape = ctx.input_shape(1) if len(ctx.inputs) > 1 else None
        keys = (
            (key_shape[1] if batch_first else key_shape[0]) if key_shape is not None and len(key_shape) == 3 else length
        )
        positions = (shape[0] * shape[1]) if len(shape) == 3 else shape[0]
        return embed, heads, length, keys, positions

    def _sources(self, ctx: OpContext) -> list[int]:
        """Input index feeding query, key and value (self-attention passes one tensor three times)."""
        tensors = [i for i, s in enumerate(ctx.inputs) if s is not None and not s.constant]
        if not tensors:
            return [0, 0, 0]
        return [tensors[min(i, len(tensors) - 1)] for i in range(3)]

    def forward(self, ctx: OpContext) -> Signal:
        embed, heads, length, keys, _ = self._geometry(ctx)
        w_blocks, b_blocks = self._blocks(ctx)
        sources = self._sources(ctx)
        projected = []
        for block, source in enumerate(sources):
            x = ctx.inputs[source] or Signal(q=0.0)
            projected.append(affine_forward(x, embed, _as_stats(w_blocks[block]), _as_stats(b_blocks[block])))
        head_dim = embed // max(heads, 1)
        causal = any(s is not None and s.constant for s in ctx.inputs)
        shape = AttentionShape(length, keys, head_dim, head_dim, 1.0)
        attended, cache = attend(*projected, shape, 1 / math.sqrt(head_dim), causal)
        out = affine_forward(attended, embed, ctx.param("out_proj.weight"), ctx.param("out_proj.bias"))
        ctx.cache.update(cache, projected=projected, attended=attended, shape=shape, causal=causal)
        return out

    def backward(self, ctx: OpContext, g: float) -> Backward:
        embed, heads, _, _, positions = self._geometry(ctx)
        w_blocks, _ = self._blocks(ctx)
        out_weight = ctx.param("out_proj.weight")
        attended = ctx.cache["attended"]
        out_gain = embed * mean_sq(out_weight)
        g_attended, g_attended_pos = out_gain * g, out_gain * ctx.g_pos
        result = Backward()
        if out_weight is not None:
            result.weights[out_weight.name] = weight_gradient_sq(
                positions, ctx.batch, g, ctx.g_pos, attended, ctx.centered
            )
        head_dim = embed // max(heads, 1)
        g_q, g_k, g_v, g_v_pos = attend_backward(
            *ctx.cache["projected"], ctx.cache["shape"], 1 / math.sqrt(head_dim), ctx.cache, g_attended, g_attended_pos
        )
        sources = self._sources(ctx)
        in_weight = ctx.param("in_proj_weight")
        block_grads = []
        for block, (source, g_block, g_block_pos) in enumerate(zip(sources, (g_q, g_k, g_v), (0.0, 0.0, g_v_pos))):
            x = ctx.inputs[source] or Signal(q=0.0)
            block_grads.append(weight_gradient_sq(positions, ctx.batch, g_block, g_block_pos, x, ctx.centered))
            gain = embed * w_blocks[block].mean_sq
            result.inputs[source] = result.inputs.get(source, 0.0) + gain * g_block
            result.shared_inputs[source] = result.shared_inputs.get(source, 0.0) + gain * g_block_pos
        if in_weight is not None:
            result.weights[in_weight.name] = sum(block_grads) / 3
        else:
            for name, value in zip("qkv", block_grads):
                stats = ctx.param(f"{name}_proj_weight")
                if stats is not None:
                    result.weights[stats.name] = value
        return result


@dataclass(frozen=True)
class _Stats:
    mean: float
    mean_sq: float


def _as_stats(block: _Stats) -> ParamStats:
    return ParamStats("", "", (), block.mean, block.mean_sq)
