"""Weight gradients below the low dtype's smallest normal: without loss scaling they flush to zero.

## What it does
Under `--precision float16` (or `mixed`), compares every weight's predicted gradient RMS under the
reference protocol's loss (DESIGN §2) with float16's smallest normal (6.1e-05) and smallest subnormal
(6.0e-08) and reports the weights with half or more of their elements predicted below the smallest
normal (Gaussian elements: an RMS under 1.48x it), the share expected to round to zero,
and the loss scale that lifts them: the smallest power of two that puts every gradient RMS at 8x the
smallest normal, what `torch.amp.GradScaler` needs as `init_scale`. It also says when the predicted
gradients would overflow at GradScaler's default scale (65536). The finding's `after_fix` re-checks
the gradients at that scale.

## Why is this bad
A gradient element under 6e-08 is stored as 0 in float16 and its weight never moves; between that and
6.1e-05 it keeps only some of its 10 mantissa bits. The loss looks fine while the early layers stop
learning. bfloat16 shares float32's exponent range and does not underflow here.

## Example
```python
layers = [nn.Linear(64, 64) for _ in range(8)]  # init std 0.02, tanh: gradients shrink ×0.16 per layer
```

## Use instead
```python
scaler = torch.amp.GradScaler("cuda", init_scale=2.0**10)  # what the finding computes
scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()
# or fix the init, or train in bfloat16
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.estimate.precision.check import UNDERFLOW_SHARE, gaussian_share_below
from gradlint.rulekit import Example, Fix, Hit, RuleContext
from gradlint.types import Severity, frozen_mapping

from ._precision import mode_text, precision_of

CODE = "GL802"
NAME = "gradient-underflow"
SEVERITY = Severity.WARNING
KIND = "precision"
EXAMPLE_OPTIONS = {"precision": "float16"}


def check(ctx: RuleContext) -> Iterator[Hit]:
    estimates = ctx.estimates
    found = precision_of(estimates)
    if found is None or not found.underflows:
        return
    fmt = found.mode.low
    worst = min(found.underflows, key=lambda u: u.log10_grad_rms)
    scale = found.loss_scale
    total = sum(1 for w in estimates.weights if w.log10_grad_rms is not None)
    init_scale = scale.init_scale or 1.0
    lifted = [
        u.weight
        for u in found.underflows
        if gaussian_share_below(fmt.min_normal, 10.0**u.log10_grad_rms * init_scale) >= UNDERFLOW_SHARE
    ]
    if scale.overflows_at_init_scale:
        advice = (
            f"no single loss scale fits: 2^{_log2(init_scale)} "
            f"lifts the smallest gradients but makes the largest (≈ {scale.largest_gradient:.3g}) overflow; "
            "fix the init or train in bfloat16"
        )
    elif init_scale <= scale.default_scale:
        advice = f"GradScaler's default init_scale {scale.default_scale:.0f} lifts them; never train this in float16 unscaled"
    else:
        advice = (
            f"set GradScaler's init_scale to 2^{_log2(init_scale)} (its default {scale.default_scale:.0f} is too small)"
        )
    yield Hit(
        message=(
            f"{len(found.underflows)} of {total} weights have most of their predicted gradient below {fmt.name}'s "
            f"smallest normal {fmt.min_normal:.2g} under the reference protocol's loss in {mode_text(found.mode)}; the smallest, "
            f"`{worst.weight}` at 10^{worst.log10_grad_rms:.1f}, would have {100 * worst.subnormal_share:.0f} % of its "
            f"elements subnormal and {100 * worst.flush_share:.0f} % flushed to zero without loss scaling: {advice}"
        ),
        module=worst.module,
        fix=Fix(
            f"scale the loss: torch.amp.GradScaler(init_scale=2**{_log2(init_scale)}) (or re-initialise the layers "
            "that shrink the gradient, or use bfloat16, which has float32's exponent range)",
            f'scaler = torch.amp.GradScaler("cuda", init_scale=2.0**{_log2(init_scale)})\n'
            "scaler.scale(loss).backward()\nscaler.step(optimizer)\nscaler.update()",
        ),
        evidence=frozen_mapping(
            {
                "precision": found.mode.name,
                "dtype": fmt.name,
                "weights": [u.weight for u in found.underflows],
                "smallest_log10_grad_rms": round(worst.log10_grad_rms, 3),
                "flush_share": round(worst.flush_share, 4),
                "subnormal_share": round(worst.subnormal_share, 4),
                "init_scale": scale.init_scale,
                "largest_gradient": scale.largest_gradient,
                "overflows_at_default_scale": scale.overflows_at_default,
                "after_fix": {
                    "loss_scale": scale.init_scale,
                    "underflowing_weights": len(lifted),
                    "overflows": scale.overflows_at_init_scale,
                },
            }
        ),
    )


def _log2(value: float) -> int:
    return round(value).bit_length() - 1 if value >= 1 else 0


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(64, 64) for _ in range(3))

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x
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
        self.layers = nn.ModuleList(nn.Linear(64, 64) for _ in range(8))
        for layer in self.layers:
            nn.init.normal_(layer.weight, std=0.02)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x
""",
        module="layers.0",
        says="below float16's smallest normal",
    ),
]
