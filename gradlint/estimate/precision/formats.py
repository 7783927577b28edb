"""Number formats (float16, bfloat16, float32) and the ``--precision`` vocabulary."""

from __future__ import annotations

import math

import torch

from gradlint.errors import UsageError
from gradlint.types import NumberFormat, PrecisionMode
from gradlint.types.precision import PRECISION_ALIASES

#: ``torch.amp.GradScaler``'s default ``init_scale``.
DEFAULT_LOSS_SCALE = 65536.0


def _format(dtype: torch.dtype) -> NumberFormat:
    info = torch.finfo(dtype)
    return NumberFormat(
        name=str(dtype).removeprefix("torch."),
        max=float(info.max),
        min_normal=float(info.smallest_normal),
        min_subnormal=float(info.smallest_normal) * float(info.eps),
        eps=float(info.eps),
        mantissa_bits=round(-math.log2(info.eps)),
    )


FLOAT16 = _format(torch.float16)
BFLOAT16 = _format(torch.bfloat16)
FLOAT32 = _format(torch.float32)
FORMATS = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32)}

_MODES = {
    "float16": PrecisionMode("float16", FLOAT16, autocast=False),
    "bfloat16": PrecisionMode("bfloat16", BFLOAT16, autocast=False),
    "mixed": PrecisionMode("mixed", FLOAT16, autocast=True),
    "mixed-bf16": PrecisionMode("mixed-bf16", BFLOAT16, autocast=True),
}
_ALIASES = PRECISION_ALIASES

#: What ``--precision`` and ``[tool.gradlint] precision`` accept (aliases included).
PRECISION_CHOICES = (*_MODES, *_ALIASES)


def parse_precision(text: str | PrecisionMode | None) -> PrecisionMode | None:
    """``float16`` / ``fp16``, ``bfloat16`` / ``bf16``, ``mixed`` (autocast to float16) or ``mixed-bf16``."""
    if text is None or isinstance(text, PrecisionMode):
        return text
    name = str(text).strip().lower()
    name = _ALIASES.get(name, name)
    if name not in _MODES:
        raise UsageError(f"--precision {text}: expected one of {', '.join(PRECISION_CHOICES)}")
    return _MODES[name]


def torch_dtype(fmt: NumberFormat) -> torch.dtype:
    return getattr(torch, fmt.name)


def stored_value(value: float, fmt: NumberFormat) -> float:
    """``value`` rounded to ``fmt`` (round to nearest even, as a cast does); ±inf past the largest finite value."""
    return float(torch.tensor(value, dtype=torch.float64).to(torch_dtype(fmt)).item())


def bits_left(value: float, fmt: NumberFormat) -> float:
    """Mantissa bits ``value`` keeps in ``fmt``: all of them when normal, fewer the deeper it is subnormal."""
    magnitude = abs(value)
    if magnitude >= fmt.min_normal:
        return float(fmt.mantissa_bits)
    if magnitude < fmt.min_subnormal / 2:
        return 0.0
    return max(0.0, fmt.mantissa_bits - math.log2(fmt.min_normal / magnitude))
