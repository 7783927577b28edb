"""Op rules that move values between positions: padding (zero, constant, reflection, replication, circular)
and resampling (``F.interpolate``, ``nn.Upsample``: nearest, linear, bilinear, bicubic, trilinear).

Resampling is linear and separable: along each spatial dimension, output o = Σ_j w_oj x_j with rows of w
summing to 1. For inputs independent across positions the part of E[x²] that varies between positions is
scaled by the mean of Σ_j w_oj² over outputs (forward), and a gradient independent across output positions
reaches each input as the mean of Σ_o w_oj² over inputs (backward); the part common to all positions of a
sample passes unchanged. The weights are read from torch's own interpolation of an identity matrix.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from gradlint.estimate.context import Backward, OpContext, ratio
from gradlint.estimate.layers import Op
from gradlint.estimate.signal import Signal, clamp

_PAD_MODULES = {"Reflection": "reflect", "Replication": "replicate", "Circular": "circular"}
_SMOOTH = {"linear", "bilinear", "bicubic", "trilinear"}


class PadOp(Op):
    """``F.pad`` and the padding layers: a constant pad dilutes the statistics with its value and passes each
    input's gradient once; reflection, replication and circular pads copy border values, whose gradients add."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def _mode(self, ctx: OpContext) -> str:
        if self.mode is not None:
            return self.mode
        kind = (ctx.node.module_type or "") if ctx.node.op == "call_module" else ""
        for prefix, mode in _PAD_MODULES.items():
            if kind.startswith(prefix):
                return mode
        mode = ctx.attrs.get("mode", "constant")
        return mode if isinstance(mode, str) else "constant"

    def _value(self, ctx: OpContext) -> float:
        value = ctx.attrs.get("value", 0.0)
        return float(value) if isinstance(value, int | float) and value is not None else 0.0

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        if self._mode(ctx) != "constant":
            return x
        kept = 1.0 / max(ratio(ctx.node.shape, ctx.input_shape(0)), 1.0)
        c = self._value(ctx)
        mix = lambda inside, outside: kept * inside + (1 - kept) * outside  # noqa: E731 - share of each region
        return clamp(
            Signal(
                q=mix(x.q, c * c),
                mean=mix(x.mean, c),
                shared=mix(x.shared, c * c),
                pos_shared=mix(x.pos_shared, c * c),
                sign=x.sign if c == 0 else 0,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        if self._mode(ctx) == "constant":
            return Backward(inputs={0: g})
        return Backward(inputs={0: g * ratio(ctx.node.shape, ctx.input_shape(0))})


class ResampleOp(Op):
    """``F.interpolate`` / ``nn.Upsample`` (and ``upsample_*``): nearest copies, the smooth modes average."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def _factors(self, ctx: OpContext) -> tuple[float, float]:
        """(forward, backward) factors on the position-varying part of the signal and on the gradient."""
        shape_in, shape_out = ctx.input_shape(0), ctx.node.shape
        if shape_in is None or shape_out is None or len(shape_in) != len(shape_out) or len(shape_in) < 3:
            self.uncertain = "resampling without traced shapes: assumed every value copied once"
            return 1.0, 1.0
        mode = self.mode or ctx.attrs.get("mode", "nearest")
        mode = mode if isinstance(mode, str) else "nearest"
        if mode not in _SMOOTH:
            return 1.0, ratio(shape_out, shape_in)  # nearest: each output copies one input
        # UpsamplingBilinear2d interpolates with align_corners=True whatever its attribute says
        align = bool(ctx.attrs.get("align_corners") or ctx.node.module_type == "UpsamplingBilinear2d")
        forward, backward = 1.0, 1.0
        for n_in, n_out in zip(shape_in[2:], shape_out[2:], strict=True):
            f, b = _weight_energy(int(n_in), int(n_out), "bicubic" if mode == "bicubic" else "linear", align)
            forward, backward = forward * f, backward * b
        return forward, backward

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        forward, _ = self._factors(ctx)
        return clamp(
            Signal(
                q=x.pos_shared + x.within_positions * forward,
                mean=x.mean,
                shared=x.shared,
                pos_shared=x.pos_shared,
                sign=x.sign,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        _, backward = self._factors(ctx)
        return Backward(inputs={0: g * backward})


@lru_cache(maxsize=256)
def _weight_energy(n_in: int, n_out: int, mode: str, align_corners: bool) -> tuple[float, float]:
    """Mean over outputs of Σ_j w_oj², and mean over inputs of Σ_o w_oj², for one dimension."""
    if n_in == n_out and not align_corners:
        return 1.0, 1.0
    eye = torch.eye(n_in, dtype=torch.float64)
    if mode == "bicubic":
        rows = F.interpolate(eye.view(n_in, 1, 1, n_in), size=(1, n_out), mode="bicubic", align_corners=align_corners)
    else:
        rows = F.interpolate(eye.view(n_in, 1, n_in), size=n_out, mode="linear", align_corners=align_corners)
    weights = rows.reshape(n_in, n_out)  # weights[j, o] = w_oj
    squared = weights.pow(2)
    forward = float(squared.sum(0).mean())
    backward = float(squared.sum(1).mean())
    return (forward if math.isfinite(forward) else 1.0), (backward if math.isfinite(backward) else 1.0)
