"""Op rules for layers: Linear (and HF Conv1D), Conv/ConvTranspose, norms, activations, dropout, pooling, embedding.

Each rule maps input ``Signal``s to the output ``Signal`` (forward) and the output's gradient
variance per element ``g`` to its inputs' and weights' (backward), following DESIGN §3:
``q_out = fan_in·E[W²]·q_in + E[b²]``, ``g_in = fan_out_eff·E[W²]·g_out``, and a weight's
gradient ``E[(∂L/∂W)²] = N·g_out·q_in`` over the N positions it is applied at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gradlint.estimate.context import Backward, OpContext, mean_of, mean_sq, numel, ratio, weight_gradient_sq
from gradlint.estimate.gaussian import activation_function, expected_max_moments, expected_max_slope_sq, moments
from gradlint.estimate.reparam import effective_weight
from gradlint.estimate.signal import Signal, clamp
from gradlint.trace.ops import functional_conv_attrs
from gradlint.types import ParamStats


class Op:
    """An op rule. ``uncertain`` is set when the rule had to guess, with the reason."""

    uncertain: str | None = None

    def forward(self, ctx: OpContext) -> Signal:
        raise NotImplementedError

    def backward(self, ctx: OpContext, g: float) -> Backward:
        raise NotImplementedError


def affine_forward(
    x: Signal, fan_in: float, w: ParamStats | None, b: ParamStats | None, coverage: float = 1.0
) -> Signal:
    """y = W x + b with W's entries independent of x: second moment, mean and the per-unit shared part."""
    w_sq, w_mean = mean_sq(w), mean_of(w)
    b_sq, b_mean = mean_sq(b), mean_of(b)
    taps = fan_in * coverage
    # Off-diagonal terms: E[W_ij W_ik] ≈ mean(W)² and E[x_j x_k] ≈ mean(x)² for j ≠ k.
    cross = taps * max(taps - 1, 0.0) * w_mean * w_mean * x.mean * x.mean
    mean = taps * w_mean * x.mean + b_mean
    q = taps * w_sq * x.q + cross + b_sq + 2 * b_mean * taps * w_mean * x.mean
    shared = q - taps * w_sq * x.within
    pos_shared = q - taps * w_sq * x.within_positions
    return clamp(Signal(q=q, mean=mean, shared=shared, pos_shared=pos_shared))


class LinearOp(Op):
    """nn.Linear, transformers' Conv1D (weight stored in×out), and F.linear with a parameter weight."""

    def __init__(self, weight_name: str | None = None, bias_name: str | None = None) -> None:
        self.weight_name = weight_name
        self.bias_name = bias_name

    def _params(self, ctx: OpContext) -> tuple[ParamStats | None, ParamStats | None]:
        if self.weight_name is not None:
            return effective_weight(ctx.graph.params, self.weight_name), ctx.graph.params.get(self.bias_name or "")
        return ctx.param("weight"), ctx.param("bias")

    def _fans(self, ctx: OpContext, weight: ParamStats | None) -> tuple[int, int]:
        if "in_features" in ctx.attrs and "out_features" in ctx.attrs:
            return int(ctx.attrs["in_features"]), int(ctx.attrs["out_features"])
        if weight is not None and len(weight.shape) == 2:
            return weight.shape[1], weight.shape[0]
        shape_in, shape_out = ctx.input_shape(0), ctx.node.shape
        return (shape_in[-1] if shape_in else 1), (shape_out[-1] if shape_out else 1)

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        weight, bias = self._params(ctx)
        fan_in, _ = self._fans(ctx, weight)
        return affine_forward(x, fan_in, weight, bias)

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        weight, bias = self._params(ctx)
        fan_in, fan_out = self._fans(ctx, weight)
        positions = numel(ctx.input_shape(0)) / max(fan_in, 1)
        result = Backward(inputs={0: fan_out * mean_sq(weight) * g})
        if weight is not None:
            result.weights[weight.name] = weight_gradient_sq(positions, ctx.batch, g, ctx.g_pos, x, ctx.centered)
        return result


