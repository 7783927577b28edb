"""The frozen records a probe returns; they live in ``gradlint.types.probe`` (the JSON form is the formatter's)."""

from gradlint.types.probe import (
    MemoryEstimate,
    NonFiniteSite,
    ProbedActivation,
    ProbedWeight,
    ProbeResult,
    StepsResult,
)

__all__ = ["MemoryEstimate", "NonFiniteSite", "ProbeResult", "ProbedActivation", "ProbedWeight", "StepsResult"]
