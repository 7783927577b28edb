"""Name the initialisation scheme of a weight: from the init calls recorded while it was built, else from its values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gradlint.trace import ops
from gradlint.trace.shapes import all_finite
from gradlint.types import InitCall, InitInfo, ParamStats

_DEFAULT_A = math.sqrt(5)
_MODIFIERS = {"mul_": "×", "div_": "÷"}


def fans(weight: torch.Tensor, module: nn.Module | None) -> tuple[int, int]:
    """(fan_in, fan_out) as nn.init computes them; transformers' Conv1D stores its weight (in, out)."""
    if module is not None and ops.is_hf_conv1d(module):
        return int(weight.shape[0]), int(weight.shape[1])
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return int(weight.shape[1]) * receptive, int(weight.shape[0]) * receptive


def classify_init(
    weight: torch.Tensor, module: nn.Module | None, calls: Sequence[InitCall], stats: ParamStats | None = None
) -> InitInfo:
    """The scheme the recorded calls name, else the one the values fit (``stats``: what was read of them already)."""
    defining = [
        i for i, c in enumerate(calls) if c.whole and c.name not in _MODIFIERS and c.name not in ("add_", "clamp_")
    ]
    if defining:
        start = defining[-1]
        scheme = _scheme_of_call(calls[start], weight, module)
        if scheme is not None:
            for call in calls[start + 1 :]:
                scheme += _modifier_text(call)
            return InitInfo(scheme, "recorded", tuple(str(c) for c in calls))
    return InitInfo(_scheme_from_values(weight, module, stats), "statistics", tuple(str(c) for c in calls))


def _modifier_text(call: InitCall) -> str:
    if call.name in _MODIFIERS and call.whole and "value" in call.args:
        return (
            f" {_MODIFIERS[call.name]}{call.args['value']:.4g}"
            if isinstance(call.args["value"], int | float)
            else f" then {call}"
        )
    return f" then {call}"


def _scheme_of_call(call: InitCall, weight: torch.Tensor, module: nn.Module | None) -> str | None:
    args = call.args
    name = call.name.rstrip("_")
    fan_in, fan_out = fans(weight, module)
    if name in ("kaiming_uniform", "kaiming_normal"):
        nonlinearity = args.get("nonlinearity", "leaky_relu")
        a = float(args.get("a", 0) or 0)
        mode = args.get("mode", "fan_in")
        if (
            name == "kaiming_uniform"
            and nonlinearity == "leaky_relu"
            and abs(a - _DEFAULT_A) < 1e-6
            and mode == "fan_in"
        ):
            return "pytorch-default"
        if nonlinearity == "leaky_relu":
            nonlinearity = f"leaky_relu(a={a:g})" if a else "relu"
        return f"{name}({nonlinearity}, {mode})"
    if name in ("xavier_uniform", "xavier_normal", "orthogonal"):
        return f"{name}(gain={float(args.get('gain', 1.0)):.4g})"
    if name == "trunc_normal":
        return f"trunc_normal(std={float(args.get('std', 1.0)):.4g})"
    if name in ("zeros", "zero"):
        return "zeros"
    if name == "ones":
        return "constant(1)"
    if name in ("constant", "fill"):
        value = args.get("val", args.get("value"))
        return f"constant({value:.4g})" if isinstance(value, int | float) else "constant"
    if name in ("eye", "dirac"):
        return name
    if name == "sparse":
        return f"sparse(sparsity={args.get('sparsity')}, std={args.get('std', 0.01)})"
    if name == "normal":
        std = float(args.get("std", 1.0))
        mean = float(args.get("mean", 0.0))
        if isinstance(module, nn.Embedding) and std == 1.0 and mean == 0.0:
            return "pytorch-default"
        if mean == 0.0 and abs(std * math.sqrt(fan_in) - 1) < 0.02:
            return f"lecun_normal(std={std:.4g})"
        return f"normal(std={std:.4g})" if mean == 0.0 else f"normal(mean={mean:.4g}, std={std:.4g})"
    if name == "uniform":
        low = float(args.get("a", args.get("from", 0.0)))
        high = float(args.get("b", args.get("to", 1.0)))
        if (
            isinstance(module, nn.RNNBase)
            and math.isclose(high, 1 / math.sqrt(module.hidden_size), rel_tol=1e-4)
            and low == -high
        ):
            return "pytorch-default"
        if low == -high:
            return f"uniform(±{high:.4g})"
        return f"uniform({low:.4g}, {high:.4g})"
    return None  # copy_ and friends: the values tell more than the call