def _pairs(
    length_in: int, length_out: int, kernel: int, stride: int, padding: int, dilation: int, transposed: bool
) -> int:
    """Valid (output position, tap) pairs along one dimension; zero padding makes border taps invalid."""
    count = 0
    if transposed:
        for i in range(length_in):
            for k in range(kernel):
                o = i * stride - padding + k * dilation
                count += 0 <= o < length_out
        return count
    for o in range(length_out):
        for k in range(kernel):
            i = o * stride - padding + k * dilation
            count += 0 <= i < length_in
    return count


class ConvOp(Op):
    """nn.Conv1d/2d/3d and nn.ConvTranspose*: the linear rule with the taps that really hit the input."""

    def _attrs(self, ctx: OpContext) -> Mapping[str, Any]:
        return ctx.attrs

    def _param(self, ctx: OpContext, local: str) -> ParamStats | None:
        return ctx.param(local)

    def _geometry(self, ctx: OpContext) -> dict[str, Any]:
        if "geometry" in ctx.cache:
            return ctx.cache["geometry"]
        attrs = self._attrs(ctx)
        shape_in, shape_out = ctx.input_shape(0), ctx.node.shape
        kernel = tuple(attrs.get("kernel_size", (1,)))
        dims = len(kernel)
        stride = tuple(attrs.get("stride", (1,) * dims))
        dilation = tuple(attrs.get("dilation", (1,) * dims))
        padding_attr = attrs.get("padding", (0,) * dims)
        if isinstance(padding_attr, str):
            padding = (
                tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation)) if padding_attr == "same" else (0,) * dims
            )
        else:
            padding = tuple(padding_attr)
        groups = int(attrs.get("groups", 1))
        transposed = bool(attrs.get("transposed", False))
        zero_padded = attrs.get("padding_mode", "zeros") == "zeros"
        pairs = []
        if shape_in is not None and shape_out is not None and len(shape_in) >= dims + 1 and len(shape_out) >= dims + 1:
            for d in range(dims):
                length_in, length_out = shape_in[-dims + d], shape_out[-dims + d]
                if zero_padded:
                    pairs.append(
                        _pairs(length_in, length_out, kernel[d], stride[d], padding[d], dilation[d], transposed)
                    )
                else:
                    pairs.append((length_in if transposed else length_out) * kernel[d])
            lengths_in = shape_in[-dims:]
            lengths_out = shape_out[-dims:]
            batch = numel(shape_in[: -dims - 1])
        else:
            self.uncertain = "convolution without traced shapes: assumed every tap valid"
            pairs = list(kernel)
            lengths_in = lengths_out = (1,) * dims
            batch = 1
        geometry = {
            "kernel": kernel,
            "pairs": pairs,
            "lengths_in": lengths_in,
            "lengths_out": lengths_out,
            "batch": batch,
            "groups": groups,
            "transposed": transposed,
            "in_channels": int(attrs.get("in_channels", 1)),
            "out_channels": int(attrs.get("out_channels", 1)),
        }
        ctx.cache["geometry"] = geometry
        return geometry

    def _weight(self, ctx: OpContext) -> ParamStats | None:
        """The kernel the convolution applies: the parameter, or its standardised form (timm's StdConv)."""
        weight = self._param(ctx, "weight")
        if weight is None or not self._attrs(ctx).get("weight_standardized"):
            return weight
        gain = self._param(ctx, "gain")
        gain_sq = 1.0 if gain is None else mean_sq(gain)
        return replace(weight, mean=0.0, mean_sq=float(self._attrs(ctx).get("weight_scale", 1.0)) ** 2 * gain_sq)

    def forward(self, ctx: OpContext) -> Signal:
        geo = self._geometry(ctx)
        per_output = math.prod(p / n for p, n in zip(geo["pairs"], geo["lengths_out"]))
        fan_in_taps = geo["in_channels"] / geo["groups"] * per_output
        full = geo["in_channels"] / geo["groups"] * math.prod(geo["kernel"])
        return affine_forward(
            self._input(ctx), full, self._weight(ctx), self._param(ctx, "bias"), coverage=fan_in_taps / max(full, 1e-12)
        )

    def _input(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        if not self._attrs(ctx).get("weight_standardized"):
            return x
        # Each standardised kernel row sums to zero: the input's mean, common to all its taps, cancels.
        offset = x.mean * x.mean
        return clamp(Signal(q=x.q - offset, shared=x.shared - offset, pos_shared=x.pos_shared - offset))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = self._input(ctx)
        geo = self._geometry(ctx)
        weight = self._weight(ctx)
        per_input = math.prod(p / n for p, n in zip(geo["pairs"], geo["lengths_in"]))
        fan_out_eff = geo["out_channels"] / geo["groups"] * per_input
        result = Backward(inputs={0: fan_out_eff * mean_sq(weight) * g})
        if weight is not None:
            uses = geo["batch"] * math.prod(p / k for p, k in zip(geo["pairs"], geo["kernel"]))
            applied = weight_gradient_sq(uses, ctx.batch, g, ctx.g_pos, x, ctx.centered)
            if self._attrs(ctx).get("weight_standardized"):
                result.weights.update(self._standardized_gradients(ctx, weight, applied, g, x))
            else:
                result.weights[weight.name] = applied
        return result

    def _standardized_gradients(
        self, ctx: OpContext, used: ParamStats, applied: float, g: float, x: Signal
    ) -> dict[str, float]:
        """From the applied kernel's gradient to the raw weight's and the gain's.

        W_used = ĝ·s·(W - μ)/σ: the raw weight's gradient is the applied one times (ĝ·s/σ)², less the
        two directions the standardisation projects out. The gain scales its channel's output, so its
        gradient is that of a per-channel scale: Σ δ·y over the channel's positions, with y the output
        of the unit-gain kernel (coherent across the positions of a sample, as a norm's γ is).
        """
        raw = self._param(ctx, "weight")
        gradients: dict[str, float] = {}
        if raw is not None:
            variance = mean_sq(raw) - mean_of(raw) ** 2 + float(self._attrs(ctx).get("eps", 1e-5))
            gradients[raw.name] = applied * used.mean_sq / variance
        gain = self._param(ctx, "gain")
        if gain is not None:
            geo = self._geometry(ctx)
            full = geo["in_channels"] / geo["groups"] * math.prod(geo["kernel"])
            per_output = math.prod(p / n for p, n in zip(geo["pairs"], geo["lengths_out"]))
            unit_kernel = replace(used, mean_sq=float(self._attrs(ctx).get("weight_scale", 1.0)) ** 2)
            y = affine_forward(
                x, full, unit_kernel, None, coverage=per_output * geo["in_channels"] / geo["groups"] / max(full, 1e-12)
            )
            uses = geo["batch"] * math.prod(geo["lengths_out"])
            gradients[gain.name] = weight_gradient_sq(uses, ctx.batch, g, ctx.g_pos, y, ctx.centered)
        return gradients


class BatchNormOp(Op):
    """Train-mode BatchNorm: normalises each channel over the batch (and positions), removing the shared part."""

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        gamma, beta = ctx.param("weight"), ctx.param("bias")
        gamma_sq = mean_sq(gamma) if gamma is not None else 1.0
        beta_sq = mean_sq(beta)
        eps = float(ctx.attrs.get("eps", 1e-5))
        within = x.within
        normalised = within / (within + eps)
        pos_shared = gamma_sq * max(x.pos_shared - x.shared, 0.0) / (within + eps) + beta_sq
        return clamp(
            Signal(q=gamma_sq * normalised + beta_sq, mean=mean_of(beta), shared=beta_sq, pos_shared=pos_shared)
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        gamma = ctx.param("weight")
        gamma_sq = mean_sq(gamma) if gamma is not None else 1.0
        eps = float(ctx.attrs.get("eps", 1e-5))
        shape = ctx.input_shape(0)
        channels = shape[1] if shape and len(shape) > 1 else 1
        per_channel = numel(shape) / max(channels, 1)
        if per_channel <= 3:
            return Backward(inputs={0: 0.0}, centered=True)
        kept, kept_pos = self._projection(ctx, x, g, shape, per_channel)
        # The backward projects (see _projection) and divides by the batch's own variance, whose inverse
        # has mean N/(N-3) times 1/σ².
        scale = gamma_sq / (x.within + eps) * per_channel / (per_channel - 3)
        return Backward(inputs={0: g * kept * scale}, shared_inputs={0: ctx.g_pos * kept_pos * scale}, centered=True)

    @staticmethod
    def _projection(
        ctx: OpContext, x: Signal, g: float, shape: tuple[int, ...] | None, per_channel: float
    ) -> tuple[float, float]:
        """The fractions of the gradient's variance, and of its position-shared part, that survive BN's
        backward projection: out of each channel's N = batch x positions values it removes the mean and
        the normalised input x̂ (2 of N directions for a gradient independent across the N values).

        The position-shared part of the gradient (g_pos: below a global pooling, most of it) lies in the
        B directions constant within each sample, which hold the mean: the mean removes 1/B of it, not
        1/N (half of it at batch 2). x̂ puts the fraction c of its energy there: (B-1)/(N-1) by chance,
        more when the input is itself position-shared; it takes c/B more of it. Without positions
        (B = N) this is (N - 2)/N again.
        """
        batch = shape[0] if shape else 1
        isotropic = (per_channel - 2) / per_channel
        if batch >= per_channel or g <= 0:
            return isotropic, isotropic
        chance = (batch - 1) / (per_channel - 1)
        within = x.within
        excess = min(max(x.pos_shared - x.shared, 0.0) / within, 1.0) if within > 0 else 0.0
        c = chance + (1 - chance) * excess
        coherent = min(ctx.g_pos / g, 1.0)
        kept_pos = max(batch - 1 - c, 0.0) / batch
        return coherent * kept_pos + (1 - coherent) * isotropic, kept_pos


class FeatureNormOp(Op):
    """LayerNorm, GroupNorm, InstanceNorm and RMSNorm: normalise each sample over its features."""

    def __init__(self, subtract_mean: bool = True) -> None:
        self.subtract_mean = subtract_mean

    def _scale(self, ctx: OpContext, x: Signal) -> tuple[float, float]:
        eps = ctx.attrs.get("eps")
        eps = float(eps) if isinstance(eps, int | float) else 1e-5
        variance = x.q - x.mean * x.mean if self.subtract_mean else x.q
        return max(variance, 0.0), eps

    def _group_size(self, ctx: OpContext) -> int:
        shape = ctx.input_shape(0) or ()
        normalized = ctx.attrs.get("normalized_shape")
        target = ctx.node.target if ctx.node.op == "call_function" else None
        if target in ("layer_norm", "rms_norm") and normalized is None:
            # F.layer_norm(x, (d,), ...): the shape is the first number argument, else the weight's
            sizes = [v for v in ctx.attrs.get("scalars", ()) if isinstance(v, tuple) and v]
            weight = ctx.param("weight")
            normalized = sizes[0] if sizes else (weight.shape if weight is not None else None)
        if isinstance(normalized, tuple) and normalized:
            return numel(tuple(normalized))
        groups = ctx.attrs.get("num_groups")
        if target == "group_norm" and groups is None:
            groups = next((v for v in ctx.attrs.get("scalars", ()) if isinstance(v, int) and v > 0), 1)
        if groups is not None and len(shape) > 1:
            return numel(shape[1:]) // max(int(groups), 1)
        instance = target == "instance_norm" or (ctx.node.module_type and "Instance" in ctx.node.module_type)
        if len(shape) > 2 and instance:
            return numel(shape[2:])
        return shape[-1] if shape else 1

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        gamma, beta = ctx.param("weight"), ctx.param("bias")
        gamma_sq = mean_sq(gamma) if gamma is not None else 1.0
        beta_sq, beta_mean = mean_sq(beta), mean_of(beta)
        variance, eps = self._scale(ctx, x)
        scale = 1.0 / (variance + eps)
        centred_q = (x.q - x.mean * x.mean) if self.subtract_mean else x.q
        centred_shared = (x.shared - x.mean * x.mean) if self.subtract_mean else x.shared
        centred_pos = (x.pos_shared - x.mean * x.mean) if self.subtract_mean else x.pos_shared
        mean = beta_mean + (0.0 if self.subtract_mean else mean_of(gamma) * x.mean * math.sqrt(scale))
        return clamp(
            Signal(
                q=gamma_sq * centred_q * scale + beta_sq,
                mean=mean,
                shared=gamma_sq * centred_shared * scale + beta_sq,
                pos_shared=gamma_sq * centred_pos * scale + beta_sq,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        gamma = ctx.param("weight")
        gamma_sq = mean_sq(gamma) if gamma is not None else 1.0
        variance, eps = self._scale(ctx, x)
        size = self._group_size(ctx)
        removed = 2 if self.subtract_mean else 1
        projection = max(1 - removed / size, 0.0) if size > removed else 0.0
        return Backward(inputs={0: g * gamma_sq / (variance + eps) * projection})


class NormalizeOp(Op):
    """``F.normalize(x, p=2, dim=d)``: ``x / ‖x‖`` over one dimension (an RMSNorm written as ``normalize(x)·g·√d``).

    Every vector comes out with norm 1, so each element has second moment 1/n; the Jacobian
    ``(I - uuᵀ)/‖x‖`` passes ``(1 - 1/n)/(n·E[x²])`` of the gradient's second moment.
    """

    def _size(self, ctx: OpContext) -> int:
        shape = ctx.input_shape(0) or ()
        layout = tuple(ctx.attrs.get("layout", ()))
        dim = ctx.attrs.get("dim", layout[2] if len(layout) > 2 else 1)
        if not shape or not isinstance(dim, int) or not -len(shape) <= dim < len(shape):
            return 1
        return int(shape[dim])

    def _scale(self, ctx: OpContext, x: Signal) -> float:
        eps = ctx.attrs.get("eps")
        eps = float(eps) if isinstance(eps, int | float) else 1e-12
        return 1.0 / max(self._size(ctx) * x.q, eps * eps, 1e-300)

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        scale = self._scale(ctx, x)
        return clamp(
            Signal(
                q=x.q * scale, mean=x.mean * math.sqrt(scale), shared=x.shared * scale, pos_shared=x.pos_shared * scale
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        size = self._size(ctx)
        projection = max(1 - 1 / size, 0.0)
        return Backward(inputs={0: g * self._scale(ctx, x) * projection})


class FunctionalConvOp(ConvOp):
    """``F.conv1d/2d/3d`` with a parameter kernel, reached through reshapes (Mamba's causal depthwise conv)."""

    def __init__(self, weight_name: str, bias_name: str | None) -> None:
        self.names = {"weight": weight_name, "bias": bias_name}

    def _param(self, ctx: OpContext, local: str) -> ParamStats | None:
        name = self.names.get(local)
        return effective_weight(ctx.graph.params, name) if name is not None else None

    def _attrs(self, ctx: OpContext) -> Mapping[str, Any]:
        if "functional_attrs" not in ctx.cache:
            weight = self._param(ctx, "weight")
            ctx.cache["functional_attrs"] = functional_conv_attrs(
                ctx.attrs, weight.shape if weight is not None else (1, 1, 1)
            )
        return ctx.cache["functional_attrs"]


NON_NEGATIVE_ACTIVATIONS = frozenset({"relu", "relu6", "softplus", "sigmoid", "hardsigmoid", "exp"})


class ActivationOp(Op):
    def __init__(self, name: str) -> None:
        self.name = name

    def _moments(self, ctx: OpContext, x: Signal):  # noqa: ANN202 - Moments | None
        return moments(self.name, ctx.attrs, x.mean, x.q, x.shared)

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        found = self._moments(ctx, x)
        if found is None:
            self.uncertain = f"activation {self.name!r} has no mean-field rule: assumed gain 1"
            return x
        ctx.cache["moments"] = found
        by_position = moments(self.name, ctx.attrs, x.mean, x.q, x.pos_shared)
        return clamp(
            Signal(
                q=found.second,
                mean=found.mean,
                shared=found.shared,
                pos_shared=by_position.shared if by_position is not None else found.shared,
                pre_activation=(self.name, x.mean, x.q),
                sign=1 if self.name in NON_NEGATIVE_ACTIVATIONS else 0,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        found = ctx.cache.get("moments")
        if found is None:
            return Backward(inputs={0: g})
        # δ·φ'(x): the position-shared part of δ is scaled by the mean slope, the rest by its second moment
        # the slope varies over the batch: δ·φ'(x) no longer sums to zero where δ did (below a BatchNorm)
        return Backward(
            inputs={0: g * found.slope_sq}, shared_inputs={0: ctx.g_pos * found.slope_mean**2}, centered=False
        )


class GluOp(Op):
    """GLU: a ⊙ σ(b) over the two halves of the last dimension."""

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        gate = moments("sigmoid", {}, x.mean, x.q, x.shared)
        ctx.cache["gate"] = gate
        return clamp(
            Signal(
                q=x.q * gate.second,
                mean=x.mean * gate.mean,
                shared=x.shared * gate.shared,
                pos_shared=x.pos_shared * gate.shared,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        gate = ctx.cache["gate"]
        # each input element sits in one half: average the value half's and the gate half's gradients
        return Backward(inputs={0: g * (gate.second + x.q * gate.slope_sq) / 2}, centered=False)


class DropoutOp(Op):
    """Dropout in train mode (the protocol's mode): scales kept units by 1/(1-p)."""

    def _p(self, ctx: OpContext) -> float:
        attrs = ctx.attrs
        if "p" in attrs:
            return float(attrs["p"])
        scalars = [s for s in attrs.get("scalars", ()) if isinstance(s, float)]
        training = attrs.get("training", attrs.get("train", True))
        if training is False:
            return 0.0
        return scalars[0] if scalars else 0.5

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        p = self._p(ctx)
        if p >= 1.0:
            return Signal(q=0.0)
        return clamp(replace(x, q=x.q / (1 - p), pre_activation=None))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        p = self._p(ctx)
        # the mask averages out of the position-shared part: E[mask/(1-p)] = 1
        return Backward(
            inputs={0: g / (1 - p) if p < 1 else 0.0}, shared_inputs={0: ctx.g_pos if p < 1 else 0.0}, centered=False
        )


class PoolOp(Op):
    """Max and average pooling (fixed or adaptive windows); ``mean`` over dimensions too."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _window(self, ctx: OpContext) -> float:
        kernel = ctx.attrs.get("kernel_size")
        if isinstance(kernel, tuple) and kernel and self.kind == "max" and "output_size" not in ctx.attrs:
            return float(math.prod(kernel))
        if isinstance(kernel, int) and self.kind == "max":
            shape = ctx.input_shape(0) or ()
            return float(kernel ** max(len(shape) - 2, 1))
        return max(ratio(ctx.input_shape(0), ctx.node.shape), 1.0)

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        window = self._window(ctx)
        if self.kind == "max":
            fn, mean, q = None, x.mean, x.q
            if x.pre_activation is not None:
                name, mean, q = x.pre_activation
                fn = activation_function(name, {})
            first, second = expected_max_moments(int(round(window)), mean, max(q - mean * mean, 0.0), fn)
            # The maximum of a window is biased upward: its mean is common to every sample and position
            # of a unit, and the spread of the unit means (shared - mean²) shifts the maximum as it shifts
            # each value (max(x + c) = max(x) + c). A BatchNorm after it removes that mean.
            shared = first * first + max(x.shared - x.mean * x.mean, 0.0)
            pos_shared = first * first + max(x.pos_shared - x.mean * x.mean, 0.0)
            return clamp(Signal(q=second, mean=first, shared=shared, pos_shared=pos_shared, sign=x.sign))
        return clamp(
            Signal(q=x.pos_shared + x.within_positions / window, mean=x.mean, shared=x.shared, pos_shared=x.pos_shared)
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        covered = ratio(ctx.node.shape, ctx.input_shape(0))
        if self.kind == "max":
            return Backward(inputs={0: g * covered * self._winner_slope_factor(ctx)})
        return Backward(inputs={0: g * covered / self._window(ctx)})

    def _winner_slope_factor(self, ctx: OpContext) -> float:
        """The pooled maximum sits where the preceding activation is steepest (a ReLU's winner is almost
        always positive): the activation's backward, which assumes an average slope, is corrected here."""
        x = ctx.inputs[0]
        if x is None or x.pre_activation is None:
            return 1.0
        name, mean, q = x.pre_activation
        fn = activation_function(name, {})
        found = moments(name, {}, mean, q, 0.0)
        if fn is None or found is None or found.slope_sq <= 0:
            return 1.0
        variance = max(q - mean * mean, 0.0)
        return expected_max_slope_sq(int(round(self._window(ctx))), mean, variance, fn) / found.slope_sq


class EmbeddingOp(Op):
    """Looks rows up by integer ids: the output has the table's statistics; ids take no gradient."""

    def forward(self, ctx: OpContext) -> Signal:
        table = ctx.param_input(1) if ctx.node.op == "call_function" else ctx.param("weight")
        if table is None:
            self.uncertain = "embedding table not found"
            return Signal(q=1.0)
        common = mean_of(table) ** 2
        return clamp(Signal(q=mean_sq(table), mean=mean_of(table), shared=common, pos_shared=common))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        # ``F.embedding(ids, self.table)`` with a table of the model's own is a weight of the protocol: row i
        # sums the gradients of the positions that read it, E[G²] = (positions reading it)·g, on average
        # numel(ids)/rows·g (a table owned by nn.Embedding is not a weight, and gets the same for nothing)
        table = ctx.param_input(1) if ctx.node.op == "call_function" else None
        if table is None or not table.shape:
            return Backward()
        return Backward(weights={table.name: numel(ctx.input_shape(0)) / max(table.shape[0], 1) * g})


class IdentityOp(Op):
    """Reshapes, permutes, copies, casts, slices: statistics pass; a slice or broadcast rescales the gradient."""

    def forward(self, ctx: OpContext) -> Signal:
        signals = ctx.signal_inputs()
        if not signals:
            return ctx.inputs[0] if ctx.inputs and ctx.inputs[0] is not None else Signal(q=0.0, constant=True)
        return signals[0][1]

    def backward(self, ctx: OpContext, g: float) -> Backward:
        signals = ctx.signal_inputs()
        if not signals:
            return Backward()
        index = signals[0][0]
        value = g * ratio(ctx.node.shape, ctx.input_shape(index))
        shape_in, shape_out = ctx.input_shape(index), ctx.node.shape
        flattened = (
            shape_in and shape_out and len(shape_out) == 2 < len(shape_in) and numel(shape_out) == numel(shape_in)
        )
        if flattened and numel(shape_in[2:]) > 1:  # (B, C, 1, 1) after a global pool has one position: nothing to lose
            # A flatten to (batch, features) makes each position its own feature, read by its own weights
            # downstream: the gradient one sample sends to its positions has no part common to them.
            return Backward(inputs={index: value}, shared_inputs={index: 0.0})
        return Backward(inputs={index: value})


class OpaqueOp(IdentityOp):
    """An op without a rule: gain 1 to every input, and the report says so (DESIGN §2c).

    Never a block: each tensor input gets the output's gradient (rescaled by size, as a broadcast or a
    slice would), and a layer's own weights get what a linear map applied at the same positions would
    get, ``positions·g·E[x²]``. What depends on it is marked uncertain by the coverage record.
    """

    def __init__(self, reason: str) -> None:
        self.uncertain = reason

    def backward(self, ctx: OpContext, g: float) -> Backward:
        result = Backward()
        signals = ctx.signal_inputs()
        for index, _ in signals:
            result.inputs[index] = g * ratio(ctx.node.shape, ctx.input_shape(index))
        module = ctx.node.module
        if ctx.node.op != "call_module" or module is None or not signals:
            return result
        first, x = signals[0]
        prefix = f"{module}." if module else ""
        for name, stats in ctx.graph.params.items():
            local = name[len(prefix) :] if name.startswith(prefix) else None
            if local is None or "." in local or len(stats.shape) < 2:
                continue
            fan_in = max(math.prod(stats.shape[1:]), 1)
            positions = max(numel(ctx.input_shape(first)) / fan_in, 1.0)
            result.weights[name] = weight_gradient_sq(positions, ctx.batch, g, ctx.g_pos, x)
        return result


class VectorNormOp(Op):
    """``torch.norm(x, dim=d)`` / ``x.norm(dim=d)`` (p=2): ``‖x‖`` of many elements is nearly constant.

    An RMSNorm written as ``x / (‖x‖·d^-½).clamp(min=eps)`` reaches the division through this; taking
    the norm as gain 1 left its value at one element's scale, √n too small, and the normalised output
    √n too large. ``‖x‖² = n·E[x²]`` per vector, and ``∂‖x‖/∂xᵢ = xᵢ/‖x‖`` passes ``1/n`` of the
    gradient's second moment to each element.
    """

    def _count(self, ctx: OpContext) -> float:
        return max(ratio(ctx.input_shape(0), ctx.node.shape), 1.0)

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        p = ctx.attrs.get("p", 2)
        if p not in (2, 2.0, "fro", None):
            return clamp(Signal(q=x.q, mean=math.sqrt(x.q), shared=x.q, pos_shared=x.q, sign=1))
        q = self._count(ctx) * x.q
        return clamp(Signal(q=q, mean=math.sqrt(q), shared=q, pos_shared=q, sign=1))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        return Backward(inputs={0: g / self._count(ctx)})


class ClampOp(Op):
    """``clamp(min=a)`` / ``clamp(max=b)``: the identity where the input sits well inside its bounds (a
    norm clamped at eps); otherwise the share of elements inside passes, under a Gaussian, like ReLU."""

    def _inside(self, ctx: OpContext, x: Signal) -> float:
        low, high = ctx.attrs.get("min"), ctx.attrs.get("max")
        spread = math.sqrt(max(x.q - x.mean * x.mean, 0.0))
        inside = 1.0
        for bound, side in ((low, 1.0), (high, -1.0)):
            if not isinstance(bound, int | float) or isinstance(bound, bool):
                continue
            distance = side * (x.mean - float(bound))
            if spread <= 0.0:
                inside *= 1.0 if distance > 0 else 0.0
            else:
                inside *= 0.5 * math.erfc(-distance / (spread * math.sqrt(2.0)))
        return inside

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        inside = self._inside(ctx, x)
        if inside >= 0.999:
            return x
        return clamp(replace(x, q=x.q * inside, shared=x.shared * inside, pos_shared=x.pos_shared * inside))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        return Backward(inputs={0: g * self._inside(ctx, x)})
