"""The verdict of DESIGN §2 as a record, and its thresholds (``gradlint.verdict`` computes it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerdictThresholds:
    """Verdict thresholds in log10 of the per-weight gradient RMS (DESIGN §2 defaults)."""

    explode_max: float = 3.0
    """Exploding when any weight's value is at or above this."""
    vanish_min: float = -3.0
    """Vanishing when any weight's value is at or below this."""
    explode_span: float = 2.0
    """Exploding when ``g_first - g_last`` is at or above this."""
    vanish_span: float = -2.0
    """Vanishing when ``g_first - g_last`` is at or below this."""


@dataclass(frozen=True)
class Verdict:
    """The verdict and the numbers it was read from."""

    verdict: str
    """``exploding``, ``vanishing`` or ``ok``."""
    reason: str
    """One line that names the rule that fired and the numbers behind it."""
    max_value: float | None = None
    max_weight: str | None = None
    min_value: float | None = None
    min_weight: str | None = None
    first_weight: str | None = None
    """First weight in forward order whose gradient is not exactly zero."""
    last_weight: str | None = None
    span: float | None = None
    """``g_first - g_last`` (positive: the first layers get larger gradients than the last)."""
    nonfinite: tuple[str, ...] = ()
    """Weights whose gradient is NaN or infinite."""
    blocked: tuple[str, ...] = ()
    """Weights whose gradient is exactly zero, left out of the verdict."""
