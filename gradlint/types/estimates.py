"""What the estimate stage predicts: per node and per weight, indexed by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from gradlint.types.base import frozen_mapping
from gradlint.types.precision import PrecisionCheck
from gradlint.types.training import TrainingCheck
from gradlint.types.verdict import Verdict

LOW_COVERAGE = 0.8
"""Below this fraction of its weights covered, a model's estimate is reported as uncertain: its verdict is
said to rest on guesses and "All checks passed" is not printed for it. An op without a rule on the main path
(a custom norm in every block, a cell in a loop) touches nearly every weight, and such ops moved estimates by
orders (issue #15); one on a side path (a gate, an auxiliary head) touches a few weights, and below 20 % of
them the verdict is still read from the rest."""


@dataclass(frozen=True)
class Coverage:
    """What the estimate covered of one model."""

    ops: int
    """Op nodes the estimate applied a rule to (module calls and functions on tensors)."""
    ops_covered: int
    """Of those, the ones with a rule that did not have to guess."""
    weights: int
    weights_covered: int
    """Weights whose estimate depends on no op without a rule (a blocked weight counts as covered)."""
    missing: tuple[tuple[str, int], ...] = ()
    """(op kind, number of nodes) for each op kind without a rule, most frequent first."""
    uncovered_by: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)
    """Weight name -> the op kinds without a rule that its estimate depends on (covered weights left out)."""

    @property
    def fraction(self) -> float:
        """Fraction of the weights covered (1.0 for a model without weights)."""
        return self.weights_covered / self.weights if self.weights else 1.0

    @property
    def low(self) -> bool:
        return self.fraction < LOW_COVERAGE

    @property
    def complete(self) -> bool:
        return self.ops_covered == self.ops and self.weights_covered == self.weights

    def summary(self) -> str:
        """``covered 1 of 25 weights (4%) and 30 of 55 ops; no rule for _weight_norm (24), cumsum (1)``."""
        text = (
            f"covered {self.weights_covered} of {self.weights} weights ({self.fraction:.0%}) "
            f"and {self.ops_covered} of {self.ops} ops"
        )
        if self.missing:
            text += "; no rule for " + ", ".join(f"{kind} ({count})" for kind, count in self.missing)
        return text


@dataclass(frozen=True)
class WeightEstimate:
    name: str
    module: str
    log10_grad_rms: float | None
    """Predicted log10 of ‖∂L/∂W‖_F / sqrt(numel); None when it is zero by construction (blocked); ``inf`` when
    it overflows float64 (non-finite in any float dtype)."""
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
    coverage: Coverage = Coverage(0, 0, 0, 0)
    """How much of the model the estimate covered; when ``coverage.low`` the verdict rests on guesses."""
    precision: PrecisionCheck | None = None
    """The precision check under ``--precision`` (None without it)."""

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
