"""Graph walks shared by the GL2xx–GL7xx rules: layers in series, residual streams, per-node estimates.

A *chain* is a run of Linear/Conv layers in series: each one's input comes from the previous one
through nothing but activations, dropout, reshapes and pooling (and, when asked, normalization
layers). An add, a multiply, an attention op or a second consumer ends it: a residual stream or
a gate changes the arithmetic DESIGN §3 applies to a chain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from gradlint.estimate import Estimates, NodeEstimate
from gradlint.types import LayerNode, ModelGraph, ParamStats

#: Roles a chain passes through: they change the signal elementwise or only rearrange it.
TRANSPARENT_ROLES = frozenset({"activation", "dropout", "reshape", "pool"})
WEIGHT_ROLES = frozenset({"linear", "conv"})
BOUNDED_ACTIVATIONS = frozenset({"tanh", "sigmoid", "hardtanh", "softsign", "hardsigmoid"})


@dataclass(frozen=True)
class View:
    """The graph with lookups the rules need again and again."""

    graph: ModelGraph
    estimates: Estimates | None

    @cached_property
    def by_name(self) -> dict[str, LayerNode]:
        return {n.name: n for n in self.graph.nodes}

    @cached_property
    def consumers(self) -> dict[str, list[LayerNode]]:
        found: dict[str, list[LayerNode]] = {n.name: [] for n in self.graph.nodes}
        for node in self.graph.nodes:
            for name in node.inputs:
                found.setdefault(name, []).append(node)
        return found

    @cached_property
    def node_estimates(self) -> dict[str, NodeEstimate]:
        return {n.name: n for n in self.estimates.nodes} if self.estimates is not None else {}

    def forward_rms(self, name: str) -> float | None:
        found = self.node_estimates.get(name)
        if found is None or not math.isfinite(found.forward_rms):
            return None
        return found.forward_rms

    def input_node(self, node: LayerNode, index: int = 0) -> LayerNode | None:
        return self.by_name.get(node.inputs[index]) if index < len(node.inputs) else None

    def param(self, module: str | None, local: str) -> ParamStats | None:
        if module is None:
            return None
        stats = self.graph.params.get(f"{module}.{local}" if module else local)
        if stats is None or not math.isfinite(stats.mean_sq):
            return None
        return stats

    def activation_after(self, node: LayerNode) -> LayerNode | None:
        """The activation node applied to ``node``'s output (through dropout and reshapes), if it is the only consumer."""
        current = node
        for _ in range(8):
            users = self.consumers.get(current.name, [])
            if len(users) != 1:
                return None
            (user,) = users
            if user.role == "activation":
                return user
            if user.role not in ("dropout", "reshape"):
                return None
            current = user
        return None

    def previous_layer(self, node: LayerNode, through: frozenset[str] = TRANSPARENT_ROLES, norm_types: Iterable[str] = ()) -> LayerNode | None:
        """The weight layer whose output reaches ``node``'s first input through ``through`` roles only, without branching."""
        norm_types = tuple(norm_types)
        current = self.input_node(node)
        for _ in range(64):
            if current is None:
                return None
            if len(self.consumers.get(current.name, [])) != 1:
                return None  # the value also feeds something else: a skip connection or a gate
            if current.role in WEIGHT_ROLES and current.op == "call_module":
                return current
            passes = current.role in through or (
                current.role == "normalization" and any((current.module_type or "").startswith(t) for t in norm_types)
            )
            if not passes or not current.inputs:
                return None
            current = self.input_node(current)
        return None

    def chains(self, through: frozenset[str] = TRANSPARENT_ROLES, norm_types: Iterable[str] = ()) -> list[list[LayerNode]]:
        """Maximal runs of weight layers in series, longest first."""
        norm_types = tuple(norm_types)
        layers = [n for n in self.graph.nodes if n.op == "call_module" and n.role in WEIGHT_ROLES]
        previous = {n.name: self.previous_layer(n, through, norm_types) for n in layers}
        has_next = {p.name for p in previous.values() if p is not None}
        runs = []
        for node in layers:
            if node.name in has_next:
                continue
            run = [node]
            while (before := previous.get(run[-1].name)) is not None and len(run) < 10_000:
                run.append(before)
            runs.append(run[::-1])
        return sorted(runs, key=len, reverse=True)


def fan_in(node: LayerNode, weight: ParamStats) -> int:
    """Inputs per output unit: ``in_features``, or ``(c_in/groups)·k`` for a convolution."""
    if "in_features" in node.attrs:
        return int(node.attrs["in_features"])
    if node.role == "conv" and len(weight.shape) >= 2:
        if node.attrs.get("transposed"):
            groups = int(node.attrs.get("groups", 1))
            return weight.shape[1] * math.prod(weight.shape[2:]) // 1 * 1 if groups else 1
        return math.prod(weight.shape[1:])
    if len(weight.shape) == 2:
        return weight.shape[1]
    return max(math.prod(weight.shape[1:]), 1)


def variance(stats: ParamStats) -> float:
    return max(stats.mean_sq - stats.mean * stats.mean, 0.0)


def log10(value: float) -> float:
    return math.log10(value) if value > 0 else -math.inf


def short_list(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{i}`" for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def module_span(nodes: Sequence[LayerNode]) -> str:
    """``net.0`` … ``net.36`` for a run of layers."""
    names = [n.module or n.name for n in nodes]
    return f"`{names[0]}`" if len(names) == 1 else f"`{names[0]}` … `{names[-1]}`"


def weight_log10(estimates: Estimates | None) -> Mapping[str, float]:
    if estimates is None:
        return {}
    return {w.module: w.log10_grad_rms for w in estimates.weights if w.log10_grad_rms is not None}
