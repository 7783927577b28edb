"""The precision check: which nodes overflow, which gradients underflow, which constants vanish in a low dtype.

``formats`` holds the number formats and parses ``--precision``; ``dtypes`` says in which format each node
computes under the mode (everything low when the model is cast, autocast's op lists under ``mixed``);
``check`` combines them with the estimator's per-node RMS, the tail model of ``estimate.extremes`` and the
per-weight gradient RMS into a ``PrecisionCheck``.
"""

from __future__ import annotations

from gradlint.estimate.precision.check import check_precision
from gradlint.estimate.precision.formats import (
    DEFAULT_LOSS_SCALE,
    FLOAT32,
    FORMATS,
    PRECISION_CHOICES,
    parse_precision,
    stored_value,
)

__all__ = [
    "DEFAULT_LOSS_SCALE",
    "FLOAT32",
    "FORMATS",
    "PRECISION_CHOICES",
    "check_precision",
    "parse_precision",
    "stored_value",
]
