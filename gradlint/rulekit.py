"""Everything a rule file works with, from one module: the context it reads and the ``Hit`` it yields.

A rule's ``check(ctx: RuleContext)`` reads ``ctx.graph`` (the traced ``ModelGraph``), ``ctx.estimates`` (the
static prediction, always present), ``ctx.view`` (the graph with the walks rules share: chains of layers in
series, residual streams, per-node estimates) and ``ctx.options`` (the ``LintOptions`` of this lint), and
yields ``Hit``s; the engine turns each into a ``Finding`` with the rule's code, name, severity and kind, and
points it at the line that built the layer unless the hit names another location. ``VALID`` and ``INVALID``
hold example model files: source text, or an :class:`Example` that also says which module an INVALID
example's finding is about and a phrase its message contains (the example tests check both).

A *chain* is a run of Linear/Conv layers in series: each one's input comes from the previous one
through nothing but activations, dropout, reshapes and pooling (and, when asked, normalization
layers). An add, a multiply, an attention op or a second consumer ends it: a residual stream or
a gate changes the arithmetic DESIGN §3 applies to a chain.

Rules import from here (and from each other, relatively: ``from ._gains import chain_gains``), never from
the stages' internals: what the estimator offers rules is re-exported below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gradlint.estimate import estimate
from gradlint.estimate.attention import concentration
from gradlint.estimate.context import parameter_behind
from gradlint.estimate.gaussian import activation_function, expect, moments
from gradlint.estimate.whatif import critical_gain_sq
from gradlint.types import (
    Estimates,
    Fix,
    LayerNode,
    ModelGraph,
    NodeEstimate,
    ParamStats,
    Severity,
    SourceLocation,
    Verdict,
    VerdictThresholds,
    WeightEstimate,
    frozen_mapping,
)

__all__ = [
    "BOUNDED_ACTIVATIONS",
    "STREAM_ROLES",
    "TRANSPARENT_ROLES",
    "WEIGHT_ROLES",
    "Chain",
    "Estimates",
    "Example",
    "Fix",
    "Hit",
    "LayerNode",
    "ModelGraph",
    "NodeEstimate",
    "ParamStats",
    "RuleContext",
    "Severity",
    "SourceLocation",
    "Stream",
    "Verdict",
    "VerdictThresholds",
    "View",
    "WeightEstimate",
    "activation_function",
    "concentration",
    "critical_gain_sq",
    "estimate",
    "expect",
    "fan_in",
    "frozen_mapping",
    "module_span",
    "moments",
    "parameter_behind",
    "width",
]


@dataclass(frozen=True)
class Hit:
    message: str
    module: str | None
    fix: Fix | None = None
    evidence: Mapping[str, Any] = field(default_factory=frozen_mapping)
    location: SourceLocation | None = None
    """Defaults to where ``module`` was constructed."""
    severity: Severity | None = None
    """Defaults to the rule's severity."""


@dataclass(frozen=True)
class Example:
    """An example model file of a rule (its docs and its tests)."""

    source: str
    module: str | None = None
    """INVALID only: the module a finding of the rule must be about (``net.3``); None: any."""
    says: str | None = None
    """INVALID only: a phrase that finding's message must contain; None: any message."""


@dataclass(frozen=True)
class RuleContext:
    """What one rule sees of one model."""

    graph: ModelGraph
    estimates: Estimates
    options: Any = None
    """The ``gradlint.options.LintOptions`` of this lint (None when a rule is run on its own), e.g.
    ``ctx.options.thresholds``; typed loosely because options sit above the rules in the layering."""

    @cached_property
    def view(self) -> View:
        return View(self.graph, self.estimates)


#: Roles a chain passes through: they change the signal elementwise or only rearrange it.
TRANSPARENT_ROLES = frozenset({"activation", "dropout", "reshape", "pool"})
WEIGHT_ROLES = frozenset({"linear", "conv"})
BOUNDED_ACTIVATIONS = frozenset({"tanh", "sigmoid", "hardtanh", "softsign", "hardsigmoid"})


