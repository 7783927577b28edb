"""The static precision check: overflowing activations, underflowing gradients, vanishing constants.

Everything is read from the graph and the float32 estimate: each node's predicted RMS with the tail
model of ``estimate.extremes`` for its largest element, each weight's predicted gradient RMS under the
reference protocol's loss (DESIGN §2), and the parameter statistics. Gradient elements are taken as
Gaussian of their predicted RMS when counting the share that rounds to zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from gradlint.estimate.extremes import expected_max, gaussian_max
from gradlint.estimate.precision.dtypes import FLOAT32, LOW, node_dtypes
from gradlint.estimate.precision.formats import DEFAULT_LOSS_SCALE, bits_left, stored_value
from gradlint.types import (
    ActivationOverflow,
    GradientUnderflow,
    LayerNode,
    LossScale,
    ModelGraph,
    NumberFormat,
    PrecisionCheck,
    PrecisionMode,
    SourceLocation,
    VanishingConstant,
)

#: An ``add`` / ``clamp`` constant at or below this is read as a numerical-safety eps.
EPS_CEILING = 1e-3
#: A weight's gradient underflows when at least this share of its elements is predicted below the smallest
#: normal (zero or subnormal): an RMS under 1.48x the smallest normal.
UNDERFLOW_SHARE = 0.5
#: GradScaler's target: every weight's gradient RMS at least this many smallest normals (< 10 % subnormal).
SCALE_TARGET_NORMALS = 8.0

_RELU_FAMILY = frozenset(
    {"relu", "relu6", "leaky_relu", "gelu", "silu", "elu", "celu", "mish", "hardswish", "softplus"}
)
_MULTIPLY = frozenset({"mul", "__mul__", "mul_"})
_EXP = frozenset({"exp", "exp_"})
_ADD = frozenset({"add", "__add__", "add_", "__radd__"})
_CLAMP = frozenset({"clamp", "clamp_min", "clamp_", "clamp_min_", "clip"})


def check_precision(
    graph: ModelGraph, estimates: object, mode: PrecisionMode, float32_nodes: frozenset[str] = frozenset()
) -> PrecisionCheck:
    """The precision check of ``graph`` under ``mode`` from its float32 ``estimates`` (an ``Estimates``);
    ``float32_nodes`` are kept in float32 (the re-check of the fix that keeps a layer in float32)."""
    dtypes = node_dtypes(graph, mode, float32_nodes)
    nodes = {n.name: n for n in estimates.nodes}  # type: ignore[attr-defined]
    overflows, uncertain = _overflows(graph, nodes, dtypes, mode)
    underflows = _underflows(graph, estimates, dtypes, mode)
    return PrecisionCheck(
        mode=mode,
        low_nodes=sum(1 for v in dtypes.values() if v == LOW),
        checked_nodes=len(dtypes),
        overflows=overflows,
        underflows=underflows,
        loss_scale=_loss_scale(graph, estimates, nodes, dtypes, underflows, mode),
        constants=_eps_constants(graph, dtypes, mode.low) + _init_constants(graph, dtypes, mode),
        uncertain_nodes=uncertain,
    )


def predicted_max(node: LayerNode, rms: float, nodes: Mapping[str, object], graph: ModelGraph) -> tuple[float, str]:
    """(expected largest |element|, tail model) of ``node``'s output of RMS ``rms``."""
    n = math.prod(node.shape) if node.shape else 1
    first = nodes.get(node.inputs[0]) if node.inputs else None
    input_rms = getattr(first, "forward_rms", 0.0) or 0.0
    if node.activation in _RELU_FAMILY:
        return expected_max(rms, n, "half-gaussian", input_rms=input_rms), "half-gaussian"
    if node.op == "call_function" and node.target in _EXP:
        return expected_max(rms, n, "lognormal", input_rms=input_rms), "lognormal"
    if node.target in _MULTIPLY and len(node.inputs) == 2 and all(_varying(graph, i) for i in node.inputs):
        return expected_max(rms, n, "product"), "product"
    return expected_max(rms, n, "gaussian"), "gaussian"


