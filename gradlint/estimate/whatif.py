"""Re-estimate with a fix applied to a copy of the graph: how much would He init help?"""

from __future__ import annotations

import math
from dataclasses import replace

from gradlint.estimate.gaussian import moments
from gradlint.types import LayerNode, ModelGraph, ParamStats, frozen_mapping


def _fan_in(node: LayerNode, stats: ParamStats) -> int:
    if "in_features" in node.attrs:
        return int(node.attrs["in_features"])
    if len(stats.shape) >= 2:
        # (out, in/groups, *kernel): the entries one output sums over
        return math.prod(stats.shape[1:])
    return 1


def critical_gain_sq(activation: str | None) -> float:
    """gain² such that fan_in·Var(W)·E[φ'(z)²]-style propagation keeps the gradient scale: 1/E[φ'²] at unit input."""
    if activation is None:
        return 1.0
    found = moments(activation, {}, 0.0, 1.0, 0.0)
    if found is None or found.slope_sq <= 0:
        return 1.0
    return 1.0 / found.slope_sq


def with_critical_init(graph: ModelGraph) -> ModelGraph:
    """The graph as if every Linear/Conv weight were re-drawn at the critical scale for the activation it feeds
    (He for ReLU: Var = 2/fan_in), biases zeroed."""
    params = dict(graph.params)
    for node in graph.nodes:
        if node.op != "call_module" or node.role not in ("linear", "conv") or node.module is None:
            continue
        weight = params.get(f"{node.module}.weight")
        if weight is None:
            continue
        variance = critical_gain_sq(node.feeds_activation) / max(_fan_in(node, weight), 1)
        params[weight.name] = replace(weight, mean=0.0, mean_sq=variance)
        bias = params.get(f"{node.module}.bias")
        if bias is not None:
            params[bias.name] = replace(bias, mean=0.0, mean_sq=0.0)
    return replace(graph, params=frozen_mapping(params))
