"""The DESIGN §2 verdict, shared by the estimator and the probe."""

from __future__ import annotations

import math

import pytest

from gradlint.verdict import Verdict, VerdictThresholds, verdict


def values(*gs: float | None) -> list[tuple[str, float | None, bool]]:
    return [(f"w{i}", g, False) for i, g in enumerate(gs)]


@pytest.mark.parametrize(
    ("gs", "expected", "fragment"),
    [
        ((-1.0, -1.2, -0.8), "ok", "in [-1.20, -0.80]"),
        ((0.0, 3.0, 0.0), "exploding", "max log10 gradient RMS 3.00 at w1 >= 3"),
        ((1.0, 0.0, -1.0), "exploding", "first-last span 2.00 (w0 1.00, w2 -1.00) >= 2"),
        ((0.0, -3.0, 0.0), "vanishing", "min log10 gradient RMS -3.00 at w1 <= -3"),
        ((-2.0, -1.0, 0.0), "vanishing", "first-last span -2.00"),
        # Exploding wins when both fire.
        ((-3.5, 3.5), "exploding", "max"),
    ],
)
def test_rules(gs: tuple[float, ...], expected: str, fragment: str) -> None:
    result = verdict(values(*gs))
    assert result.verdict == expected
    assert fragment in result.reason


def test_blocked_weights_are_left_out_of_first_last_and_min() -> None:
    # w0 and w3 are blocked (exactly zero): first = w1, last = w2, and no "min <= -3".
    result = verdict(values(None, -1.0, -1.5, None))
    assert result.verdict == "ok"
    assert (result.first_weight, result.last_weight) == ("w1", "w2")
    assert result.span == pytest.approx(0.5)
    assert result.blocked == ("w0", "w3")


def test_nonfinite_is_exploding() -> None:
    result = verdict([("a", -1.0, False), ("b", math.nan, True), ("c", -1.0, False)])
    assert result.verdict == "exploding" and result.nonfinite == ("b",)
    assert "non-finite gradient at b" in result.reason
    # An infinite value counts even without the flag.
    assert verdict([("a", math.inf, False)]).verdict == "exploding"


def test_nothing_to_judge() -> None:
    assert verdict([]).verdict == "ok"
    all_blocked = verdict(values(None, None))
    assert all_blocked.verdict == "ok" and "exactly zero" in all_blocked.reason


def test_thresholds_are_configurable() -> None:
    strict = VerdictThresholds(explode_max=0.5, vanish_min=-0.5, explode_span=0.2, vanish_span=-0.2)
    assert verdict(values(0.6), strict).verdict == "exploding"
    assert verdict(values(-0.6), strict).verdict == "vanishing"
    assert verdict(values(0.3, 0.0), strict).verdict == "exploding"
    assert verdict(values(0.6)).verdict == "ok"


def test_accepts_any_iterable_and_returns_frozen() -> None:
    result = verdict(iter(values(-1.0, -1.0)))
    assert isinstance(result, Verdict)
    with pytest.raises(AttributeError):
        result.verdict = "x"  # type: ignore[misc]
