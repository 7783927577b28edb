"""Per-module forward statistics: output RMS and dead ReLU units.

Only module calls are seen: a functional ``torch.relu`` / ``F.relu`` inside some
``forward`` is measured as part of the module whose output it ends up in, and its
dead units are not counted (there is no module to report them on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradlint.probe.io import first_tensor


def is_relu_family(module: nn.Module) -> bool:
    """Modules whose output is exactly zero, with zero gradient, on a whole half-line.

    ``nn.ReLU``, ``nn.ReLU6`` and ``nn.Hardtanh(min_val=0)``, ``nn.Threshold(value=0)``.
    LeakyReLU, PReLU, ELU, GELU, SiLU still pass gradient below zero and cannot die.
    """
    if isinstance(module, nn.ReLU):
        return True
    if isinstance(module, nn.Hardtanh):  # ReLU6 is a Hardtanh(0, 6)
        return float(module.min_val) == 0.0
    if isinstance(module, nn.Threshold):
        return float(module.value) == 0.0
    return False


@dataclass(frozen=True)
class ActivationSample:
    """One module's first output in one forward pass."""

    module_type: str
    shape: tuple[int, ...]
    log10_rms: float
    """``-inf`` when the output is exactly zero, NaN when it is not finite."""
    dead_fraction: float | None
    nonfinite: bool


class ActivationRecorder:
    """Forward hooks that measure each submodule's first output per forward pass."""

    def __init__(self) -> None:
        self.samples: dict[str, ActivationSample] = {}

    def reset(self) -> None:
        self.samples = {}

    def attach(self, model: nn.Module) -> list[RemovableHandle]:
        return [
            module.register_forward_hook(self._hook(path, is_relu_family(module)))
            for path, module in model.named_modules()
            if path  # the model itself: its output is y, measured by the protocol
        ]

    def _hook(self, path: str, relu_family: bool) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, _args: Any, output: Any) -> None:
            if path in self.samples:
                return  # a module applied in a loop: its first call stands for it
            found = first_tensor(output, draw=False)
            if found is None or not found[0].is_floating_point():
                return
            self.samples[path] = measure(found[0], type(module).__name__, relu_family)

        return hook


@torch.no_grad()
def measure(output: torch.Tensor, module_type: str, relu_family: bool) -> ActivationSample:
    y = output.detach()
    nonfinite = not bool(torch.isfinite(y).all())
    if y.numel() == 0:
        log10_rms = float("-inf")
    elif nonfinite:
        log10_rms = float("nan")
    else:
        log10_rms = float(torch.log10(torch.sqrt(y.double().pow(2).mean())))
    dead: float | None = None
    if relu_family and y.dim() >= 1 and y.shape[0] > 0:
        # A unit is one output position past the batch dimension (a feature, or a
        # channel at one pixel); it is dead when it is zero for every sample.
        dead = float((y == 0).all(dim=0).float().mean())
    return ActivationSample(module_type, tuple(y.shape), log10_rms, dead, nonfinite)
