"""Last resort: run one real forward on a private copy and watch it.

Forward hooks on the copy's layers record module calls; a ``TorchFunctionMode`` records
the functional ops between them (``torch.relu``, ``x + y``, ``x @ w``), so activations and
residual adds are still seen. Data flow is followed by tensor identity. This follows any
Python control flow, at the cost of a real forward and of keeping its activations alive.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gradlint.trace import ops
from gradlint.trace.builder import RawOp
from gradlint.trace.copies import shared_copy
from gradlint.trace.shapes import ForwardFailure, first_tensor_meta, iter_tensors

_IGNORED = frozenset({"__get__", "__set__", "__len__", "__bool__", "__index__", "__format__", "__repr__", "__hash__"})


class _Watcher(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.raw: list[RawOp] = []
        self.producer: dict[int, str] = {}
        self.alive: list[torch.Tensor] = []  # keeps ids unique while the forward runs
        self.module_stack: list[str] = []
        self.leaf_depth = 0
        self.pending_inputs: tuple[str, ...] = ()
        """Inputs of the outermost layer call in progress."""

    def refs(self, value: Any) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.producer[id(t)] for t in iter_tensors(value) if id(t) in self.producer))

    def produced(self, name: str, value: Any) -> None:
        for tensor in iter_tensors(value):
            self.producer[id(tensor)] = name
            self.alive.append(tensor)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = ops.canonical_function_name(func)
        if self.leaf_depth or name in _IGNORED or next(iter_tensors(result), None) is None:
            return result
        op_name = f"{name}_{len(self.raw)}"
        shape, dtype = first_tensor_meta(result)
        stack = "".join(traceback.format_stack(limit=12))
        enclosing = self.module_stack[-1] if self.module_stack else ""
        inputs = self.refs((args, kwargs))
        self.raw.append(RawOp(op_name, "call_function", name, inputs, enclosing, shape, dtype, stack, ops.scalar_args(args, kwargs)))
        self.produced(op_name, result)
        return result


def trace_hooks(model: nn.Module, example_inputs: Sequence[Any]) -> list[RawOp]:
    copy = shared_copy(model)
    watcher = _Watcher()
    leaves = {path for path, m in copy.named_modules() if path and ops.is_layer(m)}
    handles = []
    calls: dict[str, int] = {}

    def enter(path: str) -> Any:
        def hook(module: nn.Module, args: tuple) -> None:
            watcher.module_stack.append(path)
            if path in leaves:
                if watcher.leaf_depth == 0:
                    watcher.pending_inputs = watcher.refs(args)
                watcher.leaf_depth += 1

        return hook

    def leave(path: str) -> Any:
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            watcher.module_stack.pop()
            if path in leaves:
                watcher.leaf_depth -= 1
                if watcher.leaf_depth == 0:
                    index = calls.get(path, 0)
                    calls[path] = index + 1
                    name = path.replace(".", "_") + (f"_{index}" if index else "")
                    shape, dtype = first_tensor_meta(output)
                    watcher.raw.append(RawOp(name, "call_module", path, watcher.pending_inputs, path, shape, dtype))
                    watcher.produced(name, output)

        return hook

    for path, module in copy.named_modules():
        if path:
            handles.append(module.register_forward_pre_hook(enter(path)))
            handles.append(module.register_forward_hook(leave(path), always_call=True))
    for index, value in enumerate(example_inputs):
        shape, dtype = first_tensor_meta(value)
        watcher.raw.append(RawOp(f"input_{index}", "placeholder", "placeholder", (), None, shape, dtype))
        watcher.produced(f"input_{index}", value)
    try:
        with torch.no_grad(), torch.random.fork_rng(), watcher:
            output = copy(*example_inputs)
    except Exception as exc:  # the user's forward: any exception type is possible
        where = watcher.module_stack[-1] if watcher.module_stack else ""
        raise ForwardFailure(exc, where, "".join(traceback.format_tb(exc.__traceback__))) from exc
    finally:
        for handle in handles:
            handle.remove()
    watcher.raw.append(RawOp("output", "output", "output", watcher.refs(output)))
    return watcher.raw
