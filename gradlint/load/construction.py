"""Record, while the user's model is being built, where each layer is constructed and how each tensor is initialised.

Two things cannot be recovered after construction: the source line that built a layer
(``self.fc = nn.Linear(...)`` or the ``nn.Linear(...)`` inside an ``nn.Sequential(...)``),
and the init calls that produced a weight (``kaiming_normal_(nonlinearity="relu")`` and a
later ``mul_(0.1)`` look alike afterwards). ``ConstructionRecorder`` is a context manager
that is active only while the target file is imported and the model constructed:

* a ``TorchFunctionMode`` sees every ``torch.nn.init.*`` call (they dispatch through
  ``__torch_function__``) and every in-place tensor op; ops made inside an ``nn.init``
  function that does not dispatch (``orthogonal_``, ``sparse_``) are attributed to it
  by looking at the Python stack;
* ``nn.Module.__init__`` is wrapped for the duration of the context, so each module's
  construction call site is known.

Tensors are keyed by their storage, so ``weight.data.normal_()`` (Hugging Face style)
is attributed to ``weight``.

With a ``memory_budget`` the recorder also adds up the bytes of every new CPU storage the
construction allocates (parameters, buffers, and temporaries, so it errs high) and, past the
budget, raises ``MemoryBudgetExceeded`` from the allocating call, before the memory is spent;
``over_budget`` stays set even if user code swallows the exception. The loader then builds
the model again on the meta device.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import types
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gradlint.sources import is_library_file
from gradlint.types import InitCall, SourceLocation, frozen_mapping

_INIT_FILE = os.path.abspath(nn.init.__file__)

# Ops that overwrite or rescale a tensor in place and therefore define its initial values.
_DEFINING_OPS = frozenset(
    {
        "normal_",
        "uniform_",
        "zero_",
        "fill_",
        "copy_",
        "bernoulli_",
        "exponential_",
        "random_",
        "log_normal_",
        "geometric_",
        "cauchy_",
    }
)
_MODIFYING_OPS = frozenset(
    {"mul_", "div_", "add_", "sub_", "clamp_", "clamp_min_", "clamp_max_", "fmod_", "abs_", "neg_", "erfinv_"}
)
_SCALAR_TYPES = (int, float, bool, str)
_RECORDED_INIT_ARGS = ("a", "b", "mean", "std", "gain", "mode", "nonlinearity", "val", "sparsity", "groups")

_patch_lock = threading.Lock()


class MemoryBudgetExceeded(MemoryError):
    """Construction allocated more than the recorder's ``memory_budget``: build it on the meta device instead."""


def _storage_key(tensor: torch.Tensor) -> int | None:
    try:
        return tensor.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError, AttributeError):
        return None


@dataclass
class _TensorLog:
    calls: list[InitCall]
    frames: set[int]
    """ids of the nn.init frames already recorded, so one ``orthogonal_`` call is one record."""


class _InitMode(TorchFunctionMode):
    def __init__(self, recorder: ConstructionRecorder) -> None:
        super().__init__()
        self._recorder = recorder

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        module = getattr(func, "__module__", "") or ""
        # nn.init functions dispatch with the tensor as a keyword; libraries may wrap them (transformers
        # re-exports guarded copies), so the signature is the test, not only the defining module.
        if module == "torch.nn.init" or (not args and isinstance(kwargs.get("tensor"), torch.Tensor)):
            target = kwargs.get("tensor", args[0] if args else None)
            if isinstance(target, torch.Tensor):
                self._recorder._record_init_function(name, target, kwargs)
            return func(*args, **kwargs)
        result = func(*args, **kwargs)
        if self._recorder.memory_budget is not None and isinstance(result, torch.Tensor):
            self._recorder._count_allocation(result, args)
        if args and isinstance(args[0], torch.Tensor):
            if args[0].is_meta and name in ("numel", "ndimension", "dim"):
                # nn.init functions such as orthogonal_ return before any write on the meta device:
                # the size check is the only sign of the call, so it is recorded from the stack.
                self._recorder._record_init_frame(args[0])
            if name in _DEFINING_OPS or name in _MODIFYING_OPS:
                self._recorder._record_inplace(name, args[0], args[1:], kwargs)
            elif name in ("__deepcopy__", "clone") and isinstance(result, torch.Tensor):
                # nn.TransformerEncoder deep-copies its layer: the copies start as their source was.
                self._recorder._inherit(result, args[0])
            elif isinstance(result, torch.Tensor) and not name.endswith("_"):
                self._recorder._forget_if_new(result, args)
        elif isinstance(result, torch.Tensor):
            self._recorder._forget_if_new(result, args)
        return result


