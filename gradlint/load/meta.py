"""Building on the meta device: when it is asked for (``--meta``), and when the weights would not fit in memory.

Meta mode
---------
``--meta`` (``LintOptions.meta=True``, ``meta = true`` in ``[tool.gradlint]``) builds the model under
``torch.device("meta")``: parameters have shapes and dtypes but no values, so a 70B-parameter model
builds in a fraction of a second and a few hundred MB. The ``ConstructionRecorder`` still sees every
init call (``kaiming_uniform_``, Hugging Face's in-place ``normal_``/``zero_``), and the estimate
works from the statistics those calls imply; spectral norms become random-matrix estimates
(σ·(√m + √n) for an iid init). The example inputs are meta tensors of the same shapes.

Automatic mode (the default, ``meta`` unset)
--------------------------------------------
The budget is ``memory_budget()``: ``BUDGET_FRACTION`` of the memory the system reports available.

* Library models (``torchvision:``, ``timm:``, ``hf:``) are sized first by a bare build on the meta
  device (no recorder, no init re-run: a few % of a real build); when their parameters and buffers
  exceed the budget the model is built on the meta device (recorded), otherwise for real. Nothing
  large is ever allocated.
* A user's file is imported once, for real, while the recorder counts the bytes of new CPU storage;
  past the budget the build stops at that allocation and the file is imported again on the meta
  device. A model that fits pays nothing; one that does not has spent up to the budget (time and
  memory) before the switch. Temporaries count too, so the count errs high: a model close to the
  budget may go to the meta device although it would just have fitted.

``--no-meta`` (``meta=False``) never switches.

A model built on the meta device cannot be probed: ``--probe --meta`` is a usage error, and an
automatic switch skips the probe with the reason in the report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils._pytree import tree_map_only

from gradlint.errors import GradlintError, LoadError
from gradlint.load.construction import ConstructionRecorder, MemoryBudgetExceeded

T = TypeVar("T")
_Inputs = TypeVar("_Inputs")

BUDGET_FRACTION = 0.7
"""Share of the available memory the weights may take: the lint itself, and the libraries, need the rest."""


def available_memory() -> int:
    """Bytes of memory available to a new allocation: ``MemAvailable`` on Linux, else half the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return 8 * 2**30  # nothing to ask: assume a small machine


def memory_budget() -> int:
    """Bytes the real build of a model may allocate before it is built on the meta device instead."""
    return int(available_memory() * BUDGET_FRACTION)


