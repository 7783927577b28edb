"""Estimate stage: predict every weight's gradient RMS under the reference protocol, without running the model.

A forward pass over the ``ModelGraph`` propagates each node's output statistics (``Signal``:
second moment, mean, the part shared across samples) from the real weight statistics; a
backward pass from ``y`` (whose gradient is ``v/B``, so E[δ²] = 1/B²) accumulates each node's
gradient variance per element, and every weight's predicted E[(∂L/∂W)²]. Inputs follow the
protocol: float inputs N(0, 1), integer inputs kept. The theory is DESIGN §3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gradlint.estimate.context import OpContext, numel
from gradlint.estimate.coverage import coverage_of, forward_unseen, op_kind
from gradlint.estimate.layers import IdentityOp, Op
from gradlint.estimate.positions import PositionTrack
from gradlint.estimate.precision import check_precision
from gradlint.estimate.registry import ZERO_CONSTRUCTORS, op_for
from gradlint.estimate.reparam import split_gradient
from gradlint.estimate.signal import Signal, gaussian_input, parameter_signal
from gradlint.estimate.values import evaluate
from gradlint.types import LayerNode, ModelGraph, PrecisionMode
from gradlint.types.estimates import Estimates, NodeEstimate, WeightEstimate
from gradlint.verdict import VerdictThresholds, verdict

__all__ = ["Estimates", "NodeEstimate", "WeightEstimate", "estimate"]  # the records live in gradlint.types

_LN10 = math.log(10.0)
_SATURATED = 1e300
"""Largest gradient variance passed on: an overflowing product stays huge instead of becoming inf·0 = NaN."""
_FLOAT_DTYPES = ("float", "half", "bfloat16", "double", "complex")


def estimate(
    graph: ModelGraph, thresholds: VerdictThresholds | None = None, precision: PrecisionMode | None = None
) -> Estimates:
    """Predict gradient statistics for ``graph`` (pure: reads only the graph and its parameter statistics);
    with ``precision``, also check them against that mode's number format (``estimate.precision``)."""
    nodes = graph.nodes
    by_name = graph.nodes_by_name
    signals: dict[str, Signal | None] = {}
    values: dict[str, Any] = {}
    contexts: dict[str, OpContext] = {}
    rules: dict[str, Op] = {}
    track = PositionTrack(graph)
    for node in nodes:
        if node.shape is None and node.op == "call_function":
            values[node.name] = evaluate(node, by_name, values)
        signals[node.name] = _forward(node, graph, by_name, signals, values, contexts, rules)
        track.forward(node, signals, contexts, rules)

    reasons = {name: rule.uncertain for name, rule in rules.items()}
    unseen = forward_unseen(nodes, reasons)
    grads, weight_sq, weight_unseen = _backward(graph, nodes, contexts, rules, signals, unseen, track)

    uncertain = tuple((name, reason) for name, reason in reasons.items() if reason)
    weights = _weights(graph, weight_sq)
    coverage = coverage_of(nodes, reasons, [w.name for w in weights], weight_unseen)
    values = [(w.name, w.log10_grad_rms, False) for w in weights]
    node_estimates = tuple(_node_estimate(n, signals, grads, rules) for n in nodes)
    judged = verdict(values, thresholds)
    if coverage.low:
        judged = replace(judged, reason=f"{judged.reason}; uncertain: the estimate {coverage.summary()}")
    found = Estimates(weights, node_estimates, judged, uncertain, coverage=coverage)
    if precision is None:
        return found
    return replace(found, precision=check_precision(graph, found, precision))