def _varying(graph: ModelGraph, name: str) -> bool:
    return graph.node(name).op != "get_attr"  # a parameter scales; only two activations make a product's tail


def _overflows(
    graph: ModelGraph, nodes: Mapping[str, object], dtypes: Mapping[str, str], mode: PrecisionMode
) -> tuple[tuple[ActivationOverflow, ...], int]:
    found, uncertain = [], 0
    limit = mode.low.max
    for node in graph.nodes:
        estimate = nodes.get(node.name)
        rms = getattr(estimate, "forward_rms", math.nan)
        if dtypes.get(node.name) != LOW or node.op in ("placeholder", "get_attr") or not rms > 0:
            continue
        largest, tail = predicted_max(node, rms, nodes, graph)
        if mode.autocast and node.op != "placeholder":
            # a float32 input is cast to the low format where a low op reads it: it overflows there first
            for source in node.inputs:
                if dtypes.get(source) == FLOAT32 and source in nodes:
                    source_rms = getattr(nodes[source], "forward_rms", math.nan)
                    if source_rms > 0:
                        largest = max(largest, predicted_max(graph.node(source), source_rms, nodes, graph)[0])
        if not largest > limit:
            continue
        if getattr(estimate, "uncertain", None):
            uncertain += 1
        found.append(
            ActivationOverflow(
                node=node.name,
                module=node.module,
                location=node.location,
                rms=rms,
                predicted_max=largest,
                tail=tail,
                elements=math.prod(node.shape) if node.shape else 1,
                bits_over=math.log2(largest / limit) if math.isfinite(largest) else math.inf,
            )
        )
    return tuple(found), uncertain


def _low_weights(graph: ModelGraph, dtypes: Mapping[str, str], mode: PrecisionMode) -> set[str]:
    """Weights whose gradients are computed in the low format: all when cast, those of low layers under autocast."""
    if not mode.autocast:
        return {w.name for w in graph.weights}
    low_modules = {n.module for n in graph.nodes if n.op == "call_module" and dtypes.get(n.name) == LOW}
    readers = {i for n in graph.nodes if dtypes.get(n.name) == LOW for i in n.inputs}
    attrs = {graph.node(i).target for i in readers if graph.node(i).op == "get_attr"}
    return {w.name for w in graph.weights if w.module in low_modules or w.name in attrs}


def _first_use(graph: ModelGraph, param: str) -> SourceLocation | None:
    """The forward line that first reads ``param`` directly (a root-level ``nn.Parameter`` has no constructor line)."""
    readers = {n.name for n in graph.nodes if n.op == "get_attr" and n.target == param}
    return next((n.location for n in graph.nodes if readers & set(n.inputs) and n.location is not None), None)


def gaussian_share_below(threshold: float, rms: float) -> float:
    """Share of N(0, rms²) elements with |x| < threshold."""
    if rms <= 0:
        return 1.0
    return math.erf(threshold / (rms * math.sqrt(2.0)))


def _underflows(
    graph: ModelGraph, estimates: object, dtypes: Mapping[str, str], mode: PrecisionMode
) -> tuple[GradientUnderflow, ...]:
    fmt = mode.low
    low = _low_weights(graph, dtypes, mode)
    found = []
    for weight in estimates.weights:  # type: ignore[attr-defined]
        if weight.name not in low or weight.log10_grad_rms is None:
            continue
        rms = 10.0**weight.log10_grad_rms
        subnormal = gaussian_share_below(fmt.min_normal, rms)
        if subnormal < UNDERFLOW_SHARE:
            continue
        found.append(
            GradientUnderflow(
                weight=weight.name,
                module=weight.module,
                log10_grad_rms=weight.log10_grad_rms,
                below="subnormal" if rms < fmt.min_subnormal else "normal",
                flush_share=gaussian_share_below(fmt.min_subnormal / 2, rms),
                subnormal_share=subnormal,
            )
        )
    return tuple(found)


