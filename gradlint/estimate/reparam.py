"""Weights a layer computes from other parameters: ``weight_norm`` and ``spectral_norm``, old style and parametrized.

Old-style ``nn.utils.weight_norm`` replaces ``weight`` by ``weight_g`` and ``weight_v`` (W = g v / ‖v‖ per
output row); ``nn.utils.parametrizations.weight_norm`` keeps them as ``parametrizations.weight.original0``
and ``original1``; ``spectral_norm`` divides ``weight_orig`` (or ``parametrizations.weight.original``) by
its largest singular value. The layer rules read the weight the layer applies (:func:`effective_weight`);
the gradient they find for it is handed back to the parameters that make it (:func:`split_gradient`):
for W = g v̂, ∂L/∂g = v̂·∂L/∂W per row and ∂L/∂v = (g/‖v‖)(I - v̂v̂ᵀ)∂L/∂W; for W = V/σ, ∂L/∂V ≈ ∂L/∂W / σ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from gradlint.types import ParamStats

_WEIGHT_NORM = (("_g", "_v"), (".original0", ".original1"))


def _parts(params: Mapping[str, ParamStats], name: str) -> tuple[str, ParamStats, ParamStats | None] | None:
    """(kind, the direction or original parameter, the magnitude parameter) behind the computed weight ``name``."""
    module, _, local = name.rpartition(".")
    prefix = f"{module}." if module else ""
    old_g, old_v = params.get(f"{name}_g"), params.get(f"{name}_v")
    if old_g is not None and old_v is not None:
        return "weight_norm", old_v, old_g
    base = f"{prefix}parametrizations.{local}"
    new_g, new_v = params.get(f"{base}.original0"), params.get(f"{base}.original1")
    if new_g is not None and new_v is not None:
        return "weight_norm", new_v, new_g
    original = params.get(f"{name}_orig") or params.get(f"{base}.original")
    if original is not None:
        return "spectral_norm", original, None
    return None


def effective_weight(params: Mapping[str, ParamStats], name: str) -> ParamStats | None:
    """Statistics of the weight a layer applies under ``name``: the parameter itself, or the one computed."""
    if name in params:
        return params[name]
    parts = _parts(params, name)
    if parts is None:
        return None
    kind, direction, magnitude = parts
    if kind == "weight_norm" and magnitude is not None:
        # each output row of W has norm |g|: E[W²] = E[g²] / (entries per row)
        per_row = math.prod(direction.shape) / max(math.prod(magnitude.shape), 1)
        mean_sq = magnitude.mean_sq / max(per_row, 1.0)
    else:
        mean_sq = direction.mean_sq / max(_sigma(direction) ** 2, 1e-30)
    scale = math.sqrt(mean_sq / direction.mean_sq) if direction.mean_sq > 0 else 0.0
    return replace(direction, name=name, mean=direction.mean * scale, mean_sq=mean_sq, blocks=(), spectral_norm=None)


def split_gradient(params: Mapping[str, ParamStats], name: str, value: float) -> dict[str, float]:
    """E[(∂L/∂P)²] per element of each parameter P behind the computed weight ``name``, given E[(∂L/∂W)²]."""
    parts = _parts(params, name)
    if parts is None:
        return {}
    kind, direction, magnitude = parts
    weight = effective_weight(params, name)
    if weight is None or direction.mean_sq <= 0:
        return {}
    ratio = weight.mean_sq / direction.mean_sq  # (g/‖v‖)² per element, or 1/σ²
    if kind == "spectral_norm" or magnitude is None:
        return {direction.name: value * ratio}
    per_row = math.prod(direction.shape) / max(math.prod(magnitude.shape), 1)
    projected = max(1.0 - 1.0 / per_row, 0.0)  # the component along v̂ goes to g instead
    return {direction.name: value * ratio * projected, magnitude.name: value}


def _sigma(stats: ParamStats) -> float:
    """The largest singular value: measured when the statistics hold it, else the random-matrix value."""
    if stats.spectral_norm is not None and stats.spectral_norm > 0:
        return stats.spectral_norm
    rows = stats.shape[0] if stats.shape else 1
    cols = math.prod(stats.shape[1:]) if len(stats.shape) > 1 else 1
    return math.sqrt(stats.mean_sq) * (math.sqrt(rows) + math.sqrt(cols))
