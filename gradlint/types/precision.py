"""What the precision check predicts and the precision probe measures (``--precision``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gradlint.types.base import SourceLocation

PRECISION_MODES = ("float16", "bfloat16", "mixed", "mixed-bf16")
"""The precision modes by name: the option table offers them, ``estimate.precision`` defines them."""
PRECISION_ALIASES = {
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "mixed-fp16": "mixed",
    "mixed-float16": "mixed",
    "mixed-bfloat16": "mixed-bf16",
}
"""Other names ``--precision`` accepts, and the mode each stands for."""


@dataclass(frozen=True)
class NumberFormat:
    """A floating-point format's limits, as ``torch.finfo`` gives them."""

    name: str
    """``float16``, ``bfloat16`` or ``float32``."""
    max: float
    """Largest finite value."""
    min_normal: float
    min_subnormal: float
    eps: float
    """Spacing of values just above 1."""
    mantissa_bits: int
    """Explicit fraction bits (10 for float16, 7 for bfloat16, 23 for float32)."""


@dataclass(frozen=True)
class PrecisionMode:
    """What ``--precision`` asks for."""

    name: str
    """``float16``, ``bfloat16`` (model and inputs cast), ``mixed`` or ``mixed-bf16`` (``torch.autocast``)."""
    low: NumberFormat
    """The low-precision format the mode computes in."""
    autocast: bool
    """True: autocast's op lists decide each op's dtype (matmuls and convolutions low, reductions, norms,
    softmax, exp/log in float32); False: every floating tensor is in ``low``."""


@dataclass(frozen=True)
class ActivationOverflow:
    """A node whose output is predicted to pass the low format's largest finite value."""

    node: str
    module: str | None
    location: SourceLocation | None
    rms: float
    """Predicted RMS of the output."""
    predicted_max: float
    """Predicted largest |element| of the output (``tail``'s extreme of its ``elements``)."""
    tail: str
    """The tail model behind ``predicted_max``: ``gaussian``, ``half-gaussian``, ``product`` or ``lognormal``."""
    elements: int
    bits_over: float
    """log2(predicted_max / max of the format)."""


@dataclass(frozen=True)
class GradientUnderflow:
    """A weight whose predicted gradient under the reference protocol's loss has half or more of its elements
    below the smallest normal (an RMS under 1.48x it)."""

    weight: str
    module: str
    log10_grad_rms: float
    below: str
    """``subnormal`` (under the smallest subnormal: most elements round to 0) or ``normal``."""
    flush_share: float
    """Expected share of gradient elements that round to zero (Gaussian elements of that RMS)."""
    subnormal_share: float
    """Expected share below the smallest normal (zero or subnormal, fewer mantissa bits)."""


@dataclass(frozen=True)
class LossScale:
    """What ``torch.amp.GradScaler`` would need for the predicted gradients."""

    init_scale: float | None
    """Smallest power of two that lifts every weight's gradient RMS to 8x the smallest normal (under
    10 % of its elements subnormal); None when no weight underflows."""
    default_scale: float
    """GradScaler's default ``init_scale`` (65536)."""
    largest_gradient: float
    """Predicted largest |element| of any gradient computed in the low format (unscaled)."""
    overflows_at_default: bool
    """The largest gradient times ``default_scale`` passes the format's largest finite value."""
    overflows_at_init_scale: bool
    """The largest gradient times ``init_scale`` passes it: no single scale fits."""


@dataclass(frozen=True)
class VanishingConstant:
    """A constant that rounds to zero or keeps few mantissa bits in the dtype it is applied in."""

    what: str
    """``eps`` (a small constant added in a forward) or ``init`` (a parameter's values)."""
    name: str
    """The node (``eps``) or parameter (``init``) name."""
    module: str | None
    location: SourceLocation | None
    value: float
    """The constant (``eps``) or the parameter's RMS (``init``)."""
    stored: float
    """``value`` as the format stores it."""
    bits_left: float
    """Mantissa bits it keeps in the format (the format's full count for a normal value, 0 when it is zero)."""
    zero_share: float
    """Share of its elements that round to zero (1 or 0 for a single constant)."""


@dataclass(frozen=True)
class PrecisionCheck:
    """The static precision check of one model under a ``PrecisionMode``."""

    mode: PrecisionMode
    low_nodes: int
    """Nodes predicted to compute in the low format."""
    checked_nodes: int
    """Nodes with a floating output the check saw."""
    overflows: tuple[ActivationOverflow, ...]
    """In forward order; the first is where the forward first becomes inf."""
    underflows: tuple[GradientUnderflow, ...]
    loss_scale: LossScale
    constants: tuple[VanishingConstant, ...]
    uncertain_nodes: int = 0
    """Overflow candidates whose RMS comes from an op without a rule (an uncertain estimate)."""


@dataclass(frozen=True)
class PrecisionMeasurement:
    """``--probe --precision``: the same quantities measured by running the model in the dtype."""

    mode: str
    device: str
    seed: int
    output_finite: bool | None
    """The protocol loss was finite in the dtype (None when the model could not run in it)."""
    module_max: Mapping[str, float]
    """Module path -> largest |element| of its output in the dtype (inf when it overflowed)."""
    grad_zero_share: Mapping[str, float]
    """Weight -> share of gradient elements exactly zero (where the float32 gradient is not)."""
    grad_subnormal_share: Mapping[str, float]
    """Weight -> share of gradient elements zero or below the smallest normal (where the float32 gradient is not zero)."""
    grads_finite_at_default_scale: bool | None
    """The backward with the loss multiplied by GradScaler's default 65536 left every gradient finite."""
    constants_stored: Mapping[str, float]
    """Constant (``eps`` node or parameter) -> its value after the dtype's arithmetic (a parameter: its RMS
    after the cast)."""
    constants_zero_share: Mapping[str, float]
    constants_bits: Mapping[str, float]
    """Constant -> mantissa bits it keeps in the dtype, from the spacing to the next representable value
    there (``torch.nextafter``); 0 when it became zero."""
    error: str | None = None
    """Why the model could not run in the dtype (a float32 tensor made in ``forward`` meeting the cast weights);
    nothing else was measured and the findings are left unjudged."""
