"""Gaussian expectations of activation functions: the mean-field integrals of DESIGN §3.

E over z ~ N(0, 1) by composite Gauss–Legendre quadrature split at 0 over [-10, 0] ∪ [0, 10],
48 nodes each (accurate to ~4e-5 for q in [1e-3, 100]; Gauss–Hermite is poor for kinked
functions). Nested quadrature gives the two-point expectation needed for the part of the
signal shared across samples (the correlation map of Poole et al. 2016).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F

_HALF_NODES = 48
_LIMIT = 10.0


def _legendre(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss–Legendre nodes and weights on [-1, 1] (Golub–Welsch: eigen-decomposition of the Jacobi matrix)."""
    k = torch.arange(1, count, dtype=torch.float64)
    off_diagonal = k / torch.sqrt(4 * k * k - 1)
    jacobi = torch.diag(off_diagonal, 1) + torch.diag(off_diagonal, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    return nodes, 2 * vectors[0] ** 2


def _nodes() -> tuple[torch.Tensor, torch.Tensor]:
    x, w = _legendre(_HALF_NODES)
    half = _LIMIT / 2
    z = torch.cat([half * x - half, half * x + half])
    weights = torch.cat([w, w]) * half * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return z, weights


_ZT, _WT = _nodes()

Activation = Callable[[torch.Tensor], torch.Tensor]


def activation_function(name: str, attrs: Mapping[str, Any]) -> Activation | None:
    """The activation as a function of a float64 tensor, with the layer's own hyper-parameters."""
    slope = float(attrs.get("negative_slope", attrs.get("scalars", (0.01,))[0] if attrs.get("scalars") else 0.01))
    alpha = float(attrs.get("alpha", 1.0))
    table: dict[str, Activation] = {
        "identity": lambda x: x,
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": lambda x: F.leaky_relu(x, slope),
        "prelu": lambda x: torch.where(x >= 0, x, slope * x),
        "rrelu": lambda x: F.leaky_relu(x, (float(attrs.get("lower", 1 / 8)) + float(attrs.get("upper", 1 / 3))) / 2),
        "elu": lambda x: F.elu(x, alpha),
        "selu": F.selu,
        "celu": lambda x: F.celu(x, alpha),
        "gelu": lambda x: F.gelu(x, approximate=str(attrs.get("approximate", "none"))),
        "silu": F.silu,
        "mish": F.mish,
        "softplus": lambda x: F.softplus(x, float(attrs.get("beta", 1.0)), float(attrs.get("threshold", 20.0))),
        "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid,
        "hardtanh": lambda x: F.hardtanh(x, float(attrs.get("min_val", -1.0)), float(attrs.get("max_val", 1.0))),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softsign": F.softsign,
        "tanhshrink": F.tanhshrink,
        "logsigmoid": F.logsigmoid,
    }
    return table.get(name)


def _values_and_slopes(fn: Activation, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = points.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = fn(x)
        (slope,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), slope.detach()


@dataclass(frozen=True)
class Moments:
    """Moments of φ(x) for x ~ N(mean, var), and of its slope."""

    mean: float
    """E[φ(x)]"""
    second: float
    """E[φ(x)²]"""
    slope_sq: float
    """E[φ'(x)²]: the backward gain of the activation for independent gradients."""
    slope_mean: float
    """E[φ'(x)]: the gain of a gradient component shared across positions."""
    shared: float
    """E over units of (E over samples of φ)²: the part of E[φ²] common to all samples when the
    input's units have per-unit means of second moment ``shared_in`` and within-unit variance."""


def moments(name: str, attrs: Mapping[str, Any], mean: float, q: float, shared: float) -> Moments | None:
    """φ's moments for an input with E[x] = mean, E[x²] = q, and per-unit mean part ``shared`` (≥ mean²)."""
    key = tuple(sorted((k, v) for k, v in attrs.items() if isinstance(v, int | float | str)))
    return _moments(name, key, _round(mean), _round(q), _round(shared))


def _round(value: float) -> float:
    return float(f"{value:.5g}")


@lru_cache(maxsize=4096)
def _moments(name: str, attrs_key: tuple, mean: float, q: float, shared: float) -> Moments | None:
    fn = activation_function(name, dict(attrs_key))
    if fn is None:
        return None
    var_total = max(q - mean * mean, 0.0)
    std_total = math.sqrt(var_total)
    points = mean + std_total * _ZT
    values, slopes = _values_and_slopes(fn, points)
    weights = _WT
    first = float((weights * values).sum())
    second = float((weights * values * values).sum())
    slope_sq = float((weights * slopes * slopes).sum())
    slope_mean = float((weights * slopes).sum())
    # Unit means μ ~ N(mean, shared - mean²), samples within a unit ~ N(μ, q - shared).
    spread = math.sqrt(max(shared - mean * mean, 0.0))
    within = math.sqrt(max(q - shared, 0.0))
    unit_means = mean + spread * _ZT
    grid = unit_means[:, None] + within * _ZT[None, :]
    inner = (fn(grid) * weights[None, :]).sum(dim=1)
    shared_out = float((weights * inner * inner).sum())
    return Moments(first, second, slope_sq, slope_mean, min(shared_out, second))


def expect(fn: Activation, mean: float, var: float) -> tuple[float, float, float]:
    """(E[f], E[f²], E[f'²]) for x ~ N(mean, var)."""
    points = mean + math.sqrt(max(var, 0.0)) * _ZT
    values, slopes = _values_and_slopes(fn, points)
    weights = _WT
    return (
        float((weights * values).sum()),
        float((weights * values * values).sum()),
        float((weights * slopes * slopes).sum()),
    )


def expected_max_square(count: int, mean: float, var: float, fn: Activation | None = None) -> float:
    """E[φ(M)²] for M the maximum of ``count`` iid N(mean, var) (φ monotone: max φ(x) = φ(max x))."""
    return expected_max_moments(count, mean, var, fn)[1]


def expected_max_moments(count: int, mean: float, var: float, fn: Activation | None = None) -> tuple[float, float]:
    """(E[φ(M)], E[φ(M)²]) for M the maximum of ``count`` iid N(mean, var) (φ monotone)."""
    weights = _WT
    if count > 1:
        # density of the max of n standard normals: n φ(z) Φ(z)^(n-1); the max sits in [-10, 10]
        cdf = 0.5 * torch.special.erfc(-_ZT / math.sqrt(2.0))
        weights = _WT * count * cdf ** (count - 1)
    values = mean + math.sqrt(max(var, 0.0)) * _ZT
    mapped = fn(values) if fn is not None else values
    return float((weights * mapped).sum()), float((weights * mapped * mapped).sum())


def expected_max_slope_sq(count: int, mean: float, var: float, fn: Activation) -> float:
    """E[φ'(M)²] for M the maximum of ``count`` iid N(mean, var): the slope where max-pooling sends the gradient."""
    cdf = 0.5 * torch.special.erfc(-_ZT / math.sqrt(2.0))
    weights = _WT * count * cdf ** (count - 1)
    _, slopes = _values_and_slopes(fn, mean + math.sqrt(max(var, 0.0)) * _ZT)
    return float((weights * slopes * slopes).sum())
