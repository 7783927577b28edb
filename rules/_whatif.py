"""Re-estimate a model with a fix applied to a copy of its graph: the ``after_fix`` evidence of a finding.

A fix that changes an init or a scale changes only parameter statistics, so the copy replaces
``ParamStats`` (``dataclasses.replace``) and runs the same static estimator; the user's model is
never touched. A fix that swaps an activation replaces the ``LayerNode``s instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from gradlint.rulekit import (
    Estimates,
    LayerNode,
    ModelGraph,
    ParamStats,
    estimate,
    frozen_mapping,
)

#: parameter name -> (mean, E[w²]) the fix gives it.
Moments = Mapping[str, tuple[float, float]]


def with_params(
    graph: ModelGraph, moments: Moments, blocks: Mapping[str, tuple[tuple[float, float], ...]] | None = None
) -> ModelGraph:
    """``graph`` with the named parameters' statistics replaced (spectral values scaled along with the RMS)."""
    params = dict(graph.params)
    for name, (mean, mean_sq) in moments.items():
        old = params.get(name)
        if old is None:
            continue
        ratio = math.sqrt(mean_sq / old.mean_sq) if old.mean_sq > 0 and math.isfinite(old.mean_sq) else None
        params[name] = replace(
            old,
            mean=mean,
            mean_sq=mean_sq,
            blocks=tuple((mean, mean_sq) for _ in old.blocks),
            spectral_norm=old.spectral_norm * ratio if ratio is not None and old.spectral_norm is not None else None,
            spectral_radius=old.spectral_radius * ratio
            if ratio is not None and old.spectral_radius is not None
            else None,
        )
    for name, new_blocks in (blocks or {}).items():
        old = params.get(name)
        if old is None:
            continue
        count = len(new_blocks)
        mean = sum(m for m, _ in new_blocks) / count
        mean_sq = sum(s for _, s in new_blocks) / count
        params[name] = replace(old, mean=mean, mean_sq=mean_sq, blocks=tuple(new_blocks))
    return replace(graph, params=frozen_mapping(params))


def with_nodes(graph: ModelGraph, change: Callable[[LayerNode], LayerNode]) -> ModelGraph:
    return replace(graph, nodes=tuple(change(n) for n in graph.nodes))


def scaled(stats: ParamStats, factor: float) -> tuple[float, float]:
    """(mean, E[w²]) of ``stats`` multiplied by ``factor``."""
    return stats.mean * factor, stats.mean_sq * factor * factor


def summary(estimates: Estimates) -> dict[str, Any]:
    """The verdict of a re-estimate, for ``after_fix``."""
    found = estimates.verdict
    return {
        "verdict": found.verdict,
        "max_log10_grad_rms": _round(found.max_value),
        "min_log10_grad_rms": _round(found.min_value),
        "span_log10": _round(found.span),
    }


def reestimate(graph: ModelGraph) -> Estimates:
    return estimate(graph)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
