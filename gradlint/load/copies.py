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
    memo.update({id(t): t.detach() for t in _derived_tensors(model)})
    return copy.deepcopy(model, memo)


def meta_copy(model: nn.Module) -> nn.Module:
    memo: dict[int, object] = {
        id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
        for p in model.parameters()
    }
    memo.update({id(b): torch.empty_like(b, device="meta") for b in model.buffers()})
    memo.update({id(t): torch.empty_like(t, device="meta") for t in _derived_tensors(model)})
    return copy.deepcopy(model, memo)


def _derived_tensors(model: nn.Module) -> list[torch.Tensor]:
    """Tensors a module keeps that were computed from its parameters, which ``deepcopy`` refuses to copy.

    ``torch.nn.utils.weight_norm`` (the old one) stores ``weight = g * v / ‖v‖`` as a plain attribute
    and recomputes it before every forward, so the copy only needs one of the right shape.
    """
    return [
        value
        for module in model.modules()
        for value in vars(module).values()
        if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and value.grad_fn is not None
    ]
