"""What a probe measures: the frozen records of one run of the reference protocol."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from gradlint.types.training import OptimizerConfig
from gradlint.types.verdict import Verdict, VerdictThresholds


@dataclass(frozen=True)
class ProbedWeight:
    """One weight of the reference protocol and its measured gradient."""

    name: str
    """As ``model.named_parameters()`` names it (a tied weight once, under its first name)."""
    module: str
    """Dotted path of the owning module (``""`` for the model itself)."""
    module_type: str
    shape: tuple[int, ...]
    forward_index: int
    """Position of the owning module's first call in the forward pass (a module that never ran
    itself, e.g. ``out_proj`` of ``nn.MultiheadAttention``, takes its nearest ancestor's); -1 when none ran."""
    log10_grad_rms: float | None
    """log10 of ``‖∂L/∂W‖_F / sqrt(numel)``, the median over seeds; None when blocked, NaN when non-finite."""
    per_seed: tuple[float | None, ...]
    """The same value for each seed, in seed order; None where the gradient was exactly zero."""
    blocked: bool
    """The gradient is exactly zero (in the median): reported, but left out of the verdict."""
    nonfinite: bool
    """The gradient held a NaN or an infinity in at least one seed."""


@dataclass(frozen=True)
class ProbedActivation:
    """Forward statistics of one module's output (its first call), medians over seeds."""

    module: str
    module_type: str
    forward_index: int
    log10_rms: float | None
    """log10 of the RMS of the first output tensor; None when it is exactly zero, NaN when non-finite."""
    dead_fraction: float | None
    """ReLU-family modules only: the fraction of units (output positions past the batch dimension)
    that are zero for every sample of the batch; None for other modules."""
    nonfinite: bool
    shape: tuple[int, ...]


@dataclass(frozen=True)
class NonFiniteSite:
    """Where a NaN or an infinity first appeared."""

    phase: str
    """``forward`` or ``backward``."""
    module: str
    """Dotted module path (``""`` for the model itself, e.g. a functional op in its forward)."""
    module_type: str
    what: str
    """One line: which tensor went non-finite and, when known, why."""
    seed: int


@dataclass(frozen=True)
class StepsResult:
    """A short real training run on a private copy by the training check's protocol (DESIGN §2b)."""

    steps: int
    optimizer: OptimizerConfig
    losses: tuple[float, ...]
    """The loss before the first step, then after each step (stops early at the first non-finite loss)."""
    verdict: str
    """``trains``, ``diverges`` or ``stalls`` (``gradlint.probe.steps``)."""
    loss_ratio: float | None
    """Final over initial loss; None when a loss was not finite."""
    reason: str

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @property
    def diverged(self) -> bool:
        return self.verdict == "diverges"


@dataclass(frozen=True)
class MemoryEstimate:
    """What the guard estimated before running, and what it compared it with."""

    needed_bytes: int
    weights_bytes: int
    """The private copy's parameters and buffers plus their gradients (and optimizer state for steps)."""
    activations_bytes: int
    available_bytes: int | None
    source: str
    """``meta`` (a forward on the meta device), ``graph`` (traced shapes), ``forward`` (a no-grad
    forward on the device) or ``none`` (activations not estimated)."""
    available_source: str


@dataclass(frozen=True)
class ProbeResult:
    """Everything one run of the reference protocol measured."""

    weights: tuple[ProbedWeight, ...]
    """In forward order."""
    verdict: str
    """``exploding``, ``vanishing`` or ``ok`` (DESIGN §2), from the measured values."""
    verdict_reason: str
    verdict_details: Verdict
    thresholds: VerdictThresholds
    device: str
    seeds: tuple[int, ...]
    output: str
    """Which tensor of the model's output was ``y``, e.g. ``output[0]`` or ``output['logits']``."""
    output_shape: tuple[int, ...]
    activations: tuple[ProbedActivation, ...]
    """Every submodule that ran, in the order of its first call."""
    first_nonfinite: NonFiniteSite | None
    """The first forward site if the forward pass went non-finite, else the first backward site."""
    nonfinite_sites: tuple[NonFiniteSite, ...]
    """The first site of each phase, from the first seed that had any."""
    steps: StepsResult | None
    memory: MemoryEstimate | None
    wall_time_s: float

    def weight(self, name: str) -> ProbedWeight:
        return self.weights_by_name[name]

    @cached_property
    def weights_by_name(self) -> Mapping[str, ProbedWeight]:
        return {w.name: w for w in self.weights}

    @cached_property
    def activations_by_module(self) -> Mapping[str, ProbedActivation]:
        return {a.module: a for a in self.activations}


DISAGREEMENT_ORDERS = 1.0
"""More than this many orders of magnitude (log10) between prediction and measurement is a disagreement."""


@dataclass(frozen=True)
class Disagreement:
    name: str
    predicted: float | None
    """Predicted log10 gradient RMS; None: predicted blocked; ``inf``: predicted non-finite."""
    measured: float | None
    """Measured log10 gradient RMS; None: measured blocked; NaN: non-finite."""
    kind: str
    """``magnitude`` (both finite, too far apart), ``blocked`` (measured zero, predicted a value),
    ``unblocked`` (predicted zero, measured a value) or ``non-finite`` (one side only)."""

    @property
    def difference(self) -> float | None:
        """predicted - measured, in log10; None unless both are finite."""
        if self.predicted is None or self.measured is None:
            return None
        if not (math.isfinite(self.predicted) and math.isfinite(self.measured)):
            return None
        return self.predicted - self.measured

    def describe(self) -> str:
        """``fc.weight: predicted -3.41, measured -1.20 (2.21 orders)``."""
        text = f"{self.name}: predicted {_shown(self.predicted)}, measured {_shown(self.measured)}"
        difference = self.difference
        return f"{text} ({abs(difference):.2f} orders)" if difference is not None else text


@dataclass(frozen=True)
class Agreement:
    weights: int
    """Weights present on both sides."""
    disagreements: tuple[Disagreement, ...]
    threshold: float = DISAGREEMENT_ORDERS

    @property
    def count(self) -> int:
        return len(self.disagreements)


def _shown(value: float | None) -> str:
    if value is None:
        return "blocked"
    if not math.isfinite(value):
        return "non-finite"
    return f"{value:.2f}"
