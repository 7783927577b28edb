"""A parameter or buffer holds NaN or Inf values.

## What it does
Checks every parameter and buffer of the model, as built, for NaN and ±Inf entries.

## Why is this bad
A single non-finite weight makes the layer's output, the loss and then every
gradient non-finite after the first step; a non-finite BatchNorm running
statistic does the same in eval mode. It usually comes from a corrupt
checkpoint, a division by zero in a custom init (e.g. a std computed from an
empty fan), or ``torch.empty`` left uninitialised.

## Example
```python
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)
        with torch.no_grad():
            self.fc.weight.div_(0.0)  # Inf everywhere
```

## Use instead
Initialise the tensor explicitly and check checkpoints when loading:
```python
nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")
assert all(torch.isfinite(p).all() for p in model.parameters())
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, RuleContext, Severity, frozen_mapping

CODE = "GL001"
NAME = "non-finite-tensor"
SEVERITY = Severity.ERROR
KIND = "non-finite"


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    for tensor in graph.tensors:
        bad = tensor.nan + tensor.inf
        if not bad:
            continue
        what = " and ".join(
            part
            for part in (f"{tensor.nan} NaN" if tensor.nan else "", f"{tensor.inf} Inf" if tensor.inf else "")
            if part
        )
        owner = graph.module_types.get(tensor.module, "module")
        if tensor.kind == "parameter":
            fix = Fix(
                f"re-initialise `{tensor.name}` with a finite init, or reload it from a checkpoint you have checked",
                f'nn.init.kaiming_uniform_(model.get_parameter({tensor.name!r}), nonlinearity="relu")'
                if tensor.name.endswith("weight")
                else f"nn.init.zeros_(model.get_parameter({tensor.name!r}))",
            )
        else:
            fix = Fix(
                f"reset the buffer `{tensor.name}` (for normalization statistics: `reset_running_stats()` on the {owner})",
                f"model.get_submodule({tensor.module!r}).reset_running_stats()" if "running_" in tensor.name else None,
            )
        yield Hit(
            message=f"{tensor.kind} `{tensor.name}` of this {owner} holds {what} of {tensor.numel} values",
            module=tensor.module,
            fix=fix,
            evidence=frozen_mapping(
                {"tensor": tensor.name, "nan": tensor.nan, "inf": tensor.inf, "numel": tensor.numel}
            ),
        )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(x)
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
        self.fc = nn.Linear(16, 4)
        with torch.no_grad():
            self.fc.weight[0, 0] = float("nan")

    def forward(self, x):
        return self.fc(x)
""",
        module="fc",
        says="holds 1 NaN",
    ),
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 8)
        self.bn = nn.BatchNorm1d(8)
        self.bn.running_var.fill_(float("inf"))

    def forward(self, x):
        return self.bn(self.fc(x))
""",
]