def _forward(
    node: LayerNode,
    graph: ModelGraph,
    by_name: Mapping[str, LayerNode],
    signals: Mapping[str, Signal | None],
    values: Mapping[str, Any],
    contexts: dict[str, OpContext],
    rules: dict[str, Op],
) -> Signal | None:
    if node.op == "placeholder":
        if node.dtype is not None and not node.dtype.startswith(_FLOAT_DTYPES):
            return None  # integer ids and masks: kept as given, no gradient
        return gaussian_input() if node.shape is not None else None
    if node.op == "get_attr":
        stats = graph.params.get(node.target)
        if stats is not None:
            return parameter_signal(stats.mean, stats.mean_sq)
        return Signal(q=1.0, shared=1.0, constant=True)  # a buffer: fixed data, no gradient
    if node.op == "output":
        return None
    inputs = [signals.get(i) for i in node.inputs]
    input_nodes = [by_name.get(i) for i in node.inputs]
    if node.shape is None and node.op == "call_function":
        return None  # sizes and other non-tensor values
    if all(s is None or s.constant for s in inputs) and node.op == "call_function":
        # built from sizes or ids alone: a mask, positions, a zero initial state
        return Signal(q=0.0, constant=True, zero=node.target in ZERO_CONSTRUCTORS)
    rule = op_for(node, graph)
    ctx = OpContext(node, inputs, input_nodes, graph, values=[values.get(i) for i in node.inputs if i in values])
    contexts[node.name] = ctx
    rules[node.name] = rule
    if node.role == "embedding" or any(s is not None and not s.constant for s in inputs):
        return rule.forward(ctx)
    return Signal(q=0.0, constant=True)


def _backward(
    graph: ModelGraph,
    nodes: tuple[LayerNode, ...],
    contexts: Mapping[str, OpContext],
    rules: Mapping[str, Op],
    signals: Mapping[str, Signal | None],
    forward_unseen: Mapping[str, frozenset[str]],
    track: PositionTrack,
) -> tuple[dict[str, float], dict[str, float], dict[str, frozenset[str]]]:
    """Gradient variance per element of every node's output, E[(∂L/∂W)²] of every parameter, and the op kinds
    without a rule that each parameter's estimate went through (forward to its layer, backward from the output)."""
    by_name = graph.nodes_by_name
    grads: dict[str, float] = {}
    shared: dict[str, float] = {}  # position-shared part of grads
    tokens: dict[str, float] = {}  # part of grads at prepended token positions (positions.py)
    centered: dict[str, bool] = {}  # every contribution has zero batch mean
    coverage: dict[str, float] = {}
    weight_sq: dict[str, float] = {}
    unseen: dict[str, frozenset[str]] = {}  # op kinds without a rule on the gradient's way to each node
    weight_unseen: dict[str, frozenset[str]] = {}
    output = graph.output_node
    y = _first_output(output, signals) if output is not None else None
    if y is not None:
        shape = graph.node(y).shape or (1,)
        batch = shape[0]
        # L = Σ y·v / B with v ~ N(0, 1): δ = v/B, independent across positions
        grads[y] = 1.0 / (batch * batch)
        shared[y] = grads[y] / max(_positions_per_sample(shape), 1)
        coverage[y] = 1.0
    for node in reversed(nodes):
        g = grads.get(node.name, 0.0)
        ctx = contexts.get(node.name)
        rule = rules.get(node.name)
        if g <= 0.0 or ctx is None or rule is None:
            continue
        g_pos = min(shared.get(node.name, 0.0), g)
        ctx.cache["coverage"] = coverage.get(node.name, 1.0)
        ctx.cache["g_pos"] = g_pos
        ctx.cache["centered"] = centered.get(node.name, False)
        result, token_share = track.backward(node, rule, ctx, g, tokens.get(node.name, 0.0))
        # the gradient's path to the output, this op included; a weight also reads its layer's input
        here = unseen.get(node.name, frozenset()) | ({op_kind(node)} if rule.uncertain else frozenset())
        reads = here | forward_unseen.get(node.name, frozenset())

        def add_weight(name: str, value: float, reads: frozenset[str] = reads) -> None:
            weight_sq[name] = weight_sq.get(name, 0.0) + value
            weight_unseen[name] = weight_unseen.get(name, frozenset()) | reads

        for name, value in result.weights.items():
            # a computed weight (weight_norm, spectral_norm) hands its gradient to the parameters behind it
            for target, part in (split_gradient(graph.params, name, value) if name not in graph.params else {}).items():
                add_weight(target, part)
            add_weight(name, value)
        for index, value in result.inputs.items():
            if index >= len(node.inputs) or not value > 0.0:  # NaN included
                continue
            value = min(value, _SATURATED)  # an overflow is an exploding gradient, never a blocked one
            source = node.inputs[index]
            signal = signals.get(source)
            if signal is None or signal.constant:
                continue
            grads[source] = grads.get(source, 0.0) + value
            tokens[source] = tokens.get(source, 0.0) + min(token_share.get(index, 0.0), value)
            unseen[source] = unseen.get(source, frozenset()) | here
            source_node = by_name[source]
            if source_node.op == "get_attr" and source_node.target in graph.params:
                # a parameter used as a tensor (x @ self.W, x + self.pos, self.cls.expand(...))
                add_weight(source_node.target, value, here)
            is_centered = result.centered if result.centered is not None else ctx.centered
            centered[source] = centered.get(source, True) and is_centered
            value_pos = result.shared_inputs.get(index, g_pos * value / g)
            shared[source] = shared.get(source, 0.0) + min(value_pos, value)
            passed = coverage.get(node.name, 1.0)
            if isinstance(rule, IdentityOp):
                passed *= min(1.0, numel(node.shape) / max(numel(ctx.input_shape(index)), 1))
            else:
                passed = 1.0
            coverage[source] = min(1.0, coverage.get(source, 0.0) + passed)
    return grads, weight_sq, weight_unseen


