"""The optimizer settings the training check predicts and ``--probe-steps`` runs: defaults and checks.

Each optimizer takes ``torch.optim``'s own defaults for what is not given (``lr`` 1e-3, RMSprop's
1e-2; Adam/AdamW ``betas`` (0.9, 0.999) and ``eps`` 1e-8; AdamW ``weight_decay`` 0.01, the others 0;
momentum 0). Without any optimizer setting the check uses ``DEFAULT_OPTIMIZER`` (AdamW, lr 1e-3)
and says so. Pure Python, no torch: the command line checks its flags before any model loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradlint.errors import UsageError
from gradlint.types import OPTIMIZER_NAMES, OptimizerConfig

DEFAULT_NAME = "adamw"
DEFAULT_LR = 1e-3


@dataclass(frozen=True)
class _Defaults:
    lr: float
    betas: tuple[float, float] | None
    eps: float | None
    weight_decay: float
    momentum: bool
    """Whether ``momentum`` applies."""


_DEFAULTS = {
    "sgd": _Defaults(1e-3, None, None, 0.0, True),
    "adam": _Defaults(1e-3, (0.9, 0.999), 1e-8, 0.0, False),
    "adamw": _Defaults(1e-3, (0.9, 0.999), 1e-8, 1e-2, False),
    "rmsprop": _Defaults(1e-2, None, 1e-8, 0.0, True),
}


def optimizer_config(
    name: str | None = None,
    *,
    lr: float | None = None,
    momentum: float | None = None,
    betas: tuple[float, float] | None = None,
    eps: float | None = None,
    weight_decay: float | None = None,
    clip_grad_norm: float | None = None,
) -> OptimizerConfig:
    """The configuration these settings describe; a setting that does not apply or is out of range is a
    ``UsageError`` naming its flag. Nothing given at all: the documented default, marked ``default``."""
    given = (name, lr, momentum, betas, eps, weight_decay, clip_grad_norm)
    key = (name or DEFAULT_NAME).strip().lower()
    if key not in _DEFAULTS:
        raise UsageError(f"--optimizer {name}: expected one of {', '.join(OPTIMIZER_NAMES)}")
    base = _DEFAULTS[key]
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr {lr}: must be a positive number")
    if momentum is not None:
        if not base.momentum:
            raise UsageError(f"--momentum applies to sgd and rmsprop; {key} takes its momentum from --betas")
        if not 0 <= momentum < 1:
            raise UsageError(f"--momentum {momentum}: must be in [0, 1)")
    if betas is not None:
        if base.betas is None:
            raise UsageError(f"--betas applies to adam and adamw, not {key}")
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise UsageError(f"--betas {','.join(str(b) for b in betas)}: two numbers in [0, 1), e.g. 0.9,0.999")
    if eps is not None:
        if base.eps is None:
            raise UsageError("--eps applies to adam, adamw and rmsprop, not sgd")
        if not (math.isfinite(eps) and eps > 0):
            raise UsageError(f"--eps {eps}: must be a positive number")
    if weight_decay is not None and not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise UsageError(f"--weight-decay {weight_decay}: must be 0 or more")
    if clip_grad_norm is not None and not (math.isfinite(clip_grad_norm) and clip_grad_norm > 0):
        raise UsageError(f"--clip-grad-norm {clip_grad_norm}: must be a positive number")
    return OptimizerConfig(
        name=key,
        lr=lr if lr is not None else (DEFAULT_LR if name is None else base.lr),
        momentum=momentum if momentum is not None else 0.0,
        betas=tuple(float(b) for b in betas) if betas is not None else base.betas,  # type: ignore[arg-type]
        eps=eps if eps is not None else base.eps,
        weight_decay=weight_decay if weight_decay is not None else base.weight_decay,
        clip_grad_norm=clip_grad_norm,
        default=all(value is None for value in given),
    )


def describe(config: OptimizerConfig) -> str:
    """``adamw lr 0.001, betas 0.9,0.999, eps 1e-08, weight decay 0.01`` -- the settings that apply."""
    parts = [f"{config.name} lr {config.lr:g}"]
    if config.name in ("sgd", "rmsprop") and config.momentum:
        parts.append(f"momentum {config.momentum:g}")
    if config.betas is not None:
        parts.append(f"betas {config.betas[0]:g},{config.betas[1]:g}")
    if config.eps is not None:
        parts.append(f"eps {config.eps:g}")
    if config.weight_decay:
        parts.append(f"weight decay {config.weight_decay:g}")
    if config.clip_grad_norm is not None:
        parts.append(f"clip_grad_norm {config.clip_grad_norm:g}")
    return ", ".join(parts)
