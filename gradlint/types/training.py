"""The training check's records (DESIGN §2b): an optimizer setting, each weight's predicted update, the verdict."""

from __future__ import annotations

from dataclasses import dataclass

OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "rmsprop")
"""The optimizers the training check predicts and ``--probe-steps`` runs (``torch.optim`` classes)."""

TRAINING_VERDICTS = ("trains", "diverges", "stalls")


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimizer setting, as ``torch.optim`` takes it; what the training check predicts and the steps probe runs."""

    name: str
    """``sgd``, ``adam``, ``adamw`` or ``rmsprop``."""
    lr: float
    momentum: float = 0.0
    """SGD's and RMSprop's momentum (0 for Adam/AdamW, whose first moment is ``betas[0]``)."""
    betas: tuple[float, float] | None = None
    """Adam/AdamW's (β1, β2); None for SGD and RMSprop (whose smoothing constant ``alpha`` is torch's 0.99)."""
    eps: float | None = None
    """The adaptive optimizers' denominator term; None for SGD."""
    weight_decay: float = 0.0
    clip_grad_norm: float | None = None
    """``torch.nn.utils.clip_grad_norm_(params, max_norm)`` before each step; None: no clipping."""
    default: bool = False
    """True when nothing was configured and this is the documented default (AdamW, lr 1e-3)."""


@dataclass(frozen=True)
class WeightUpdate:
    """One weight's predicted update over the training protocol's first steps."""

    name: str
    grad_rms: float | None
    """Predicted RMS of the MSE loss's gradient at init (the reference estimate rescaled to MSE); None when blocked."""
    weight_rms: float
    update_ratio: float | None
    """Predicted RMS of one step's update over the weight's RMS; None for an all-zero weight."""
    below_eps: bool
    """An adaptive optimizer's update is mostly ``lr·g/eps`` here: the gradient is below ``eps``."""


@dataclass(frozen=True)
class TrainingCheck:
    """The static training check of one model for one optimizer (DESIGN §2b); ``--probe-steps`` measures the same."""

    optimizer: OptimizerConfig
    steps: int
    """The protocol's number of steps the prediction is for."""
    verdict: str
    """``trains``, ``diverges`` or ``stalls``."""
    reason: str
    max_update_ratio: float
    """The largest predicted per-step update ratio over the weights."""
    step_change: float
    """The sum of the per-step update ratios over the weights: what divergence is judged on."""
    median_update_ratio: float
    """The median weight's per-step update ratio: what a stall is judged on."""
    global_grad_norm: float
    """Predicted ‖∇L‖ over the weights at init (MSE loss, before clipping)."""
    max_lr: float | None
    """The largest learning rate predicted to train (same predictor); None when none does."""
    recommended_clip_grad_norm: float | None
    """A ``clip_grad_norm_`` max_norm (docs/json-report.md says how it is derived); None without a gradient."""
    weights: tuple[WeightUpdate, ...]
    uncertain: str | None = None
    """Why the prediction may be off (ops the estimate could not see, weights without a prediction); None when covered."""

    @property
    def predicts_trouble(self) -> bool:
        """The check predicts divergence or a stall at this optimizer (what GL1xx severities key on)."""
        return self.verdict in ("diverges", "stalls")
