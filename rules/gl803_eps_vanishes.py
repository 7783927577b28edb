"""A numerical-safety eps that rounds to zero (or to a few bits) in the dtype it is added in.

## What it does
Under `--precision`, finds the small constants a `forward` adds (`var + 1e-12`) or clamps at
(`clamp(min=1e-12)`, `F.normalize(eps=...)`) in an op that computes in the low dtype, and reports
those that round to zero there or keep under half of its mantissa bits (float16: below 1.9e-06).
Built-in norm modules (`nn.LayerNorm`, `nn.GroupNorm`, `nn.BatchNorm*`, `nn.RMSNorm`) apply their
eps in float32 inside the kernel and are not reported; a hand-written norm is.

## Why is this bad
The eps is there for the input whose statistic is zero (a padded row, a dead channel); in float16
`1e-12` is 0, so that row divides by zero and the forward is inf/NaN from it on.

## Example
```python
x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-12)  # run in float16
```

## Use instead
```python
var = x.float().pow(2).mean(-1, keepdim=True)       # the statistic in float32
x = (x.float() * torch.rsqrt(var + 1e-6)).type_as(x)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext
from gradlint.types import Severity, frozen_mapping

from ._precision import mode_text, precision_of

CODE = "GL803"
NAME = "eps-vanishes"
SEVERITY = Severity.WARNING
KIND = "precision"
EXAMPLE_OPTIONS = {"precision": "float16"}


def check(ctx: RuleContext) -> Iterator[Hit]:
    found = precision_of(ctx.estimates)
    if found is None:
        return
    fmt = found.mode.low
    for constant in found.constants:
        if constant.what != "eps":
            continue
        what = (
            "rounds to 0"
            if constant.stored == 0.0
            else f"is stored as {constant.stored:.4g} with {constant.bits_left:.1f} of {fmt.mantissa_bits} mantissa bits"
        )
        yield Hit(
            message=(
                f"the eps {constant.value:.3g} added here {what} in {mode_text(found.mode)} (smallest normal "
                f"{fmt.min_normal:.2g}, smallest subnormal {fmt.min_subnormal:.2g}): a zero statistic divides by zero"
            ),
            module=constant.module,
            location=constant.location,
            fix=Fix(
                "compute the statistic and the division in float32 and cast back, or use an eps the dtype holds "
                f"(≥ {fmt.min_normal:.2g} is normal in {fmt.name})",
                "var = x.float().pow(2).mean(-1, keepdim=True)\nx = (x.float() * torch.rsqrt(var + eps)).type_as(x)",
            ),
            severity=Severity.WARNING if constant.stored == 0.0 else Severity.INFO,
            evidence=frozen_mapping(
                {
                    "precision": found.mode.name,
                    "dtype": fmt.name,
                    "constant": constant.name,
                    "value": constant.value,
                    "stored": constant.stored,
                    "bits_left": round(constant.bits_left, 2),
                    "zero_share": constant.zero_share,
                }
            ),
        )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16, eps=1e-12)  # the kernel adds eps in float32

    def forward(self, x):
        h = self.fc(x)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5)
        return self.norm(h)
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-12)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.norm = RMSNorm(16)

    def forward(self, x):
        return self.norm(self.fc(x))
""",
        module="norm",
        says="rounds to 0 in float16",
    ),
]
