"""Private copies of the user's model, so that nothing gradlint runs touches the original.

``deepcopy`` with a pre-filled memo swaps chosen tensors in without copying them:
a *shared* copy reuses the parameters (read-only under ``no_grad``) and owns cloned
buffers, so a forward in train mode updates BatchNorm statistics on the copy only;
a *meta* copy holds meta tensors of the same shapes and costs no memory. The load stage
runs them to choose inputs, the trace stage to trace (``gradlint.trace.copies``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def shared_copy(model: nn.Module) -> nn.Module:
    memo: dict[int, object] = {id(p): p for p in model.parameters()}
    memo.update({id(b): b.clone() for b in model.buffers()})
    return copy.deepcopy(model, memo)


def meta_copy(model: nn.Module) -> nn.Module:
    memo: dict[int, object] = {
        id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
        for p in model.parameters()
    }
    memo.update({id(b): torch.empty_like(b, device="meta") for b in model.buffers()})
    return copy.deepcopy(model, memo)