class ConstructionRecorder:
    """Context manager recording construction sites of modules and init calls on tensors.

    Use it around importing the model file and calling its factory; afterwards
    ``sites_for(model)`` and ``init_records_for(model)`` map the model's own names to
    what was recorded. Nesting and concurrent use from several threads are not supported.
    """

    def __init__(self, memory_budget: int | None = None) -> None:
        self._sites: weakref.WeakKeyDictionary[nn.Module, SourceLocation] = weakref.WeakKeyDictionary()
        self._logs: dict[int, _TensorLog] = {}
        self._mode = _InitMode(self)
        self._original_init: Any = None
        self.memory_budget = memory_budget
        """Bytes of new CPU storage construction may allocate; None: no limit."""
        self.allocated = 0
        """Bytes of new CPU storage counted so far (only with a ``memory_budget``)."""
        self.over_budget = False
        self._counted: set[int] = set()

    # -- context management -------------------------------------------------
    def __enter__(self) -> ConstructionRecorder:
        _patch_lock.acquire()
        original = nn.Module.__init__
        self._original_init = original
        recorder = self

        def recording_init(module: nn.Module, *args: Any, **kwargs: Any) -> None:
            original(module, *args, **kwargs)
            recorder._record_site(module)

        recording_init.__wrapped__ = original  # type: ignore[attr-defined]
        nn.Module.__init__ = recording_init  # type: ignore[method-assign]
        try:
            self._mode.__enter__()
        except BaseException:
            nn.Module.__init__ = original  # type: ignore[method-assign]
            _patch_lock.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._mode.__exit__(*exc_info)
        finally:
            nn.Module.__init__ = self._original_init  # type: ignore[method-assign]
            _patch_lock.release()

    # -- memory -------------------------------------------------------------
    def _count_allocation(self, result: torch.Tensor, args: tuple) -> None:
        if result.device.type != "cpu":
            return  # the budget is host memory; meta tensors take none
        key = _storage_key(result)
        if key is None or key in self._counted:
            return
        if any(isinstance(arg, torch.Tensor) and _storage_key(arg) == key for arg in args):
            return  # a view or an in-place op on an input: no new memory
        self._counted.add(key)
        self.allocated += result.untyped_storage().nbytes()
        if self.memory_budget is not None and self.allocated > self.memory_budget:
            self.over_budget = True
            raise MemoryBudgetExceeded(
                f"building the model allocated {self.allocated / 2**30:.1f} GiB, over the budget of {self.memory_budget / 2**30:.1f} GiB"
            )

    # -- construction sites -------------------------------------------------
    def _record_site(self, module: nn.Module) -> None:
        if module in self._sites:
            return
        frame: types.FrameType | None = sys._getframe(2)
        # Skip the __init__ chain of this very module (subclass -> superclass), then any
        # library frames (torch building a layer for the user, e.g. inside nn.Transformer).
        while frame is not None and frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is module:
            frame = frame.f_back
        while frame is not None and is_library_file(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is not None:
            self._sites[module] = SourceLocation(os.path.abspath(frame.f_code.co_filename), frame.f_lineno)

    def sites_for(self, model: nn.Module) -> dict[str, SourceLocation]:
        """Module path -> construction site; a module without a record inherits its parent's."""
        sites: dict[str, SourceLocation] = {}
        for path, module in model.named_modules(remove_duplicate=False):
            site = self._sites.get(module)
            if site is None and path:
                parent = path.rpartition(".")[0]
                site = sites.get(parent)
            if site is not None:
                sites[path] = site
        return sites

    # -- init calls ---------------------------------------------------------
    def _log(self, tensor: torch.Tensor) -> _TensorLog | None:
        key = _storage_key(tensor)
        if key is None:
            return None
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _TensorLog([], set())
        return log

    def _forget_if_new(self, result: torch.Tensor, args: tuple) -> None:
        """A freshly allocated tensor may reuse a dead tensor's storage address: drop stale records."""
        key = _storage_key(result)
        if key is None or key not in self._logs:
            return
        for arg in args:
            if isinstance(arg, torch.Tensor) and _storage_key(arg) == key:
                return  # a view of an input, not new storage
        del self._logs[key]

    def _inherit(self, copy: torch.Tensor, source: torch.Tensor) -> None:
        source_key, copy_key = _storage_key(source), _storage_key(copy)
        if source_key is None or copy_key is None or source_key == copy_key:
            return
        source_log = self._logs.get(source_key)
        if source_log is None:
            self._logs.pop(copy_key, None)
        else:
            self._logs[copy_key] = _TensorLog(list(source_log.calls), set())

    def _record_init_function(self, name: str, tensor: torch.Tensor, kwargs: dict[str, Any]) -> None:
        log = self._log(tensor)
        if log is None:
            return
        recorded = {k: _plain(kwargs[k]) for k in _RECORDED_INIT_ARGS if k in kwargs and _plain(kwargs[k]) is not None}
        call = InitCall(name, frozen_mapping(recorded), *_coverage(tensor))
        if call.whole:
            log.calls.clear()
        log.calls.append(call)

    def _record_inplace(self, name: str, tensor: torch.Tensor, args: tuple, kwargs: dict[str, Any]) -> None:
        init_frame = _enclosing_init_frame()
        log = self._log(tensor)
        if log is None:
            return
        if init_frame is not None:
            # Inside an nn.init function that does not dispatch itself (orthogonal_, sparse_, ...):
            # record the init function once, with its arguments, instead of its inner ops.
            if id(init_frame) in log.frames:
                return
            log.frames.add(id(init_frame))
            local = init_frame.f_locals
            recorded = {k: _plain(local[k]) for k in _RECORDED_INIT_ARGS if k in local and _plain(local[k]) is not None}
            call = InitCall(init_frame.f_code.co_name, frozen_mapping(recorded), *_coverage(tensor))
        else:
            call = InitCall(name, frozen_mapping(_op_args(name, args, kwargs)), *_coverage(tensor))
        if call.whole and (name in _DEFINING_OPS or init_frame is not None):
            log.calls.clear()
        log.calls.append(call)

    def _record_init_frame(self, tensor: torch.Tensor) -> None:
        init_frame = _enclosing_init_frame()
        log = self._log(tensor) if init_frame is not None else None
        if init_frame is None or log is None or id(init_frame) in log.frames:
            return
        log.frames.add(id(init_frame))
        local = init_frame.f_locals
        recorded = {k: _plain(local[k]) for k in _RECORDED_INIT_ARGS if k in local and _plain(local[k]) is not None}
        log.calls.clear()
        log.calls.append(InitCall(init_frame.f_code.co_name, frozen_mapping(recorded), *_coverage(tensor)))

    def init_records_for(self, model: nn.Module) -> dict[str, tuple[InitCall, ...]]:
        """Parameter and buffer name -> init calls recorded on its storage, oldest first."""
        records: dict[str, tuple[InitCall, ...]] = {}
        named: Iterator[tuple[str, torch.Tensor]] = _named_tensors(model)
        for name, tensor in named:
            key = _storage_key(tensor)
            log = self._logs.get(key) if key is not None else None
            if log is not None and log.calls:
                records[name] = tuple(_with_coverage(call, tensor) for call in log.calls)
        return records


def _named_tensors(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from model.named_parameters()
    yield from model.named_buffers()


def _coverage(tensor: torch.Tensor) -> tuple[bool, int]:
    # Whole-tensor-ness is settled against the parameter in init_records_for; here the op's
    # own extent is what is known.
    numel = tensor.numel()
    try:
        whole = tensor.untyped_storage().nbytes() == numel * tensor.element_size() and tensor.storage_offset() == 0
    except (RuntimeError, NotImplementedError):
        whole = True
    return whole, numel


def _with_coverage(call: InitCall, tensor: torch.Tensor) -> InitCall:
    if call.whole or call.elements != tensor.numel():
        return call
    return InitCall(call.name, call.args, True, call.elements)


def _enclosing_init_frame() -> types.FrameType | None:
    """The outermost frame of a ``torch.nn.init`` function on the current stack, if any."""
    frame: types.FrameType | None = sys._getframe(1)
    found = None
    while frame is not None:
        if frame.f_code.co_filename == _INIT_FILE and not frame.f_code.co_name.startswith("_"):
            found = frame
        frame = frame.f_back
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALAR_TYPES):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type != "meta":
        return value.item()
    return None


def _op_args(name: str, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    if name == "copy_":
        source = args[0] if args else kwargs.get("src")
        if (
            isinstance(source, torch.Tensor)
            and source.is_floating_point()
            and source.numel() > 1
            and source.device.type != "meta"
        ):
            return {"std": float(source.detach().float().std()), "mean": float(source.detach().float().mean())}
        return {}
    names = {"normal_": ("mean", "std"), "uniform_": ("from", "to"), "fill_": ("value",)}.get(name, ("value",))
    out: dict[str, Any] = {}
    for key, value in zip(names, args):
        plain = _plain(value)
        if plain is not None:
            out[key] = plain
    for key, value in kwargs.items():
        plain = _plain(value)
        if plain is not None and key != "generator":
            out[key] = plain
    if name == "normal_":
        out.setdefault("mean", 0.0)
        out.setdefault("std", 1.0)
    if name == "uniform_":
        out.setdefault("from", 0.0)
        out.setdefault("to", 1.0)
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in out.items()}
