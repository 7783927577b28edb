"""The frozen records a probe returns, and their plain-JSON form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gradlint.verdict import Verdict, VerdictThresholds


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
    """A short real training run on a private copy: does this learning rate blow up?"""

    steps: int
    lr: float
    optimizer: str
    losses: tuple[float, ...]
    """The loss before the first step, then after each step (stops early at the first non-finite loss)."""
    diverged: bool
    reason: str


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
        for w in self.weights:
            if w.name == name:
                return w
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; log10 values rounded to 4 decimals, non-finite numbers as null."""
        d = self.verdict_details
        return {
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "span": _num(d.span),
            "max": _num(d.max_value),
            "min": _num(d.min_value),
            "first_weight": d.first_weight,
            "last_weight": d.last_weight,
            "thresholds": {
                "explode_max": self.thresholds.explode_max,
                "vanish_min": self.thresholds.vanish_min,
                "explode_span": self.thresholds.explode_span,
                "vanish_span": self.thresholds.vanish_span,
            },
            "device": self.device,
            "seeds": list(self.seeds),
            "output": self.output,
            "output_shape": list(self.output_shape),
            "weights": [
                {
                    "name": w.name,
                    "module": w.module,
                    "module_type": w.module_type,
                    "shape": list(w.shape),
                    "forward_index": w.forward_index,
                    "log10_grad_rms": _num(w.log10_grad_rms),
                    "per_seed": [_num(v) for v in w.per_seed],
                    "blocked": w.blocked,
                    "nonfinite": w.nonfinite,
                }
                for w in self.weights
            ],
            "activations": [
                {
                    "module": a.module,
                    "module_type": a.module_type,
                    "forward_index": a.forward_index,
                    "log10_rms": _num(a.log10_rms),
                    "dead_fraction": _num(a.dead_fraction),
                    "nonfinite": a.nonfinite,
                    "shape": list(a.shape),
                }
                for a in self.activations
            ],
            "first_nonfinite": _site(self.first_nonfinite),
            "nonfinite_sites": [_site(s) for s in self.nonfinite_sites],
            "steps": None
            if self.steps is None
            else {
                "steps": self.steps.steps,
                "lr": self.steps.lr,
                "optimizer": self.steps.optimizer,
                "losses": [_sig(v) for v in self.steps.losses],
                "diverged": self.steps.diverged,
                "reason": self.steps.reason,
            },
            "memory": None
            if self.memory is None
            else {
                "needed_bytes": self.memory.needed_bytes,
                "weights_bytes": self.memory.weights_bytes,
                "activations_bytes": self.memory.activations_bytes,
                "available_bytes": self.memory.available_bytes,
                "source": self.memory.source,
                "available_source": self.memory.available_source,
            },
            "wall_time_s": round(self.wall_time_s, 3),
        }


def _num(value: float | None, digits: int = 4) -> float | None:
    # JSON has no NaN or infinity; the ``nonfinite`` flags carry that information.
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _sig(value: float) -> float | None:
    # Losses span many decades; keep significant digits rather than decimals.
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _site(site: NonFiniteSite | None) -> dict[str, Any] | None:
    if site is None:
        return None
    return {
        "phase": site.phase,
        "module": site.module,
        "module_type": site.module_type,
        "what": site.what,
        "seed": site.seed,
    }
