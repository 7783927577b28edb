"""The largest |element| of a tensor from its RMS and size: the tail models of the precision check.

An overflow is decided by the largest element, not the RMS, and the largest of n elements grows
with n at a rate set by the tail:

- ``gaussian``: a zero-mean Gaussian of that RMS (linear and conv outputs, sums of many terms);
  the expected maximum of n |x|, i.e. of 2n half-tails, from the Gumbel limit
  ``a_m + γ/sqrt(2 ln m)`` with ``a_m = sqrt(2 ln m) - (ln ln m + ln 4π) / (2 sqrt(2 ln m))``;
- ``half-gaussian``: a ReLU-family output, the positive half of its Gaussian pre-activation (n tails);
- ``product``: the elementwise product of two independent Gaussians (a GLU gate): an exponential
  tail, P(|xy| > t) ≈ e^(-t/(σ_x σ_y)), so the maximum of n is about σ_x σ_y ln(2n);
- ``lognormal``: ``exp`` of a Gaussian of RMS s (and mean m): exp(m + s · gaussian maximum).

These are expectations for independent elements; a model whose outputs share a large mean across
positions has a larger maximum than ``gaussian`` says, so the check compares with a margin of a bit.
"""

from __future__ import annotations

import math

_EULER = 0.5772156649015329


def gaussian_max(n: int, *, two_sided: bool = True) -> float:
    """Expected largest |z| (two-sided) or z (one-sided) of n independent N(0, 1) draws."""
    m = 2 * n if two_sided else n
    if m < 3:
        return 1.0
    root = math.sqrt(2.0 * math.log(m))
    return root - (math.log(math.log(m)) + math.log(4.0 * math.pi)) / (2.0 * root) + _EULER / root


def expected_max(rms: float, n: int, tail: str, *, input_rms: float = 0.0, input_mean: float = 0.0) -> float:
    """The expected largest |element| of ``n`` elements of RMS ``rms`` under ``tail`` (see the module doc).

    ``half-gaussian`` reads the pre-activation RMS ``input_rms``; ``lognormal`` reads the Gaussian
    exponent's RMS ``input_rms`` and mean ``input_mean``.
    """
    if n <= 0 or not math.isfinite(rms):
        return rms
    if tail == "half-gaussian":
        return max(input_rms, rms) * gaussian_max(n, two_sided=False)
    if tail == "product":
        return rms * max(1.0, math.log(2 * n))
    if tail == "lognormal":
        spread = math.sqrt(max(input_rms * input_rms - input_mean * input_mean, 0.0))
        exponent = input_mean + spread * gaussian_max(n, two_sided=False)
        return math.exp(exponent) if exponent < 700 else math.inf
    return rms * gaussian_max(n)
