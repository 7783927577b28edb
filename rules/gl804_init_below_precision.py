"""A parameter initialised so small that the low dtype keeps few of its bits, or rounds it to zero.

## What it does
Under `--precision`, reads each parameter held in the low dtype (every parameter when the model is
cast; under `mixed`, the weights a matmul or convolution reads, which autocast casts) and reports
those whose values keep under half the mantissa's bits there: a constant-valued parameter (a
LayerScale γ = 1e-6) by its value, a random one by its RMS, with the share of elements that round to
zero. The finding's `after_fix` re-checks the model under mixed precision, which keeps parameters in
float32.

Severity: a warning when more than half of the parameter's elements round to 0 in the low dtype; info
otherwise (the value survives, with few bits).

## Why is this bad
float16 stores 1e-6 as a subnormal with about 4 of its 10 mantissa bits, and values under 3e-8 as 0:
updates to such a parameter are quantised coarsely or lost, and a zeroed weight blocks its branch.

## Example
```python
self.gamma = nn.Parameter(1e-6 * torch.ones(dim))  # LayerScale, in a model cast to float16
```

## Use instead
```python
self.gamma = nn.Parameter(1e-6 * torch.ones(dim))  # keep parameters in float32: train under autocast
with torch.autocast("cuda", dtype=torch.float16):  # (or bfloat16), not model.half()
    loss = model(x)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext
from gradlint.types import Severity, frozen_mapping

from ._precision import mode_text, precision_of, recheck

CODE = "GL804"
NAME = "init-below-precision"
SEVERITY = Severity.WARNING
KIND = "precision"
EXAMPLE_OPTIONS = {"precision": "float16"}


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, estimates = ctx.graph, ctx.estimates
    found = precision_of(estimates)
    if found is None:
        return
    fmt = found.mode.low
    params = [c for c in found.constants if c.what == "init"]
    if not params:
        return
    mixed = recheck(graph, estimates, "mixed" if fmt.name == "float16" else "mixed-bf16")
    still = {c.name for c in mixed.constants if c.what == "init"}
    for constant in params:
        zero = f", {100 * constant.zero_share:.0f} % of its elements round to 0" if constant.zero_share > 0 else ""
        yield Hit(
            message=(
                f"`{constant.name}` is initialised at {constant.value:.3g}, which {mode_text(found.mode)} stores as "
                f"{constant.stored:.4g} with {constant.bits_left:.1f} of {fmt.mantissa_bits} mantissa bits{zero}: "
                "its updates are quantised coarsely or lost"
            ),
            module=constant.module,
            location=constant.location,
            fix=Fix(
                "keep the parameters in float32 and compute under torch.autocast instead of casting the model, or "
                "rescale the init (a larger value divided in forward)",
                'with torch.autocast("cuda", dtype=torch.float16):  # parameters stay float32\n    loss = model(x)',
            ),
            severity=Severity.WARNING if constant.zero_share > 0.5 else Severity.INFO,
            evidence=frozen_mapping(
                {
                    "precision": found.mode.name,
                    "dtype": fmt.name,
                    "constant": constant.name,
                    "value": constant.value,
                    "stored": constant.stored,
                    "bits_left": round(constant.bits_left, 2),
                    "zero_share": round(constant.zero_share, 4),
                    "after_fix": {"precision": mixed.mode.name, "still_reported": constant.name in still},
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
        self.gamma = nn.Parameter(1e-3 * torch.ones(16))

    def forward(self, x):
        return x + self.gamma * self.fc(x)
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.gamma = nn.Parameter(1e-6 * torch.ones(16))

    def forward(self, x):
        return x + self.gamma * self.fc(x)
""",
        module=None,
        says="with 4.1 of 10 mantissa bits",
    ),
]
