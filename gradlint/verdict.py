"""The exploding / vanishing / ok verdict of DESIGN §2, shared by the estimator and the probe.

Both stages hand the same ordered per-weight values to :func:`verdict`, so a
prediction and a measurement are judged by one rule and one set of thresholds.
Pure Python on purpose: no torch, so it can run on anything the estimator produces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from gradlint.types.verdict import Verdict, VerdictThresholds

__all__ = ["EXPLODING", "OK", "VANISHING", "Verdict", "VerdictThresholds", "WeightValue", "verdict"]

EXPLODING = "exploding"
VANISHING = "vanishing"
OK = "ok"

#: One weight as the verdict sees it: ``(name, log10 gradient RMS or None when blocked, non-finite)``.
WeightValue = tuple[str, "float | None", bool]


def verdict(values: Iterable[WeightValue], thresholds: VerdictThresholds | None = None) -> Verdict:
    """Judge per-weight log10 gradient RMS values given in forward order.

    ``values`` holds ``(name, log10 value, nonfinite)``; a value of ``None`` marks a
    blocked weight (gradient exactly zero), which is reported but left out.
    A non-finite value counts as non-finite even when the flag is not set.
    """
    t = thresholds or VerdictThresholds()
    blocked: list[str] = []
    nonfinite: list[str] = []
    finite: list[tuple[str, float]] = []
    for name, value, flag in list(values):
        if flag or (value is not None and not math.isfinite(value)):
            nonfinite.append(name)
        elif value is None:
            blocked.append(name)
        else:
            finite.append((name, float(value)))

    if not finite and not nonfinite:
        why = "no weights" if not blocked else f"every weight's gradient is exactly zero ({len(blocked)} blocked)"
        return Verdict(OK, f"nothing to judge: {why}", blocked=tuple(blocked))

    stats = _Stats.of(finite)
    base = Verdict(
        OK,
        "",
        max_value=stats.max_value,
        max_weight=stats.max_weight,
        min_value=stats.min_value,
        min_weight=stats.min_weight,
        first_weight=stats.first_weight,
        last_weight=stats.last_weight,
        span=stats.span,
        nonfinite=tuple(nonfinite),
        blocked=tuple(blocked),
    )
    name, reason = _judge(stats, nonfinite, t)
    return replace(base, verdict=name, reason=reason)


def _judge(stats: _Stats, nonfinite: list[str], t: VerdictThresholds) -> tuple[str, str]:
    """The first rule of DESIGN §2 that fires; exploding is checked before vanishing."""
    if nonfinite:
        more = f" and {len(nonfinite) - 1} more" if len(nonfinite) > 1 else ""
        return EXPLODING, f"non-finite gradient at {nonfinite[0]}{more}"
    if stats.max_value is None or stats.min_value is None or stats.span is None:
        return OK, "nothing to judge"
    if stats.max_value >= t.explode_max:
        return EXPLODING, f"max log10 gradient RMS {stats.max_value:.2f} at {stats.max_weight} >= {t.explode_max:g}"
    if stats.span >= t.explode_span:
        return EXPLODING, f"first-last span {_span_text(stats)} >= {t.explode_span:g}"
    if stats.min_value <= t.vanish_min:
        return VANISHING, f"min log10 gradient RMS {stats.min_value:.2f} at {stats.min_weight} <= {t.vanish_min:g}"
    if stats.span <= t.vanish_span:
        return VANISHING, f"first-last span {_span_text(stats)} <= {t.vanish_span:g}"
    return OK, f"log10 gradient RMS in [{stats.min_value:.2f}, {stats.max_value:.2f}], first-last span {stats.span:.2f}"


@dataclass(frozen=True)
class _Stats:
    max_value: float | None
    max_weight: str | None
    min_value: float | None
    min_weight: str | None
    first_weight: str | None
    last_weight: str | None
    first_value: float | None
    last_value: float | None
    span: float | None

    @classmethod
    def of(cls, finite: list[tuple[str, float]]) -> _Stats:
        if not finite:
            return cls(None, None, None, None, None, None, None, None, None)
        hi = max(finite, key=lambda nv: nv[1])
        lo = min(finite, key=lambda nv: nv[1])
        first, last = finite[0], finite[-1]
        return cls(hi[1], hi[0], lo[1], lo[0], first[0], last[0], first[1], last[1], first[1] - last[1])


def _span_text(stats: _Stats) -> str:
    return (
        f"{stats.span:.2f} ({stats.first_weight} {stats.first_value:.2f}, {stats.last_weight} {stats.last_value:.2f})"
    )
