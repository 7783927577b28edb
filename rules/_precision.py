"""What the GL8xx rules share: the model's precision check, how a format is named, and the re-checks of fixes."""

from __future__ import annotations

from typing import Any

from gradlint.estimate.precision import check_precision, parse_precision
from gradlint.types import Estimates, ModelGraph, PrecisionCheck, PrecisionMode


def precision_of(estimates: Any) -> PrecisionCheck | None:
    """The precision check ``--precision`` asked for; None without the option (the GL8xx rules stay silent)."""
    return getattr(estimates, "precision", None)


def mode_text(mode: PrecisionMode) -> str:
    """``float16`` or ``float16 (mixed precision, torch.autocast)``."""
    return f"{mode.low.name} (mixed precision, torch.autocast)" if mode.autocast else mode.low.name


def recheck(
    graph: ModelGraph, estimates: Estimates, mode: PrecisionMode | str, float32_nodes: frozenset[str] = frozenset()
) -> PrecisionCheck:
    """The precision check again, under another mode or with some nodes kept in float32."""
    resolved = parse_precision(mode)
    assert resolved is not None
    return check_precision(graph, estimates, resolved, float32_nodes)
