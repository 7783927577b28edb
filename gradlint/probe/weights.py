"""Which parameters are weights (DESIGN §2 step 5), and the forward order of their modules (step 6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


@dataclass(frozen=True)
class WeightRef:
    """A weight of the private copy: its protocol name, owning module and the tensor itself."""

    name: str
    module: str
    module_type: str
    parameter: nn.Parameter


def protocol_weights(model: nn.Module) -> list[WeightRef]:
    """Every parameter with ``dim >= 2`` not owned by an ``nn.Embedding``, in ``named_parameters`` order.

    ``named_parameters`` lists a tied parameter once, under its first name, and so do we;
    the owner is the module that name points into.
    """
    refs: list[WeightRef] = []
    for name, param in model.named_parameters():
        if param.dim() < 2:
            continue
        module_path = name.rpartition(".")[0]
        owner = model.get_submodule(module_path)
        if isinstance(owner, nn.Embedding):
            continue
        refs.append(WeightRef(name, module_path, type(owner).__name__, param))
    return refs


class ForwardOrder:
    """Records the order of each module's first call, with forward pre-hooks."""

    def __init__(self) -> None:
        self.first_call: dict[str, int] = {}

    def attach(self, model: nn.Module) -> list[RemovableHandle]:
        return [module.register_forward_pre_hook(self._hook(path)) for path, module in model.named_modules()]

    def _hook(self, path: str) -> Callable[[nn.Module, Any], None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            self.first_call.setdefault(path, len(self.first_call))

        return hook

    def index(self, module_path: str) -> int:
        """The first-call position of ``module_path``, or of its nearest ancestor that ran.

        A module whose weights are used without calling it (``out_proj`` inside
        ``nn.MultiheadAttention``'s functional forward) belongs where its parent ran,
        not at the end of the model. -1 when neither it nor any ancestor ran.
        """
        path = module_path
        while True:
            if path in self.first_call:
                return self.first_call[path]
            if not path:
                return -1
            path = path.rpartition(".")[0]


def forward_sorted(refs: list[WeightRef], order: ForwardOrder) -> list[tuple[WeightRef, int]]:
    """Weights by their module's first call; ties (one module, or inherited positions) keep
    ``named_parameters`` order, and weights of modules that never ran go last."""
    keyed = [(ref, order.index(ref.module)) for ref in refs]
    ranked = sorted(enumerate(keyed), key=lambda item: (item[1][1] < 0, item[1][1], item[0]))
    return [pair for _, pair in ranked]


def grad_log10_rms(grad: torch.Tensor | None, numel: int) -> tuple[float, bool]:
    """``log10(‖grad‖_F / sqrt(numel))`` and whether the gradient is non-finite.

    ``-inf`` for an exactly zero (or absent) gradient; computed in float64 so that a
    large but finite float32 gradient does not overflow into a false infinity.
    """
    if grad is None:
        return float("-inf"), False
    nonfinite = not bool(torch.isfinite(grad).all())
    rms = torch.sqrt(grad.detach().double().pow(2).sum() / max(numel, 1))
    return float(torch.log10(rms)), nonfinite
