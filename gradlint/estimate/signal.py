"""What the estimator tracks per node, forward and backward."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Signal:
    """Per-element statistics of a node's output over samples (batch and positions) and units.

    ``shared`` is the part of ``q`` that is the same for every sample of a unit (its per-unit
    mean squared, averaged over units): BatchNorm removes it, attention averaging keeps it,
    and it is what makes BN stacks explode (Yang et al. 2019). ``mean² ≤ shared ≤ q``.
    """

    q: float
    """E[x²]"""
    mean: float = 0.0
    shared: float = 0.0
    pos_shared: float = 0.0
    """The part of ``q`` common to all positions (tokens, pixels) of one sample: its per-(sample, unit)
    mean over positions, squared. Attention averages over positions and keeps it; ``shared ≤ pos_shared ≤ q``."""
    probabilities: bool = False
    """Rows are softmax probabilities (non-negative, summing to 1)."""
    causal: bool = False
    """A causal (triangular) mask was applied to these attention logits."""
    constant: bool = False
    """Computed from no input (a mask, ``arange`` positions): carries no gradient."""
    zero: bool = False
    """Every value is exactly 0 (``torch.zeros``, a recurrent state before its first step)."""
    pre_activation: tuple[str, float, float] | None = None
    """(activation, pre-activation E[x], pre-activation E[x²]) when this is an activation's output."""
    sign: int = 0
    """+1 when every value is >= 0 (a ReLU's, softplus's or exp's output), -1 when every value is <= 0,
    0 when unknown: ``exp`` of a non-positive tensor is a decay factor in (0, 1], whatever its spread."""
    state: Any = field(default=None, compare=False)
    """What a recurrent cell carries beside its output (an ``LSTMCell``'s cell state, ``cells.CellState``)."""

    @property
    def within(self) -> float:
        """Variance across samples within a unit: q - shared."""
        return max(self.q - self.shared, 0.0)

    def scaled(self, factor_sq: float, factor: float | None = None) -> Signal:
        """The signal multiplied by a constant c (``factor_sq`` = c², ``factor`` = c)."""
        c = factor if factor is not None else factor_sq**0.5
        return replace(
            self,
            q=self.q * factor_sq,
            mean=self.mean * c,
            shared=self.shared * factor_sq,
            pos_shared=self.pos_shared * factor_sq,
            pre_activation=None,
            sign=self.sign if c >= 0 else -self.sign,
        )

    @property
    def within_positions(self) -> float:
        """Variance across the positions of one sample: q - pos_shared."""
        return max(self.q - self.pos_shared, 0.0)


def gaussian_input() -> Signal:
    """The reference protocol's float inputs: N(0, 1), independent across samples."""
    return Signal(q=1.0)


def parameter_signal(mean: float, mean_sq: float) -> Signal:
    """A parameter used as a tensor: the same for every sample."""
    return Signal(q=mean_sq, mean=mean, shared=mean_sq, pos_shared=mean_sq)


def clamp(signal: Signal) -> Signal:
    q = max(signal.q, 0.0)
    shared = min(max(signal.shared, signal.mean * signal.mean), q) if q > 0 else 0.0
    pos_shared = min(max(signal.pos_shared, shared), q) if q > 0 else 0.0
    return replace(signal, q=q, shared=shared, pos_shared=pos_shared)
