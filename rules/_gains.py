"""Per-layer backward gain χ of a Linear/Conv layer and the activation after it (DESIGN §3), and the init that fixes it.

χ = fan·E[W²]·E[φ'(√q z)²] with q the layer's predicted pre-activation second moment. DESIGN §3
writes the fan as ``fan_out_eff``; the rules use ``fan_in`` (as ``torch.nn.init`` counts it) so that a
change of width — which no init can undo — is not counted as a mismatch. For square layers, the
stacks these rules look at, the two are the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradlint.rulekit import Chain, LayerNode, View, fan_in, moments

RELU_LIKE = frozenset({"relu", "relu6"})
LEAKY = frozenset({"leaky_relu", "prelu", "rrelu"})
#: Bounded activations whose critical weight scale is σ_w² = 1 (Poole et al. 2016, zero bias).
TANH_LIKE = frozenset({"tanh", "hardtanh", "softsign"})
#: Activations whose slope is capped far below 1: no init keeps χ = 1 without saturating them.
SIGMOID_LIKE = frozenset({"sigmoid", "hardsigmoid", "logsigmoid"})


@dataclass(frozen=True)
class LayerGain:
    layer: LayerNode
    activation: LayerNode
    fan_in: int
    weight_scale: float
    """fan_in·E[W²]"""
    slope_sq: float
    """E[φ'²] at the layer's predicted pre-activation second moment."""
    pre_q: float

    @property
    def chi(self) -> float:
        return self.weight_scale * self.slope_sq

    @property
    def log10_norm(self) -> float:
        """log10 of the gradient-norm factor √χ this layer applies."""
        return 0.5 * math.log10(self.chi) if self.chi > 0 else -math.inf


def layer_gain(view: View, layer: LayerNode, activation: LayerNode) -> LayerGain | None:
    weight = view.param(layer.module, "weight")
    if weight is None or activation.activation is None:
        return None
    q = view.forward_rms(activation.inputs[0]) if activation.inputs else None
    if q is None:
        return None
    found = moments(activation.activation, activation.attrs, 0.0, q * q, 0.0)
    if found is None:
        return None
    fans = fan_in(layer, weight)
    return LayerGain(layer, activation, fans, fans * weight.mean_sq, found.slope_sq, q * q)


def chain_gains(view: View, chain: Chain) -> list[LayerGain]:
    """χ of every layer of ``chain`` that feeds a hidden activation: one followed by another layer of the chain.

    The last layer's activation (a sigmoid output, a final ReLU) is the model's output, not part of the stack.
    """
    gains = []
    for index, layer in enumerate(chain.layers[:-1]):
        activations = chain.activations(index)
        if len(activations) != 1:
            continue
        found = layer_gain(view, layer, activations[0])
        if found is not None:
            gains.append(found)
    return gains


@dataclass(frozen=True)
class RecommendedInit:
    call: str
    """The ``nn.init`` call on ``module.weight``."""
    gain_sq: float
    """fan_in·E[W²] it gives a square layer."""
    name: str
    fan_avg: bool = False
    """The call scales by 2/(fan_in + fan_out) (Xavier), not by 1/fan_in."""

    def mean_sq(self, fans_in: int, fans_out: int) -> float:
        """E[W²] the call gives a layer of ``fans_in`` inputs and ``fans_out`` outputs."""
        if self.fan_avg:
            return self.gain_sq * 2.0 / max(fans_in + fans_out, 1)
        return self.gain_sq / max(fans_in, 1)


def recommended_init(activation: LayerNode, depth: int = 1, q_in: float = 1.0) -> RecommendedInit | None:
    """The init at the critical scale for the activation (He et al. 2015; Xavier with the tanh gain for tanh, LeCun for SELU), or None (sigmoid).

    Other activations (GELU, SiLU, ELU, Mish ...) are not homogeneous: their critical scale depends on the
    signal, so it is solved for ``depth`` layers fed a second moment ``q_in``."""
    name = activation.activation or "identity"
    if name in RELU_LIKE:
        return RecommendedInit(
            'nn.init.kaiming_normal_(module.weight, nonlinearity="relu")', 2.0, "He (kaiming_normal_, relu)"
        )
    if name in LEAKY:
        slope = _slope(activation)
        return RecommendedInit(
            f'nn.init.kaiming_normal_(module.weight, a={slope:g}, nonlinearity="leaky_relu")',
            2.0 / (1.0 + slope * slope),
            f"He (kaiming_normal_, leaky_relu a={slope:g})",
        )
    if name == "tanh":
        # Glorot & Bengio's init with torch's tanh gain 5/3: what nn.init documents for tanh layers
        return RecommendedInit(
            'nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("tanh"))',
            25.0 / 9.0,
            "Xavier (xavier_uniform_, calculate_gain('tanh'))",
            fan_avg=True,
        )
    if name == "selu" or name in TANH_LIKE:
        # LeCun normal: SELU's self-normalising fixed point; for tanh σ_w² = 1 is the edge of chaos
        return RecommendedInit(
            'nn.init.kaiming_normal_(module.weight, nonlinearity="linear")', 1.0, "LeCun (kaiming_normal_, linear)"
        )
    if name in SIGMOID_LIKE or name == "identity":
        return None
    gain_sq = critical_scale(activation, depth, q_in)
    return RecommendedInit(
        f"nn.init.normal_(module.weight, std={math.sqrt(gain_sq):.3g} / math.sqrt(module.weight[0].numel()))",
        gain_sq,
        f"critical for {name} (std {math.sqrt(gain_sq):.3g}/√fan_in)",
    )


def chain_log10_gain(activation: LayerNode, scale: float, depth: int, q_in: float) -> float:
    """Mean-field Σ log10 √χ over ``depth`` square layers of fan_in·E[W²] = ``scale`` from input q ``q_in``:
    q ← scale·E[φ(√q z)²], χ = scale·E[φ'(√q z)²] (Poole et al. 2016, zero bias)."""
    name = activation.activation or "identity"
    total, q = 0.0, scale * q_in
    for _ in range(depth):
        found = moments(name, activation.attrs, 0.0, max(q, 1e-12), 0.0)
        if found is None or found.slope_sq <= 0:
            return 0.0
        total += 0.5 * math.log10(scale * found.slope_sq)
        q = scale * found.second
    return total


def critical_scale(activation: LayerNode, depth: int, q_in: float) -> float:
    """fan_in·E[W²] that keeps the mean-field gradient norm of ``depth`` layers at 1 (bisection in log scale)."""
    low, high = math.log(0.25), math.log(16.0)
    if chain_log10_gain(activation, math.exp(high), depth, q_in) < 0:
        return math.exp(high)
    for _ in range(30):
        middle = (low + high) / 2
        if chain_log10_gain(activation, math.exp(middle), depth, q_in) < 0:
            low = middle
        else:
            high = middle
    return math.exp((low + high) / 2)


def _slope(activation: LayerNode) -> float:
    attrs = activation.attrs
    if "negative_slope" in attrs:
        return float(attrs["negative_slope"])
    scalars = attrs.get("scalars")
    if scalars and isinstance(scalars[0], int | float):
        return float(scalars[0])
    return 0.01


def init_snippet(call: str, layer_types: tuple[str, ...], scope: str = "") -> str:
    """``model.apply`` code that runs ``call`` on every layer of the given ``nn`` types under module ``scope``."""
    classes = ", ".join(f"nn.{t}" for t in layer_types)
    target = f"({classes})" if len(layer_types) > 1 else classes
    return (
        "def init_weights(module):\n"
        f"    if isinstance(module, {target}):\n"
        f"        {call}\n"
        "        if module.bias is not None:\n"
        "            nn.init.zeros_(module.bias)\n"
        "\n"
        f"{submodule_expr(scope)}.apply(init_weights)"
    )


def submodule_expr(path: str) -> str:
    """Python for the submodule at ``path`` of ``model``: ``model.net``, or ``model.get_submodule("blocks.0")``."""
    if not path:
        return "model"
    if all(part.isidentifier() for part in path.split(".")):
        return f"model.{path}"
    return f"model.get_submodule({path!r})"


def common_scope(modules: list[str]) -> str:
    """The deepest module that contains all of ``modules``."""
    parts = [m.split(".")[:-1] for m in modules]
    prefix: list[str] = []
    for group in zip(*parts):
        if len(set(group)) != 1:
            break
        prefix.append(group[0])
    return ".".join(prefix)


def in_scope(module: str | None, scope: str) -> bool:
    return module is not None and (not scope or module == scope or module.startswith(scope + "."))
