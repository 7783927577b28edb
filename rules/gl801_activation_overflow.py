"""A layer whose activations pass the low dtype's largest finite value: the forward becomes inf, then NaN.

## What it does
Under `--precision`, predicts the largest |element| of every output computed in the low dtype from the
estimator's RMS and a tail model (a Gaussian extreme of the output's elements; the positive half of the
pre-activation's for ReLU-family outputs; an exponential tail for a product of two activations; a
log-normal one for `exp`), and reports the layers where it passes the dtype's largest finite value
(65504 for float16), by how many bits, at the first such layer's construction line. Under `mixed`, a
float32 value cast to float16 where a matmul reads it counts too. The finding's `after_fix` re-checks
with that layer kept in float32 and with the model in bfloat16.

## Why is this bad
One element past 65504 is `inf` in float16, the next normalisation or softmax turns it into NaN, and
the loss is NaN from the first step: GradScaler cannot help, it only scales the backward. bfloat16 has
float32's range (3.4e38) and does not overflow here.

## Example
```python
self.ff = nn.Linear(1024, 4096)  # grows the residual stream until the float16 output passes 65504
```

## Use instead
```python
with torch.autocast(device_type="cuda", enabled=False):  # keep this layer in float32
    h = self.ff(h.float())
# or train in bfloat16: torch.autocast("cuda", dtype=torch.bfloat16)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext
from gradlint.types import Severity, frozen_mapping

from ._precision import mode_text, precision_of, recheck

CODE = "GL801"
NAME = "activation-overflow"
SEVERITY = Severity.ERROR
KIND = "precision"
EXAMPLE_OPTIONS = {"precision": "float16"}

_LISTED = 10


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph, estimates = ctx.graph, ctx.estimates
    found = precision_of(estimates)
    if found is None or not found.overflows:
        return
    first = found.overflows[0]
    fmt = found.mode.low
    where = f"`{first.module}`" if first.module else f"`{first.node}`"
    kept = recheck(graph, estimates, found.mode, frozenset({first.node}))
    in_bf16 = recheck(graph, estimates, "mixed-bf16" if found.mode.autocast else "bfloat16")
    attr = (first.module or "layer").rpartition(".")[2]
    others = len(found.overflows) - 1
    yield Hit(
        message=(
            f"{where} is predicted to reach |x| ≈ {first.predicted_max:.3g} in {mode_text(found.mode)} "
            f"({first.tail} tail of {first.elements} elements at RMS {first.rms:.3g}), {first.bits_over:.1f} bits "
            f"past its largest finite value {fmt.max:.6g}: the forward becomes inf here"
            + (f", and {others} later node(s) overflow too" if others else "")
        ),
        module=first.module,
        location=first.location,
        fix=Fix(
            f"keep {where} (and what follows it up to the next normalisation) in float32 inside an "
            "autocast-disabled region, rescale its init or add a norm before it, or train in bfloat16 "
            "(float32's range)",
            f'with torch.autocast(device_type="cuda", enabled=False):\n    h = self.{attr}(h.float())\n'
            '# or: torch.autocast("cuda", dtype=torch.bfloat16)',
        ),
        evidence=frozen_mapping(
            {
                "precision": found.mode.name,
                "dtype": fmt.name,
                "dtype_max": fmt.max,
                "first_node": first.node,
                "predicted_max": first.predicted_max,
                "predicted_rms": first.rms,
                "tail": first.tail,
                "bits_over": round(first.bits_over, 2),
                "overflowing_nodes": [o.node for o in found.overflows[:_LISTED]],
                "overflowing_count": len(found.overflows),
                "after_fix": {
                    "float32_nodes": [first.node],
                    "overflowing_count": len(kept.overflows),
                    "first_overflow": kept.overflows[0].node if kept.overflows else None,
                    "bfloat16_overflowing_count": len(in_bf16.overflows),
                },
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
        self.layers = nn.ModuleList(nn.Linear(64, 64) for _ in range(8))

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
            nn.init.normal_(layer.weight, std=1.0)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x
""",
        module="layers.5",
        says="past its largest finite value 65504",
    ),
]
