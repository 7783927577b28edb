"""Where the probe's measurement and the static estimate disagree, per weight (issue #15).

A weight disagrees when both sides have a finite value more than ``threshold`` orders apart (log10), or
when one side says blocked (exactly zero gradient) and the other does not, or one side is non-finite and
the other is not. The report shows each one and the count, so a user sees when the estimate is not to be
trusted for this model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gradlint.types.estimates import WeightEstimate
from gradlint.types.probe import DISAGREEMENT_ORDERS, Agreement, Disagreement, ProbedWeight

__all__ = ["DISAGREEMENT_ORDERS", "Agreement", "Disagreement", "agreement"]


def agreement(
    predicted: Sequence[WeightEstimate], measured: Sequence[ProbedWeight], threshold: float = DISAGREEMENT_ORDERS
) -> Agreement:
    """Compare every weight both sides know, in the probe's (forward) order."""
    guesses = {w.name: w.log10_grad_rms for w in predicted}
    found = []
    compared = 0
    for weight in measured:
        if weight.name not in guesses:
            continue
        compared += 1
        kind = _kind(guesses[weight.name], weight, threshold)
        if kind is not None:
            value = weight.log10_grad_rms if not weight.nonfinite else math.nan
            found.append(Disagreement(weight.name, guesses[weight.name], value, kind))
    return Agreement(compared, tuple(found), threshold)


def _kind(guess: float | None, weight: ProbedWeight, threshold: float) -> str | None:
    measured_nonfinite = weight.nonfinite or (weight.log10_grad_rms is not None and math.isnan(weight.log10_grad_rms))
    predicted_nonfinite = guess is not None and not math.isfinite(guess)
    if measured_nonfinite or predicted_nonfinite:
        return None if measured_nonfinite == predicted_nonfinite else "non-finite"
    if weight.blocked or weight.log10_grad_rms is None:
        return None if guess is None else "blocked"
    if guess is None:
        return "unblocked"
    return "magnitude" if abs(guess - weight.log10_grad_rms) > threshold else None
