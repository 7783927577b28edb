"""Private copies of the user's model, so tracing never touches the original.

``deepcopy`` with a pre-filled memo swaps chosen tensors in without copying them:
a *shared* copy reuses the parameters (read-only under ``no_grad``) and owns cloned
buffers, so a forward in train mode updates BatchNorm statistics on the copy only;
a *meta* copy holds meta tensors of the same shapes and costs no memory.
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
        id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad) for p in model.parameters()
    }
    memo.update({id(b): torch.empty_like(b, device="meta") for b in model.buffers()})
    return copy.deepcopy(model, memo)


def to_meta(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return torch.empty_like(value, device="meta")
    if isinstance(value, tuple | list):
        return type(value)(to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: to_meta(v) for k, v in value.items()}
    return value
