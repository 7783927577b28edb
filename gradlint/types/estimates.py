"""What the estimate stage predicts: per node and per weight, indexed by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from gradlint.types.training import TrainingCheck
from gradlint.types.verdict import Verdict


@dataclass(frozen=True)
class WeightEstimate:
    name: str
    module: str
    log10_grad_rms: float | None
    """Predicted log10 of ‖∂L/∂W‖_F / sqrt(numel); None when no gradient reaches it (blocked)."""
    band: tuple[float, float] | None
    """Finite-width spread (Hanin 2018): log-normal with variance ∝ β = Σ 1/n_j over the layers after it."""
    beta: float


@dataclass(frozen=True)
class NodeEstimate:
    name: str
    forward_rms: float
    """Predicted RMS of the node's output."""
    backward_gain: float | None
    """Ratio of gradient RMS at the node's main input to that at its output."""
    gradient_rms: float | None
    """Predicted RMS of the gradient at the node's output."""
    uncertain: str | None = None


@dataclass(frozen=True)
class Estimates:
    weights: tuple[WeightEstimate, ...]
    nodes: tuple[NodeEstimate, ...]
    verdict: Verdict
    uncertain: tuple[tuple[str, str], ...]
    """(node name, reason) wherever a generic rule stood in for a missing one."""
    training: TrainingCheck | None = None
    """The static training check for the configured optimizer (``gradlint.estimate.training``), once the api
    has run it; rules read it to state findings for that optimizer."""

    def weight(self, name: str) -> WeightEstimate:
        return self.weights_by_name[name]

    def node(self, name: str) -> NodeEstimate:
        return self.nodes_by_name[name]

    @cached_property
    def weights_by_name(self) -> Mapping[str, WeightEstimate]:
        # rules, formatters and the plot look estimates up by name: one index, not a scan each
        return {w.name: w for w in self.weights}

    @cached_property
    def nodes_by_name(self) -> Mapping[str, NodeEstimate]:
        return {n.name: n for n in self.nodes}
