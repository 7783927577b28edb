"""Find the first module where a NaN or an infinity appears, forward and backward.

Forward: module hooks in execution order. A module's forward hook fires when its
output is ready, so the innermost module that produced the value reports first; an
input that is already non-finite when a module is entered was made by a functional
op in the enclosing module's ``forward``, which is reported instead.

Backward: tensor hooks on every module output and on every weight fire in backward
order with the gradient with respect to that tensor. Tensor hooks are used rather than
``register_full_backward_hook``, which breaks on in-place ops such as ``ReLU(inplace=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradlint.probe.io import tensors_in
from gradlint.probe.result import NonFiniteSite
from gradlint.probe.weights import WeightRef


class NonFiniteWatcher:
    """Hooks that keep the first non-finite site of each phase, for one seed at a time."""

    def __init__(self, model: nn.Module) -> None:
        self._types = {path: type(m).__name__ for path, m in model.named_modules()}
        self._bad_params = _nonfinite_tensors(model)
        self.seed = 0
        self.forward: NonFiniteSite | None = None
        self.backward: NonFiniteSite | None = None
        self._stack: list[str] = []

    def reset(self, seed: int) -> None:
        self.seed = seed
        self.forward = None
        self.backward = None
        self._stack = []

    def attach(self, model: nn.Module, weights: list[WeightRef]) -> list[RemovableHandle]:
        handles: list[RemovableHandle] = []
        for path, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(self._pre_hook(path)))
            handles.append(module.register_forward_hook(self._hook(path)))
        for ref in weights:
            handles.append(ref.parameter.register_hook(self._weight_grad_hook(ref)))
        return handles

    def check_output(self, y: torch.Tensor, where: str) -> None:
        """Catch what no module hook saw: a functional op at the end of the model's forward."""
        if self.forward is None and not _finite(y):
            self._record_forward("", f"the model's output {where} has {_count(y)} (made outside any submodule)")

    def _pre_hook(self, path: str) -> Callable[[nn.Module, Any], None]:
        def hook(_module: nn.Module, args: Any) -> None:
            if self.forward is None:
                bad = next((t for t in tensors_in(args) if t.is_floating_point() and not _finite(t)), None)
                if bad is not None:
                    parent = self._stack[-1] if self._stack else ""
                    where = f"the forward of {parent}" if parent else "the model's forward"
                    self._record_forward(
                        parent,
                        f"the input of {path or 'the model'} ({self._types[path]}) already has {_count(bad)}: "
                        f"made by a functional op in {where}",
                    )
            self._stack.append(path)

        return hook

    def _hook(self, path: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            if self._stack and self._stack[-1] == path:
                self._stack.pop()
            tensors = [t for t in tensors_in(output) if t.is_floating_point()]
            if self.forward is None:
                bad = next((t for t in tensors if not _finite(t)), None)
                if bad is not None:
                    self._record_forward(path, self._forward_what(path, bad))
            for t in tensors:
                # Not on leaves (a module returning a parameter): a leaf keeps its hooks forever.
                if t.requires_grad and t.grad_fn is not None:
                    t.register_hook(self._output_grad_hook(path))

        return hook

    def _forward_what(self, path: str, bad: torch.Tensor) -> str:
        what = f"output of {self._types[path]} has {_count(bad)}"
        prefix = f"{path}." if path else ""
        own = [name for name in self._bad_params if name.startswith(prefix) and "." not in name[len(prefix) :]]
        if own:
            what += f"; {', '.join(own)} {'is' if len(own) == 1 else 'are'} not finite"
        return what

    def _output_grad_hook(self, path: str) -> Callable[[torch.Tensor | None], None]:
        def hook(grad: torch.Tensor | None) -> None:
            # cuDNN's RNN hands its unused outputs (h_n when only the sequence is used) a None gradient
            if grad is not None and self.backward is None and not _finite(grad):
                self._record_backward(path, f"gradient w.r.t. the output of {self._types[path]} has {_count(grad)}")

        return hook

    def _weight_grad_hook(self, ref: WeightRef) -> Callable[[torch.Tensor | None], None]:
        def hook(grad: torch.Tensor | None) -> None:
            if grad is not None and self.backward is None and not _finite(grad):
                self._record_backward(ref.module, f"gradient of {ref.name} has {_count(grad)}")

        return hook

    def _record_forward(self, path: str, what: str) -> None:
        self.forward = NonFiniteSite("forward", path, self._types.get(path, "?"), what, self.seed)

    def _record_backward(self, path: str, what: str) -> None:
        self.backward = NonFiniteSite("backward", path, self._types.get(path, "?"), what, self.seed)


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t.detach()).all())


def _count(t: torch.Tensor) -> str:
    t = t.detach()
    nan = int(torch.isnan(t).sum())
    inf = int(torch.isinf(t).sum())
    parts = [f"{nan} NaN"] if nan else []
    parts += [f"{inf} Inf"] if inf else []
    return f"{' and '.join(parts)} of {t.numel()} values"


def _nonfinite_tensors(model: nn.Module) -> list[str]:
    """Parameters and buffers that are already NaN or infinite before anything runs."""
    names: list[str] = []
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.is_floating_point() and not _finite(t):
                names.append(name)
    return names
