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

from gradlint.load.meta import meta_copy
from gradlint.trace.shapes import map_tensors

__all__ = ["meta_copy", "shared_copy", "to_meta"]


def shared_copy(model: nn.Module) -> nn.Module:
    memo: dict[int, object] = {id(p): p for p in model.parameters()}
    memo.update({id(b): b.clone() for b in model.buffers()})
    return copy.deepcopy(model, memo)


def to_meta(value: object) -> object:
    return map_tensors(value, lambda t: torch.empty_like(t, device="meta"))