@dataclass(frozen=True)
class View:
    """The graph with the walks and lookups the rules need again and again."""

    graph: ModelGraph
    estimates: Estimates | None

    @property
    def by_name(self) -> Mapping[str, LayerNode]:
        return self.graph.nodes_by_name

    @property
    def consumers(self) -> Mapping[str, tuple[LayerNode, ...]]:
        return self.graph.consumers

    @property
    def node_estimates(self) -> Mapping[str, NodeEstimate]:
        return self.estimates.nodes_by_name if self.estimates is not None else {}

    def forward_rms(self, name: str) -> float | None:
        found = self.node_estimates.get(name)
        if found is None or not math.isfinite(found.forward_rms):
            return None
        return found.forward_rms

    def log10_norm_gain(self, node: LayerNode) -> float | None:
        """log10 of ‖g_in‖/‖g_out‖ across ``node`` (its main input): the per-element gain times √(numel_in/numel_out)."""
        found = self.node_estimates.get(node.name)
        source = self.input_node(node)
        if found is None or not found.backward_gain or source is None or source.shape is None or node.shape is None:
            return None
        return math.log10(found.backward_gain) + 0.5 * math.log10(
            math.prod(source.shape) / max(math.prod(node.shape), 1)
        )

    def input_node(self, node: LayerNode, index: int = 0) -> LayerNode | None:
        return self.graph.input_node(node, index)

    def param(self, module: str | None, local: str) -> ParamStats | None:
        if module is None:
            return None
        stats = self.graph.params.get(f"{module}.{local}" if module else local)
        if stats is None or not math.isfinite(stats.mean_sq):
            return None
        return stats

    def previous_layer(
        self, node: LayerNode, through: frozenset[str] = TRANSPARENT_ROLES, norm_types: Iterable[str] = ()
    ) -> tuple[LayerNode | None, list[LayerNode]]:
        """The weight layer whose output reaches ``node``'s first input through ``through`` roles only, without
        branching, and the nodes crossed on the way (nearest first)."""
        norm_types = tuple(norm_types)
        crossed: list[LayerNode] = []
        for current in self.graph.upstream(node):
            if len(self.consumers.get(current.name, ())) != 1:
                break  # the value also feeds something else: a skip connection or a gate
            if current.role in WEIGHT_ROLES and current.op == "call_module":
                return current, crossed
            passes = current.role in through or (
                current.role == "normalization"
                and (current.module_type or "").startswith(norm_types)
                and bool(norm_types)
            )
            if not passes or not current.inputs:
                break
            crossed.append(current)
        return None, crossed

    def chains(self, through: frozenset[str] = TRANSPARENT_ROLES, norm_types: Iterable[str] = ()) -> list[Chain]:
        """Maximal runs of weight layers in series, longest first."""
        norm_types = tuple(norm_types)
        layers = [n for n in self.graph.nodes if n.op == "call_module" and n.role in WEIGHT_ROLES]
        previous = {n.name: self.previous_layer(n, through, norm_types) for n in layers}
        has_next = {p.name for p, _ in previous.values() if p is not None}
        runs = []
        for node in layers:
            if node.name in has_next:
                continue
            run, links = [node], []
            while len(run) < 10_000:
                before, crossed = previous[run[-1].name]
                if before is None:
                    break
                run.append(before)
                links.append(crossed[::-1])
            runs.append(Chain(tuple(run[::-1]), tuple(tuple(c) for c in links[::-1])))
        return sorted(runs, key=lambda c: len(c.layers), reverse=True)

    def stream_input(self, add: LayerNode) -> tuple[int, LayerNode] | None:
        """(input index, node) of the residual add that ``add`` continues, through activations and reshapes only."""
        for index in range(len(add.inputs)):
            for current in self.graph.upstream(self.input_node(add, index), limit=16, inclusive=True):
                if current.role == "residual-add":
                    return index, current
                if current.role not in STREAM_ROLES or not current.inputs:
                    break
        return None

    def streams(self) -> list[Stream]:
        """Residual streams: runs of residual adds each fed by the previous one (no normalization between), longest first."""
        adds = [n for n in self.graph.nodes if n.role == "residual-add" and len(n.inputs) == 2]
        previous = {a.name: self.stream_input(a) for a in adds}
        has_next = {found[1].name for found in previous.values() if found is not None}
        streams = []
        for add in adds:
            if add.name in has_next:
                continue
            run = [add]
            skips = []
            while (found := previous.get(run[-1].name)) is not None and len(run) < 10_000:
                skips.append(found[0])
                run.append(found[1])
            run.reverse()
            skips.reverse()
            first_skip = self._skip_index(run[0])
            streams.append(Stream(tuple(run), (first_skip, *skips)))
        return sorted(streams, key=lambda s: len(s.adds), reverse=True)

    def _skip_index(self, add: LayerNode) -> int:
        """The identity input of a stream's first add: the graph input, else the one not computed inside the add's
        own block (the branch is), else the one with the larger forward RMS (a branch starts small or normalised)."""
        nodes = [self.by_name.get(name) for name in add.inputs]
        for index, node in enumerate(nodes):
            if node is not None and node.op == "placeholder":
                return index
        if add.module:
            inside = [i for i, n in enumerate(nodes) if n is not None and (n.module or "").startswith(add.module + ".")]
            if len(inside) == 1:
                return 1 - inside[0]
        sizes = [self.forward_rms(name) or 0.0 for name in add.inputs]
        return max(range(len(sizes)), key=lambda i: sizes[i])


STREAM_ROLES = frozenset({"activation", "dropout", "reshape"})


@dataclass(frozen=True)
class Stream:
    """A residual stream: its adds in forward order and, for each, the input index of the skip (identity) path."""

    adds: tuple[LayerNode, ...]
    skips: tuple[int, ...]

    def skip(self, index: int) -> str:
        return self.adds[index].inputs[self.skips[index]]

    def branch(self, index: int) -> str:
        return self.adds[index].inputs[1 - self.skips[index]]


@dataclass(frozen=True)
class Chain:
    """Weight layers in series, and between each consecutive pair the nodes crossed (in forward order)."""

    layers: tuple[LayerNode, ...]
    links: tuple[tuple[LayerNode, ...], ...]
    """``links[i]`` lies between ``layers[i]`` and ``layers[i + 1]``."""

    def activations(self, index: int) -> list[LayerNode]:
        return [n for n in self.links[index] if n.role == "activation"]


def fan_in(node: LayerNode, weight: ParamStats) -> int:
    """Fan-in as ``torch.nn.init`` computes it (``in_features``; ``shape[1]·kernel`` for a convolution)."""
    if "in_features" in node.attrs:
        return int(node.attrs["in_features"])  # also right for transformers' Conv1D, stored (in, out)
    return max(math.prod(weight.shape[1:]), 1) if len(weight.shape) >= 2 else 1


def width(node: LayerNode) -> int | None:
    """Output units of a layer: ``out_features`` or ``out_channels``."""
    value = node.attrs.get("out_features") or node.attrs.get("out_channels")
    return int(value) if isinstance(value, int) and value > 0 else None


def module_span(nodes: Sequence[LayerNode]) -> str:
    """``net.0`` … ``net.36`` for a run of layers."""
    names = [n.module or n.name for n in nodes]
    return f"`{names[0]}`" if len(names) == 1 else f"`{names[0]}` … `{names[-1]}`"
