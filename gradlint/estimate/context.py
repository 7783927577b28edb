"""What an op rule sees of one node, and what it returns backward."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradlint.estimate.reparam import effective_weight
from gradlint.estimate.signal import Signal
from gradlint.trace.ops import NODE_ARG
from gradlint.types import LayerNode, ModelGraph, ParamStats


@dataclass
class OpContext:
    node: LayerNode
    inputs: list[Signal | None]
    """Signals of ``node.inputs``, in order; None for inputs that carry no float signal (ids, sizes)."""
    input_nodes: list[LayerNode | None]
    graph: ModelGraph
    values: list[Any] = field(default_factory=list)
    """Python values of non-tensor inputs that could be evaluated from shapes (``x.size(-1)``, ``math.sqrt(d)``)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Forward results an op needs again backward."""

    @property
    def attrs(self) -> Mapping[str, Any]:
        return self.node.attrs

    def param(self, local: str) -> ParamStats | None:
        """A parameter of the called module by its local name (``weight``, ``bias``, ``in_proj_weight``).

        For a function (``F.layer_norm(x, shape, w, b)``, ``F.batch_norm(x, mean, var, w, b)``) ``weight`` and
        ``bias`` are the parameters among its tensor arguments, in order; buffers (running statistics) are not.
        """
        if self.node.op == "call_function":
            if local not in ("weight", "bias"):
                return None
            affine = [name for i in self.node.inputs[1:] if (name := parameter_behind(self.graph, i)) is not None]
            index = 0 if local == "weight" else 1
            return effective_weight(self.graph.params, affine[index]) if index < len(affine) else None
        if self.node.module is None:
            return None
        prefix = f"{self.node.module}." if self.node.module else ""
        return effective_weight(self.graph.params, prefix + local)

    @property
    def g_pos(self) -> float:
        """Position-shared part of the output's gradient variance (set by the backward pass)."""
        return float(self.cache.get("g_pos", 0.0))

    @property
    def centered(self) -> bool:
        """The output's gradient has zero mean over the batch in every unit (it came through BatchNorm)."""
        return bool(self.cache.get("centered", False))

    @property
    def batch(self) -> int:
        """The protocol's batch size: the first dimension of the first input."""
        for spec in self.graph.inputs:
            if spec.shape:
                return spec.shape[0]
        return 1

    def numbers(self) -> list[float]:
        """Numeric operands: scalar arguments and evaluated size expressions, in argument order."""
        layout = self.attrs.get("layout")
        if layout is None:
            return [float(v) for v in self.attrs.get("scalars", ()) if _is_number(v)]
        values = iter(self.values)
        found = []
        for item in layout:
            value = next(values, None) if item == NODE_ARG else item
            if _is_number(value):
                found.append(float(value))
        return found

    def signal_inputs(self) -> list[tuple[int, Signal]]:
        return [(i, s) for i, s in enumerate(self.inputs) if s is not None and not s.constant]

    def input_shape(self, index: int = 0) -> tuple[int, ...] | None:
        node = self.input_nodes[index] if index < len(self.input_nodes) else None
        return node.shape if node is not None else None

    def param_input(self, index: int) -> ParamStats | None:
        """The parameter behind input ``index`` when it is a ``get_attr`` node."""
        node = self.input_nodes[index] if index < len(self.input_nodes) else None
        if node is None or node.op != "get_attr":
            return None
        return self.graph.params.get(node.target)


@dataclass
class Backward:
    inputs: dict[int, float] = field(default_factory=dict)
    """Input index -> gradient variance contribution per element of that input."""
    weights: dict[str, float] = field(default_factory=dict)
    """Parameter name -> E[(∂L/∂W)²] per element."""
    shared_inputs: dict[int, float] = field(default_factory=dict)
    """Input index -> position-shared part of the gradient variance; by default it scales like ``inputs``."""
    centered: bool | None = None
    """True when the inputs' gradients have zero mean over the batch (BatchNorm's backward); None: as the output's."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numel(shape: tuple[int, ...] | None) -> int:
    return math.prod(shape) if shape else 1


def ratio(out_shape: tuple[int, ...] | None, in_shape: tuple[int, ...] | None) -> float:
    """numel(out) / numel(in): how a broadcast sums gradients, or a slice covers its source."""
    if out_shape is None or in_shape is None:
        return 1.0
    return numel(out_shape) / max(numel(in_shape), 1)


def weight_gradient_sq(
    positions: float, batch: int, g: float, g_pos: float, x: Signal, centered: bool = False
) -> float:
    """E[(Σ_n δ_n x_n)²] over ``positions`` uses of a weight: independent across samples, and within one
    sample correlated through the position-shared parts of δ and x. When δ sums to zero over the batch
    and positions in every unit (below a BatchNorm), the part of x common to all of them (its per-unit
    mean, ``shared``) adds up to exactly nothing: Σ_n δ_n μ = μ Σ_n δ_n = 0, in both terms."""
    per_sample = positions / max(batch, 1)
    common = x.shared if centered else 0.0
    return positions * g * max(x.q - common, 0.0) + positions * max(per_sample - 1, 0.0) * g_pos * max(
        x.pos_shared - common, 0.0
    )


def mean_sq(stats: ParamStats | None) -> float:
    return 0.0 if stats is None or math.isnan(stats.mean_sq) else stats.mean_sq


def mean_of(stats: ParamStats | None) -> float:
    return 0.0 if stats is None or math.isnan(stats.mean) else stats.mean


def parameter_behind(graph: ModelGraph, name: str) -> str | None:
    """The parameter a node is, or reaches through reshapes alone (``w.squeeze(1)``, ``gamma.view(1, -1, 1, 1)``)."""
    node = graph.node(name)
    while node.op != "get_attr":
        if node.role != "reshape" or not node.inputs:
            return None
        node = graph.node(node.inputs[0])
    return node.target if node.target in graph.params else None