def parameter_bytes(model: nn.Module) -> int:
    """Bytes the model's parameters and buffers take (or would take, on the meta device)."""
    tensors: Iterable[torch.Tensor] = (*model.parameters(), *model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def too_large_reason(model: nn.Module, budget: int) -> str:
    """Why an automatic switch happened, in words, with the meta model's real size."""
    count = sum(p.numel() for p in model.parameters())
    return (
        f"its {count:,} parameters and buffers take {parameter_bytes(model) / 2**30:.1f} GiB, more than the "
        f"{budget / 2**30:.1f} GiB budget ({BUDGET_FRACTION:.0%} of the available memory); pass --no-meta to build it anyway"
    )


def on_meta(values: _Inputs) -> _Inputs:
    """The example inputs, nested ones too, as meta tensors of the same shapes and dtypes (a meta model
    cannot mix devices)."""
    return tree_map_only(torch.Tensor, lambda t: t.to("meta"), values)


def is_meta(model: nn.Module) -> bool:
    """Whether the model's weights are on the meta device (any parameter or buffer)."""
    return any(t.is_meta for t in (*model.parameters(), *model.buffers()))


@dataclass(frozen=True)
class BuildMode:
    """How one build attempt runs: for real (with a memory budget or none) or on the meta device."""

    meta: bool
    budget: int | None = None
    """A real build's memory budget for the ``ConstructionRecorder``; None: no limit."""
    switched_from: int | None = None
    """On the meta device because a real build passed this budget (automatic mode); None: asked for."""
    weights_only: bool = False
    """Only parameters and buffers go to the meta device, as they are registered; the constructor's own
    tensors stay real. The fallback for constructors that compute with tensors and read the values back
    (torchvision's RegNet widths: ``.tolist()``), which fail under ``torch.device("meta")``."""

    def recorder(self) -> ConstructionRecorder:
        return ConstructionRecorder(self.budget)

    def check(self, recorder: ConstructionRecorder) -> None:
        """Raise ``MemoryBudgetExceeded`` if the build passed the budget, even where user code caught the first one."""
        if recorder.over_budget:
            raise MemoryBudgetExceeded(f"building the model allocated more than {recorder.memory_budget} bytes")

    def device(self) -> contextlib.AbstractContextManager[Any]:
        """The context to build in; entered inside the recorder, so the recorder sees the meta tensors."""
        if not self.meta:
            return contextlib.nullcontext()
        return _weights_on_meta() if self.weights_only else torch.device("meta")

    def inputs(self, values: _Inputs) -> _Inputs:
        return on_meta(values) if self.meta else values

    def reason(self, model: nn.Module) -> str | None:
        """``LoadedModel.meta``: why the model is on the meta device; None for a real build."""
        if not self.meta:
            return None
        if self.switched_from is None:
            return "meta mode was asked for (--meta)"
        return too_large_reason(model, self.switched_from)


def build_within_memory(
    attempt: Callable[[BuildMode], T], meta: bool | None, target: str, *, size: Callable[[], int] | None = None
) -> T:
    """Run ``attempt`` for real or on the meta device as ``meta`` says (None: automatic, see the module doc).

    ``attempt`` builds under ``mode.recorder()`` inside ``mode.device()``, calls ``mode.check`` on the
    recorder, and returns what it loaded (with ``mode.reason(model)`` as its ``meta``).
    ``size`` (library models, whose construction has no side effects): in automatic mode, the bytes
    of the model's weights from a bare build on the meta device (GPT-2: 0.05 s against 1.5 s for
    real); over the budget the model is built on the meta device and never allocated, else for real.
    Otherwise (a user's file, which is not imported twice without need) the real build runs under
    the budget and is redone on the meta device if it passes it. An automatic switch whose meta
    build fails is a ``LoadError``.
    """
    if meta is not None:
        return _meta_attempt(attempt, switched_from=None) if meta else attempt(BuildMode(meta=False))
    budget = memory_budget()
    if size is not None:
        try:
            needed: int | None = size()
        except Exception:  # a library's constructor, on the meta device: any exception type is possible
            needed = None  # cannot be built on the meta device: build it for real, under the budget
        if needed is not None:
            if needed > budget:
                return _meta_attempt(attempt, switched_from=budget)
            return attempt(BuildMode(meta=False))
    try:
        return attempt(BuildMode(meta=False, budget=budget))
    except Exception as exc:
        if not _over_budget(exc):
            raise
    try:
        return _meta_attempt(attempt, switched_from=budget)
    except GradlintError as exc:
        raise LoadError(
            f"{target}: too large to build in memory (over {budget / 2**30:.1f} GiB), and building it on the meta device "
            f"failed: {exc}; pass --no-meta to build it anyway"
        ) from exc


def _meta_attempt(attempt: Callable[[BuildMode], T], *, switched_from: int | None) -> T:
    """``attempt`` on the meta device; again with only the weights there when the constructor read a meta value."""
    try:
        return attempt(BuildMode(meta=True, switched_from=switched_from))
    except Exception as exc:
        if not _in_chain(exc, _reads_meta_values):
            raise
    return attempt(BuildMode(meta=True, switched_from=switched_from, weights_only=True))


def _reads_meta_values(exc: BaseException) -> bool:
    text = str(exc)
    return "meta tensor" in text or "on the meta device" in text


@contextlib.contextmanager
def _weights_on_meta() -> Iterator[None]:
    """Every parameter and buffer registered meanwhile, on any module, is swapped for a meta tensor of its shape.

    torch's global registration hooks, removed on exit; nothing else is changed, so the constructor's
    arithmetic on tensors runs for real (allocated but untouched ``torch.empty`` weights cost no pages).
    """
    from torch.nn.modules import module as modules

    def parameter(module: nn.Module, name: str, value: nn.Parameter | None) -> nn.Parameter | None:
        if value is None or value.is_meta:
            return None
        return nn.Parameter(value.detach().to("meta"), requires_grad=value.requires_grad)

    def buffer(module: nn.Module, name: str, value: torch.Tensor | None) -> torch.Tensor | None:
        if value is None or value.is_meta:
            return None
        return value.to("meta")

    handles = (
        modules.register_module_parameter_registration_hook(parameter),
        modules.register_module_buffer_registration_hook(buffer),
    )
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _in_chain(exc: BaseException, test: Callable[[BaseException], bool]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if test(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _over_budget(exc: BaseException) -> bool:
    return _in_chain(exc, lambda e: isinstance(e, MemoryBudgetExceeded))