def _positions_per_sample(shape: tuple[int, ...]) -> int:
    """Positions of one sample in an output: tokens of (B, T, D), pixels of (B, C, H, W)."""
    if len(shape) >= 4:
        return numel(shape[2:])
    if len(shape) == 3:
        return shape[1]
    return 1


def _first_output(output: LayerNode, signals: Mapping[str, Signal | None]) -> str | None:
    """The protocol's y: the first tensor of the output, depth first."""
    for name in output.inputs:
        signal = signals.get(name)
        if signal is not None and not signal.constant:
            return name
    return None


def _weights(graph: ModelGraph, weight_sq: Mapping[str, float]) -> tuple[WeightEstimate, ...]:
    widths = _widths_after(graph)
    estimates = []
    for weight in graph.weights:
        total = weight_sq.get(weight.name, 0.0)
        beta = widths.get(weight.module, 0.0)
        if total > 0.0 and math.isfinite(total):
            value = 0.5 * math.log10(total)
            # Hanin & Rolnick 2018: Var[ln ‖g‖²] ≈ 5β; the band is ±1σ of log10 of the RMS
            half = 0.5 * math.sqrt(5.0 * beta) / _LN10
            estimates.append(WeightEstimate(weight.name, weight.module, value, (value - half, value + half), beta))
        elif total > 0.0:  # overflowed float64: non-finite, which the verdict reads as exploding
            estimates.append(WeightEstimate(weight.name, weight.module, math.inf, None, beta))
        else:
            estimates.append(WeightEstimate(weight.name, weight.module, None, None, beta))
    return tuple(estimates)


def _widths_after(graph: ModelGraph) -> dict[str, float]:
    """β for each layer: Σ 1/width over the linear and conv layers after it, in forward order."""
    layers = [
        n for n in graph.nodes if n.op == "call_module" and n.role in ("linear", "conv", "recurrent", "attention")
    ]
    betas: dict[str, float] = {}
    total = 0.0
    for node in reversed(layers):
        if node.module is not None and node.module not in betas:
            betas[node.module] = total
        width = (
            node.attrs.get("out_features")
            or node.attrs.get("out_channels")
            or node.attrs.get("hidden_size")
            or node.attrs.get("embed_dim")
        )
        if isinstance(width, int) and width > 0:
            total += 1.0 / width
    return betas


def _node_estimate(
    node: LayerNode,
    signals: Mapping[str, Signal | None],
    grads: Mapping[str, float],
    rules: Mapping[str, Op],
) -> NodeEstimate:
    signal = signals.get(node.name)
    forward_rms = math.sqrt(signal.q) if signal is not None and signal.q >= 0 else float("nan")
    g_out = grads.get(node.name)
    gain = None
    if g_out and node.inputs:
        g_in = grads.get(node.inputs[0])
        if g_in:
            gain = math.sqrt(g_in / g_out)
    rule = rules.get(node.name)
    return NodeEstimate(
        node.name,
        forward_rms,
        gain,
        math.sqrt(g_out) if g_out else None,
        rule.uncertain if rule is not None else None,
    )
