"""The probe stage: measure gradients by the reference protocol (DESIGN §2) and confirm or refute findings.

``probe(model, example_inputs, ...) -> ProbeResult`` runs on a private copy; the
user's model, inputs and RNG state are left as they were.
"""

from __future__ import annotations

from gradlint.probe.api import DEFAULT_SEEDS, probe
from gradlint.probe.confirm import DEAD_CONFIRM_FRACTION, confirm_findings, pooled_log10
from gradlint.probe.device import DEVICE_CHOICES, resolve_device
from gradlint.probe.result import (
    MemoryEstimate,
    NonFiniteSite,
    ProbedActivation,
    ProbedWeight,
    ProbeResult,
    StepsResult,
)
from gradlint.probe.steps import DEFAULT_STEPS, DIVERGE_RATIO, STALL_RATIO
from gradlint.types import OPTIMIZER_NAMES as OPTIMIZERS
from gradlint.verdict import Verdict, VerdictThresholds

__all__ = [
    "DEAD_CONFIRM_FRACTION",
    "DEFAULT_SEEDS",
    "DEVICE_CHOICES",
    "DEFAULT_STEPS",
    "DIVERGE_RATIO",
    "OPTIMIZERS",
    "MemoryEstimate",
    "NonFiniteSite",
    "ProbeResult",
    "ProbedActivation",
    "ProbedWeight",
    "STALL_RATIO",
    "StepsResult",
    "Verdict",
    "VerdictThresholds",
    "confirm_findings",
    "pooled_log10",
    "probe",
    "resolve_device",
]
