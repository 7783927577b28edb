"""The probe timeout: checked between phases and at every module call.

A single long op (one huge matmul) cannot be interrupted; the check fires at the next
module boundary after the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch import nn
from torch.utils.hooks import RemovableHandle

from gradlint.errors import GradlintError


class Deadline:
    """Raises ``GradlintError`` naming the timeout and how far the probe got."""

    def __init__(self, timeout_s: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._start = clock()
        self.stage = "starting"
        """What the probe is doing now, e.g. ``seed 2 of 3 (forward pass)``."""
        self.done: list[str] = []
        """What it has finished, e.g. ``seed 1``."""

    def elapsed(self) -> float:
        return self._clock() - self._start

    def check(self, where: str = "") -> None:
        if self.timeout_s is None or self.elapsed() <= self.timeout_s:
            return
        at = f", at {where}" if where else ""
        finished = f"; finished: {', '.join(self.done)}" if self.done else "; nothing finished yet"
        raise GradlintError(
            f"probe timed out after {self.timeout_s:g} s (--probe-timeout) during {self.stage}{at}{finished}; "
            "raise --probe-timeout, use a smaller --input-shape, or --device cuda"
        )

    def attach(self, model: nn.Module) -> list[RemovableHandle]:
        """Forward pre-hooks that check the deadline at every module call."""
        if self.timeout_s is None:
            return []
        return [module.register_forward_pre_hook(self._hook(path)) for path, module in model.named_modules()]

    def _hook(self, path: str) -> Callable[[nn.Module, Any], None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            self.check(f"module {path or '(the model)'}")

        return hook
