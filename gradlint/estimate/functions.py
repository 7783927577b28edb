"""Op rules for functional calls: add, mul, div, matmul, reductions, concatenation, masks and elementwise maths.

Products assume their factors independent (E[(ab)²] = E[a²]E[b²]); a quantity computed by
reducing many elements (``x.pow(2).mean(-1)``) is nearly constant per sample, which is what
makes hand-written RMSNorm/LayerNorm come out right through these rules.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from gradlint.estimate.attention import mix_values, mix_values_backward
from gradlint.estimate.context import Backward, OpContext, numel, ratio
from gradlint.estimate.gaussian import expect
from gradlint.estimate.layers import IdentityOp, Op
from gradlint.estimate.signal import Signal, clamp


def _scalars(ctx: OpContext) -> list[float]:
    return ctx.numbers()


class AddOp(Op):
    """``a + b``, ``a - b`` (tensors, parameters or scalars): second moments add for independent terms."""

    def __init__(self, subtract: bool = False) -> None:
        self.sign = -1.0 if subtract else 1.0

    def forward(self, ctx: OpContext) -> Signal:
        signals = [s for s in ctx.inputs if s is not None]
        live = [s for s in signals if not s.constant]
        constants = [s for s in signals if s.constant]
        scalars = _scalars(ctx)
        if not live:
            return Signal(q=0.0, constant=True)
        total = live[0]
        mean, q, shared, pos = total.mean, total.q, total.shared, total.pos_shared
        for other in live[1:]:
            m = self.sign * other.mean
            q += other.q + 2 * mean * m
            shared += other.shared + 2 * mean * m
            pos += other.pos_shared + 2 * mean * m
            mean += m
        for c in scalars:
            c *= self.sign
            q += 2 * mean * c + c * c
            shared += 2 * mean * c + c * c
            pos += 2 * mean * c + c * c
            mean += c
        # adding an additive attention mask (-inf above the diagonal) makes the logits causal
        causal = total.causal or any(s.causal for s in live) or bool(constants)
        return clamp(Signal(q=q, mean=mean, shared=shared, pos_shared=pos, causal=causal))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        result = Backward()
        for index, signal in enumerate(ctx.inputs):
            if signal is not None and not signal.constant:
                result.inputs[index] = g * ratio(ctx.node.shape, ctx.input_shape(index))
        return result


class MulOp(Op):
    """``a * b`` (gates, layer scale, normalisation by a reduced statistic) and ``a / b``."""

    def __init__(self, divide: bool = False) -> None:
        self.divide = divide

    def _factors(self, ctx: OpContext) -> list[tuple[int, Signal]]:
        factors = []
        live = ctx.signal_inputs()
        for position, (index, signal) in enumerate(live):
            if self.divide and position == 1:
                if signal.within > 0.05 * signal.q:
                    self.uncertain = "division by a varying tensor: approximated by its second moment"
                inverse_q = 1.0 / max(signal.q, 1e-30)
                signal = Signal(
                    q=inverse_q,
                    mean=(1.0 / signal.mean) if signal.mean else 0.0,
                    shared=inverse_q,
                    pos_shared=inverse_q,
                )
            factors.append((index, signal))
        return factors

    def _scale(self, ctx: OpContext) -> float:
        scale = 1.0
        for c in _scalars(ctx):
            scale = scale / c if self.divide else scale * c
        return scale

    def forward(self, ctx: OpContext) -> Signal:
        if any(s is not None and s.zero for s in ctx.inputs[: 1 if self.divide else None]):
            return Signal(q=0.0, constant=True, zero=True)  # a state started at zeros: h = decay·0 + ...
        factors = self._factors(ctx)
        scale = self._scale(ctx)
        if not factors:
            return Signal(q=0.0, constant=True)
        q, mean, shared, pos = 1.0, 1.0, 1.0, 1.0
        for _, signal in factors:
            q *= signal.q
            mean *= signal.mean
            shared *= signal.shared
            pos *= signal.pos_shared
        first = factors[0][1]
        masked = any(s is not None and s.constant for s in ctx.inputs)
        sq = scale * scale
        sign = 0 if self.divide else math.prod(s.sign for _, s in factors) * (1 if scale >= 0 else -1)
        return clamp(
            Signal(
                q=q * sq,
                mean=mean * scale,
                shared=shared * sq,
                pos_shared=pos * sq,
                causal=first.causal or masked,
                sign=sign,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        if any(s is not None and s.zero for s in ctx.inputs[: 1 if self.divide else None]):
            return Backward()
        factors = self._factors(ctx)
        scale_sq = self._scale(ctx) ** 2
        # a second varying factor (a gate) breaks the zero batch sum of a gradient from a BatchNorm; a
        # parameter (a layer scale) keeps it
        varying = sum(1 for _, s in factors if s.within > 1e-9 * max(s.q, 1e-30))
        result = Backward(centered=None if varying <= 1 else False)
        for index, signal in factors:
            others = math.prod(s.q for i, s in factors if i != index)
            if self.divide and factors and index != factors[0][0]:
                # d(a/b)/db = -a/b²: second moment E[a²]·E[1/b⁴] ≈ E[a²]/E[b²]²
                b_q = 1.0 / max(signal.q, 1e-30)
                contribution = g * scale_sq * factors[0][1].q / (b_q * b_q)
            else:
                contribution = g * scale_sq * others
            covered = ratio(ctx.node.shape, ctx.input_shape(index))
            result.inputs[index] = contribution * covered
            others_pos = math.prod(s.pos_shared for i, s in factors if i != index)
            result.shared_inputs[index] = ctx.g_pos * scale_sq * others_pos * covered
        return result


class MatmulOp(Op):
    """``A @ B`` / ``bmm`` / ``mm`` with activations or parameters on either side."""

    def _dims(self, ctx: OpContext) -> tuple[int, int, int]:
        a, b = ctx.input_shape(0) or (1,), ctx.input_shape(1) or (1,)
        k = a[-1]
        m = a[-2] if len(a) >= 2 else 1
        n = b[-1] if len(b) >= 2 else 1
        return m, k, n

    def forward(self, ctx: OpContext) -> Signal:
        a = ctx.inputs[0] or Signal(q=0.0)
        b = ctx.inputs[1] if len(ctx.inputs) > 1 and ctx.inputs[1] is not None else Signal(q=0.0)
        _, k, _ = self._dims(ctx)
        mean = k * a.mean * b.mean
        if a.probabilities:
            # attention weights times values: the part of V shared across positions survives the average
            ctx.cache["concentration"] = k * a.q
            return mix_values(b, k * a.q, k)
        cross = k * max(k - 1, 0) * a.mean * a.mean * b.mean * b.mean
        q = k * a.q * b.q + cross
        shared = k * a.shared * b.shared + cross
        pos = k * a.pos_shared * b.pos_shared + cross
        return clamp(Signal(q=q, mean=mean, shared=shared, pos_shared=pos))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        a = ctx.inputs[0] or Signal(q=0.0)
        b = ctx.inputs[1] if len(ctx.inputs) > 1 and ctx.inputs[1] is not None else Signal(q=0.0)
        _, k, n = self._dims(ctx)
        b_shape = ctx.input_shape(1)
        out_rows = numel(ctx.node.shape) / max(n, 1)  # all rows of the output, batch included
        result = Backward()
        if a.probabilities:
            queries = (ctx.input_shape(0) or (1, 1))[-2]
            s = ctx.cache["concentration"]
            g_v, g_v_pos = mix_values_backward(g, ctx.g_pos, s, queries, k)
            g_p = n * g * b.within_positions
            return Backward(inputs={0: g_p, 1: g_v}, shared_inputs={0: 0.0, 1: g_v_pos})
        # δA = δY Bᵀ: each entry sums n terms; δB = Aᵀ δY: each entry sums over every output row that uses it.
        g_a = n * g * b.q
        g_b = g * a.q * out_rows * k * n / max(numel(b_shape), 1)
        result.inputs[0] = g_a
        if len(ctx.inputs) > 1:
            result.inputs[1] = g_b
        return result


class EinsumOp(Op):
    """``torch.einsum`` of two operands: each output entry sums K products, K over the contracted letters
    (relative-position terms ``byhwc,hkc->byhwk``, attention written ``bhid,bhjd->bhij``)."""

    def _permutes(self, ctx: OpContext) -> bool:
        """One operand whose output only reorders its letters (DiT's and MAE's ``'nhwpqc->nchpwq'``): a permute."""
        equation = self._equation(ctx)
        if equation is None or len(ctx.inputs) != 1:
            return False
        term, output = equation.replace(" ", "").split("->")
        return len(set(term)) == len(term) and sorted(term) == sorted(output)

    @staticmethod
    def _equation(ctx: OpContext) -> str | None:
        return next((v for v in ctx.attrs.get("layout", ()) if isinstance(v, str) and "->" in v), None)

    def _plan(self, ctx: OpContext) -> tuple[int, tuple[float, float]] | None:
        equation = self._equation(ctx)
        if equation is None or "..." in equation or len(ctx.inputs) < 2:
            return None
        inputs, output = equation.replace(" ", "").split("->")
        terms = inputs.split(",")
        if len(terms) != 2:
            return None
        sizes: dict[str, int] = {}
        for index, term in enumerate(terms):
            shape = ctx.input_shape(index)
            if shape is None or len(shape) != len(term):
                return None
            sizes.update(zip(term, shape))
        contracted = math.prod(sizes[letter] for letter in set(inputs.replace(",", "")) - set(output))
        # how many products each entry of an operand takes part in, over the whole output
        uses = tuple(numel(ctx.node.shape) * contracted / max(numel(ctx.input_shape(i)), 1) for i in (0, 1))
        return contracted, (uses[0], uses[1])

    def forward(self, ctx: OpContext) -> Signal:
        if self._permutes(ctx):
            return ctx.inputs[0] or Signal(q=0.0)
        plan = self._plan(ctx)
        a = ctx.inputs[0] or Signal(q=0.0)
        b = ctx.inputs[1] if len(ctx.inputs) > 1 and ctx.inputs[1] is not None else Signal(q=0.0)
        if plan is None:
            self.uncertain = "einsum beyond two operands with explicit indices: assumed gain 1"
            return a
        k, _ = plan
        cross = k * max(k - 1, 0) * a.mean * a.mean * b.mean * b.mean
        return clamp(
            Signal(
                q=k * a.q * b.q + cross,
                mean=k * a.mean * b.mean,
                shared=k * a.shared * b.shared + cross,
                pos_shared=k * a.pos_shared * b.pos_shared + cross,
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        plan = self._plan(ctx)
        if plan is None:
            return Backward(inputs={i: g for i, _ in ctx.signal_inputs()})
        _, (uses_a, uses_b) = plan
        a, b = ctx.inputs[0] or Signal(q=0.0), ctx.inputs[1] or Signal(q=0.0)
        return Backward(inputs={0: uses_a * g * b.q, 1: uses_b * g * a.q})


class CopyOp(Op):
    """``dest.copy_(src)`` and ``dest[index] = src``: the source overwrites the destination where it lands.

    Inputs: the destination, then the source (none when a constant is filled in).
    """

    def _fraction(self, ctx: OpContext) -> float:
        return min(numel(ctx.input_shape(1)) / max(numel(ctx.node.shape), 1), 1.0)

    def forward(self, ctx: OpContext) -> Signal:
        dest = ctx.inputs[0] or Signal(q=0.0)
        source = ctx.inputs[1] if len(ctx.inputs) > 1 and ctx.inputs[1] is not None else None
        if source is None:
            return dest
        f = self._fraction(ctx)
        if f >= 1.0:
            return source
        mix = lambda a, b: (1 - f) * a + f * b  # noqa: E731 - the two tensors' values by the share each holds
        return clamp(
            Signal(
                q=mix(dest.q, source.q),
                mean=mix(dest.mean, source.mean),
                shared=mix(dest.shared, source.shared),
                pos_shared=mix(dest.pos_shared, source.pos_shared),
            )
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        if len(ctx.inputs) < 2:
            return Backward(inputs={0: g})  # a constant filled in (``x[mask] = 0``): no share is known
        f = self._fraction(ctx)
        return Backward(inputs={0: g * (1 - f), 1: g})


class ReduceOp(Op):
    """``mean``/``sum`` over dimensions: many elements averaged become nearly constant per sample."""

    def __init__(self, total: bool = False) -> None:
        self.total = total

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        count = max(ratio(ctx.input_shape(0), ctx.node.shape), 1.0)
        if self._over_units(ctx):
            # Across units only the mean is common (units are independent given the sample): it adds up
            # coherently, the rest averages down; what was shared across positions stays so, scaled alike.
            q = x.mean * x.mean + max(x.q - x.mean * x.mean, 0.0) / count
            pos = x.mean * x.mean + max(x.pos_shared - x.mean * x.mean, 0.0) / count
            signal = Signal(q=q, mean=x.mean, shared=min(x.shared, q), pos_shared=pos, sign=x.sign)
        else:
            q = x.pos_shared + x.within_positions / count
            signal = Signal(q=q, mean=x.mean, shared=x.shared, pos_shared=q, sign=x.sign)
        return clamp(signal.scaled(count * count, count) if self.total else signal)

    def _over_units(self, ctx: OpContext) -> bool:
        """Whether every reduced dimension is a unit (feature) dimension: the last of (B, T, D), the
        channels of (B, C, H, W), the features of (B, D) — not positions."""
        shape = ctx.input_shape(0)
        if shape is None or len(shape) < 2:
            return False
        given = ctx.attrs.get("dim")
        if given is None:
            layout = ctx.attrs.get("layout", ())
            given = layout[1] if len(layout) > 1 else None
        if given is None or isinstance(given, bool | str):
            return False
        dims = {d % len(shape) for d in (given if isinstance(given, tuple) else (given,)) if isinstance(d, int)}
        units = {len(shape) - 1} if len(shape) <= 3 else {1}
        return bool(dims) and dims <= units

    def backward(self, ctx: OpContext, g: float) -> Backward:
        count = max(ratio(ctx.input_shape(0), ctx.node.shape), 1.0)
        factor = 1.0 if self.total else 1.0 / (count * count)
        if self._over_units(ctx):
            return Backward(inputs={0: g * factor}, shared_inputs={0: ctx.g_pos * factor})
        # every reduced position receives the same gradient: it is shared across them
        return Backward(inputs={0: g * factor}, shared_inputs={0: g * factor})


class PowOp(Op):
    """``x ** p``, ``x.square()``, ``sqrt``/``rsqrt`` of nearly constant statistics."""

    def __init__(self, exponent: float | None = None) -> None:
        self.exponent = exponent

    def _p(self, ctx: OpContext) -> float:
        if self.exponent is not None:
            return self.exponent
        scalars = _scalars(ctx)
        return scalars[0] if scalars else 2.0

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        p = self._p(ctx)
        if x.within <= 0.05 * x.q and x.q > 0:
            # nearly constant (a reduced statistic): apply the power to its value
            q = power(x.q, p)
            return Signal(q=q, mean=power(x.q, p / 2), shared=q, pos_shared=q)
        if p == 2.0:
            variance = max(x.q - x.mean * x.mean, 0.0)
            # Gaussian: E[x⁴] = 3σ⁴ + 6σ²μ² + μ⁴
            q = 3 * variance**2 + 6 * variance * x.mean**2 + x.mean**4
            # every unit's x² has mean ≈ q: the square is mostly shared across samples
            return clamp(Signal(q=q, mean=x.q, shared=x.q * x.q, pos_shared=x.q * x.q))
        self.uncertain = f"pow with exponent {p:g} of a varying tensor: Gaussian moments by quadrature"
        mean_value, second, _ = expect(lambda t: t.abs() ** p, x.mean, max(x.q - x.mean**2, 0.0))
        return clamp(
            Signal(q=second, mean=mean_value, shared=mean_value * mean_value, pos_shared=mean_value * mean_value)
        )

    def backward(self, ctx: OpContext, g: float) -> Backward:
        x = ctx.inputs[0] or Signal(q=0.0)
        p = self._p(ctx)
        # d(x^p)/dx = p·x^(p-1): E[(p x^(p-1))²] ≈ p²·q^(p-1)
        return Backward(inputs={0: g * p * p * power(max(x.q, 1e-30), p - 1)})


_LOG_MAX = math.log(1e300)


def power(base: float, exponent: float) -> float:
    """``base ** exponent`` for base >= 0 in log space: ``x.mean() ** 4`` of a large statistic saturates at
    1e300 (far beyond any verdict threshold) instead of raising OverflowError as a Python float does."""
    if base <= 0.0:
        return 0.0 if exponent > 0 else (1.0 if exponent == 0 else 1e300)
    return math.exp(max(min(exponent * math.log(base), _LOG_MAX), -_LOG_MAX))


class ElementwiseOp(Op):
    """exp, log, abs, neg, ... by Gaussian quadrature of the function and its slope."""

    def __init__(self, name: str) -> None:
        self.name = name

    def forward(self, ctx: OpContext) -> Signal:
        x = ctx.inputs[0] or Signal(q=0.0)
        fn = _ELEMENTWISE.get(self.name)
        if fn is None:
            self.uncertain = f"no rule for {self.name!r}: assumed gain 1"
            return x
        if self.name == "exp" and x.sign < 0:
            mean, second = _exp_of_non_positive(x)
            slope = second  # exp' = exp
        else:
            mean, second, slope = expect(fn, x.mean, max(x.q - x.mean * x.mean, 0.0))
        ctx.cache["slope"] = slope
        sign = {"exp": 1, "abs": 1, "neg": -x.sign}.get(self.name, 0)
        return clamp(Signal(q=second, mean=mean, shared=mean * mean, pos_shared=mean * mean, sign=sign))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        return Backward(inputs={0: g * ctx.cache.get("slope", 1.0)})


def _exp_of_non_positive(x: Signal) -> tuple[float, float]:
    """E[eˣ] and E[e²ˣ] for x <= 0 (a state-space model's discretised decay, exp(Δ·A) with A < 0).

    A Gaussian of the same moments would put mass above 0 and blow E[e²ˣ] up; -x is taken as a
    Gamma variable of the same mean and variance instead, whose moment generating function is
    (1 + tθ)^(-k): the result stays in (0, 1] as the real decay does.
    """
    magnitude = -x.mean
    variance = max(x.q - x.mean * x.mean, 0.0)
    if magnitude <= 0.0:
        return 1.0, 1.0
    if variance <= 1e-12 * magnitude * magnitude:
        return math.exp(-magnitude), math.exp(-2.0 * magnitude)
    shape, scale = magnitude * magnitude / variance, variance / magnitude
    return (1.0 + scale) ** -shape, (1.0 + 2.0 * scale) ** -shape


_ELEMENTWISE = {
    "exp": torch.exp,
    "abs": torch.abs,
    "neg": torch.neg,
    "erf": torch.erf,
    "cos": torch.cos,
    "sin": torch.sin,
}


class ConcatOp(Op):
    """``torch.cat``/``stack``: the output mixes its inputs by size; each input keeps its own gradient."""

    def forward(self, ctx: OpContext) -> Signal:
        live = ctx.signal_inputs()
        if not live:
            return Signal(q=0.0, constant=True)
        sizes = [numel(ctx.input_shape(i)) for i, _ in live]
        total = sum(sizes) or 1
        q = sum(s.q * n for (_, s), n in zip(live, sizes)) / total
        mean = sum(s.mean * n for (_, s), n in zip(live, sizes)) / total
        shared = sum(s.shared * n for (_, s), n in zip(live, sizes)) / total
        pos = sum(s.pos_shared * n for (_, s), n in zip(live, sizes)) / total
        return clamp(Signal(q=q, mean=mean, shared=shared, pos_shared=pos))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        return Backward(inputs={i: g for i, _ in ctx.signal_inputs()})


class MaskOp(IdentityOp):
    """``masked_fill``/``where`` with a constant mask: values pass, masked logits make the softmax causal."""

    def forward(self, ctx: OpContext) -> Signal:
        signal = super().forward(ctx)
        masked = any(s is not None and s.constant for s in ctx.inputs)
        return replace(signal, causal=signal.causal or masked)


class ConstantOp(Op):
    """A tensor built from sizes, or shaped like its input (``zeros_like``, ``new_empty``): no signal, no gradient."""

    def __init__(self, zero: bool = False) -> None:
        self.zero = zero

    def forward(self, ctx: OpContext) -> Signal:
        return Signal(q=0.0, constant=True, zero=self.zero)

    def backward(self, ctx: OpContext, g: float) -> Backward:
        return Backward()


class DetachOp(IdentityOp):
    def backward(self, ctx: OpContext, g: float) -> Backward:
        return Backward()
