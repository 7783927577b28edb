"""The critical init scale for an activation: what the what-if re-estimates of ``rules/_whatif`` draw weights at."""

from __future__ import annotations

from gradlint.estimate.gaussian import moments


def critical_gain_sq(activation: str | None) -> float:
    """gain² such that fan_in·Var(W)·E[φ'(z)²]-style propagation keeps the gradient scale: 1/E[φ'²] at unit input."""
    if activation is None:
        return 1.0
    found = moments(activation, {}, 0.0, 1.0, 0.0)
    if found is None or found.slope_sq <= 0:
        return 1.0
    return 1.0 / found.slope_sq