#: Kurtosis tells uniform (1.8) from normal (3.0) with a standard error of √(24/n): 0.02 at this many values.
KURTOSIS_SAMPLE = 65_536
ORTHOGONAL_PROBES = 8


def _scheme_from_values(weight: torch.Tensor, module: nn.Module | None, stats: ParamStats | None) -> str:
    if weight.device.type == "meta" or weight.numel() < 2:
        return "unknown"
    values = weight.detach().float().flatten()
    known = stats.std if stats is not None else None
    if known is not None:
        std = known
    else:
        if not all_finite(values):
            return "unknown"
        std = float(values.std())
    if std == 0.0:
        value = float(values[0])
        return "zeros" if value == 0.0 else f"constant({value:.4g})"
    fan_in, fan_out = fans(weight, module)
    sample = values[:: max(1, values.numel() // KURTOSIS_SAMPLE)]
    centered = sample - sample.mean()
    squared = centered * centered
    kurtosis = float((squared * squared).mean() / squared.mean() ** 2)
    family = "uniform" if kurtosis < 2.4 else "normal"
    gain = _orthogonal_gain(weight, stats.spectral_norm if stats is not None else None)
    if gain is not None:
        return f"orthogonal(gain={gain:.3g})"
    tolerance = max(0.05, 3 / math.sqrt(2 * values.numel()))
    candidates: list[tuple[str, float]] = []
    if family == "uniform" and isinstance(module, nn.RNNBase):
        candidates.append(("pytorch-default", 1 / math.sqrt(3 * module.hidden_size)))
    if family == "uniform" and isinstance(module, nn.Linear | nn.modules.conv._ConvNd):
        candidates.append(("pytorch-default", 1 / math.sqrt(3 * fan_in)))
    candidates += [
        (f"kaiming_{family}(relu, fan_in)", math.sqrt(2 / fan_in)),
        (f"kaiming_{family}(relu, fan_out)", math.sqrt(2 / fan_out)),
        (f"xavier_{family}(gain=1)", math.sqrt(2 / (fan_in + fan_out))),
        (f"lecun_{family}", math.sqrt(1 / fan_in)),
    ]
    for scheme, expected in candidates:
        if abs(std / expected - 1) < tolerance:
            return scheme
    if family == "uniform":
        return f"uniform(±{std * math.sqrt(3):.4g})"
    return f"normal(std={std:.4g})"


def _orthogonal_gain(weight: torch.Tensor, spectral_norm: float | None = None) -> float | None:
    """g when the rows (or columns, whichever are fewer) of W are orthogonal with norm g: W Wᵀ = g² I.

    Tested on a few fixed random vectors X, ‖W Wᵀ X / g² − X‖ < 1e-3 ‖X‖, which costs two products
    with a thin matrix instead of forming W Wᵀ (GPT-2's 48 weights: 2 s): an iid matrix misses by
    ~√(m/n), an orthogonal one initialised in float32 by ~1e-6. A known σ_max (a lower bound when
    Lanczos found it) rules W out first when σ_max² passes the mean g² by more than 1 %: an
    orthogonal W has every singular value equal.
    """
    if weight.dim() != 2 or min(weight.shape) < 4:
        return None
    matrix = weight.detach().float()
    if matrix.shape[0] > matrix.shape[1]:
        matrix = matrix.T
    scale = float(torch.linalg.vector_norm(matrix)) ** 2 / matrix.shape[0]  # the mean of diag(W Wᵀ)
    if not scale > 0 or (spectral_norm is not None and spectral_norm**2 > 1.01 * scale):
        return None
    probes = torch.randn(matrix.shape[0], ORTHOGONAL_PROBES, generator=torch.Generator().manual_seed(0)).to(
        matrix.device
    )
    residual = matrix @ (matrix.T @ probes) / scale - probes
    deviation = float(torch.linalg.vector_norm(residual) / torch.linalg.vector_norm(probes))
    return math.sqrt(scale) if deviation < 1e-3 else None


def moments_from_calls(
    tensor: torch.Tensor, module: nn.Module | None, calls: Sequence[InitCall]
) -> tuple[float, float, str] | None:
    """(mean, E[w²], distribution) implied by the recorded init calls, for tensors without values (the meta device).

    The last whole-tensor defining call sets the distribution; later whole ``mul_``/``div_`` calls scale it.
    Returns None when the calls do not determine the statistics.
    """
    defining = [
        i for i, c in enumerate(calls) if c.whole and c.name not in _MODIFIERS and c.name not in ("add_", "clamp_")
    ]
    if not defining:
        return None
    start = defining[-1]
    found = _call_moments(calls[start], tensor, module)
    if found is None:
        return None
    mean, mean_sq, kind = found
    for call in calls[start + 1 :]:
        value = call.args.get("value")
        if call.name in _MODIFIERS and call.whole and isinstance(value, int | float) and value != 0:
            factor = value if call.name == "mul_" else 1 / value
            mean, mean_sq = mean * factor, mean_sq * factor * factor
        elif call.whole:
            return None
    return mean, mean_sq, kind


def _call_moments(call: InitCall, tensor: torch.Tensor, module: nn.Module | None) -> tuple[float, float, str] | None:
    args = call.args
    name = call.name.rstrip("_")
    fan_in, fan_out = fans(tensor, module) if tensor.dim() >= 2 else (tensor.numel(), tensor.numel())
    if name in ("kaiming_uniform", "kaiming_normal"):
        nonlinearity = str(args.get("nonlinearity", "leaky_relu"))
        a = float(args.get("a", 0) or 0)
        gain = (
            nn.init.calculate_gain(nonlinearity, a)
            if nonlinearity in ("leaky_relu",)
            else nn.init.calculate_gain(nonlinearity)
        )
        fan = fan_in if args.get("mode", "fan_in") == "fan_in" else fan_out
        return 0.0, gain * gain / max(fan, 1), "iid"
    if name in ("xavier_uniform", "xavier_normal"):
        gain = float(args.get("gain", 1.0))
        return 0.0, gain * gain * 2.0 / max(fan_in + fan_out, 1), "iid"
    if name == "orthogonal":
        gain = float(args.get("gain", 1.0))
        rows = tensor.shape[0] if tensor.dim() else 1
        cols = tensor.numel() // max(rows, 1)
        return 0.0, gain * gain / max(rows, cols, 1), "orthogonal"
    if name in ("normal", "trunc_normal"):
        std, mean = float(args.get("std", 1.0)), float(args.get("mean", 0.0))
        return mean, std * std + mean * mean, "iid"
    if name == "uniform":
        low = float(args.get("a", args.get("from", 0.0)))
        high = float(args.get("b", args.get("to", 1.0)))
        mean = (low + high) / 2
        return mean, (high - low) ** 2 / 12 + mean * mean, "iid"
    if name in ("zeros", "zero"):
        return 0.0, 0.0, "constant"
    if name == "ones":
        return 1.0, 1.0, "constant"
    if name in ("constant", "fill"):
        value = args.get("val", args.get("value"))
        if isinstance(value, int | float):
            return float(value), float(value) ** 2, "constant"
    return None