def _loss_scale(
    graph: ModelGraph,
    estimates: object,
    nodes: Mapping[str, object],
    dtypes: Mapping[str, str],
    underflows: tuple[GradientUnderflow, ...],
    mode: PrecisionMode,
) -> LossScale:
    fmt = mode.low
    largest = 0.0
    for node in graph.nodes:
        grad = getattr(nodes.get(node.name), "gradient_rms", None)
        if dtypes.get(node.name) == LOW and grad and node.shape:
            largest = max(largest, grad * gaussian_max(math.prod(node.shape)))
    low = _low_weights(graph, dtypes, mode)
    for weight in estimates.weights:  # type: ignore[attr-defined]
        stats = graph.params.get(weight.name)
        if weight.name in low and weight.log10_grad_rms is not None and stats is not None:
            largest = max(largest, 10.0**weight.log10_grad_rms * gaussian_max(math.prod(stats.shape)))
    scale = None
    if underflows:
        smallest = min(10.0**u.log10_grad_rms for u in underflows)
        scale = 2.0 ** math.ceil(math.log2(SCALE_TARGET_NORMALS * fmt.min_normal / smallest))
    return LossScale(
        init_scale=scale,
        default_scale=DEFAULT_LOSS_SCALE,
        largest_gradient=largest,
        overflows_at_default=largest * DEFAULT_LOSS_SCALE > fmt.max,
        overflows_at_init_scale=scale is not None and largest * scale > fmt.max,
    )


def eps_constant(node: LayerNode) -> float | None:
    """The small positive constant ``node`` adds (``x + 1e-12``) or clamps at (``clamp(min=1e-12)``)."""
    if node.op not in ("call_function", "call_method"):
        return None
    values: list[object] = []
    if node.target in _ADD:
        values = list(node.attrs.get("scalars", ()))
    elif node.target in _CLAMP:
        values = [node.attrs.get("min"), *node.attrs.get("scalars", ())[:1]]
    elif node.target == "normalize":
        values = [node.attrs.get("eps")]
    for value in values:
        if isinstance(value, float) and 0.0 < value <= EPS_CEILING:
            return value
    return None


def _eps_constants(graph: ModelGraph, dtypes: Mapping[str, str], fmt: NumberFormat) -> tuple[VanishingConstant, ...]:
    found = []
    for node in graph.nodes:
        eps = eps_constant(node)
        if eps is None or dtypes.get(node.name) != LOW:
            continue
        bits = bits_left(eps, fmt)
        if bits >= fmt.mantissa_bits / 2:
            continue
        stored = stored_value(eps, fmt)
        found.append(
            VanishingConstant("eps", node.name, node.module, node.location, eps, stored, bits, float(stored == 0.0))
        )
    return tuple(found)


def _init_constants(graph: ModelGraph, dtypes: Mapping[str, str], mode: PrecisionMode) -> tuple[VanishingConstant, ...]:
    """Parameters held in the low format whose values keep under half the mantissa's bits there."""
    fmt = mode.low
    names = _low_weights(graph, dtypes, mode) if mode.autocast else set(graph.params)
    found = []
    for name in sorted(names, key=list(graph.params).index):
        stats = graph.params.get(name)
        if stats is None or not stats.finite or stats.mean_sq <= 0:
            continue
        rms = math.sqrt(stats.mean_sq)
        spread = stats.std
        if spread is None or spread < 1e-3 * rms:  # every element alike (a LayerScale γ = 1e-6 · ones)
            value = abs(stats.mean)
            zero_share = float(stored_value(value, fmt) == 0.0)
        else:
            value = rms
            zero_share = gaussian_share_below(fmt.min_subnormal / 2, spread)
        bits = bits_left(value, fmt)
        if bits >= fmt.mantissa_bits / 2:
            continue
        found.append(
            VanishingConstant(
                "init",
                name,
                stats.module,
                (graph.module_locations.get(stats.module) if stats.module else None) or _first_use(graph, name),
                value,
                stored_value(value, fmt),
                bits,
                zero_share,
            )
        )
    return tuple(found)
