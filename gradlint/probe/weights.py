"""Which parameters are weights (DESIGN §2 step 5), and the forward order of their modules (step 6)."""

from __future__ import annotations

import math
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
    """The order of each module's first call, recorded with forward pre-hooks, merged over seeds.

    A data-dependent forward can run different modules per seed (an ``if`` on the data):
    a module first seen in a later seed is placed right after the module that preceded
    it in that seed's run, so an alternative branch lands between its neighbours.
    """

    def __init__(self) -> None:
        self._merged: list[str] = []
        self._current: list[str] = []
        self._seen: set[str] = set()
        self.first_call: dict[str, int] = {}
        """Module path -> position of its first call in the merged order."""

    def start(self) -> None:
        """Begin recording one forward pass."""
        self._current = []
        self._seen = set()

    def finish(self) -> None:
        """Merge the forward pass just recorded into the order."""
        merged = list(self._merged)
        known = set(merged)
        insert_at = 0
        for path in self._current:
            if path in known:
                insert_at = merged.index(path) + 1
            else:
                merged.insert(insert_at, path)
                known.add(path)
                insert_at += 1
        self._merged = merged
        self.first_call = {path: i for i, path in enumerate(merged)}

    def attach(self, model: nn.Module) -> list[RemovableHandle]:
        return [module.register_forward_pre_hook(self._hook(path)) for path, module in model.named_modules()]

    def _hook(self, path: str) -> Callable[[nn.Module, Any], None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            if path not in self._seen:
                self._seen.add(path)
                self._current.append(path)

        return hook

    def index(self, module_path: str) -> int:
        """The first-call position of ``module_path``, or of its nearest ancestor that ran.

        A module whose weights are used without calling it (``out_proj`` inside
        ``nn.MultiheadAttention``'s functional forward) belongs where its parent ran,
        not at the end of the model. The model itself does not count as such an ancestor:
        it always runs, and a submodule of it that never ran (an untaken branch) goes last.
        -1 when neither the module nor an ancestor below the model ran.
        """
        path = module_path
        while path:
            if path in self.first_call:
                return self.first_call[path]
            path = path.rpartition(".")[0]
        return self.first_call.get("", -1) if module_path == "" else -1


def forward_sorted(refs: list[WeightRef], order: ForwardOrder) -> list[tuple[WeightRef, int]]:
    """Weights by their module's first call, then (for positions inherited from one ancestor)
    shallower modules first, then ``named_parameters`` order; weights of modules that never ran go last.

    The same key as ``gradlint.trace.weights.forward_order_key``, so predictions and
    measurements list the weights in one order.
    """
    keyed = [(ref, order.index(ref.module)) for ref in refs]

    def key(item: tuple[int, tuple[WeightRef, int]]) -> tuple[float, int, int]:
        position, (ref, index) = item
        depth = ref.module.count(".") + 1 if ref.module else 0
        return (math.inf if index < 0 else float(index), depth, position)

    return [pair for _, pair in sorted(enumerate(keyed), key=key)]


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
