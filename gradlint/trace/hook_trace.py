"""Last resort: run one real forward on a private copy and watch it.

Forward hooks on the copy's layers record module calls; a ``TorchFunctionMode`` records
the functional ops between them (``torch.relu``, ``x + y``, ``x @ w``), so activations and
residual adds are still seen. Data flow is followed by tensor identity; a parameter or buffer
that a functional op reads outside a layer (Mamba's ``A_log``, a LayerScale ``gamma``) becomes a
``get_attr`` op where it is first read, as in fx and export graphs. This follows any Python
control flow, at the cost of a real forward and of keeping its activations alive.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gradlint.trace import ops
from gradlint.trace.builder import RawOp, safe_node_name
from gradlint.trace.copies import shared_copy
from gradlint.trace.shapes import ForwardFailure, first_tensor_meta, iter_tensors, map_tensors, resolve_distributions

_IGNORED = frozenset({"__get__", "__set__", "__len__", "__bool__", "__index__", "__format__", "__repr__", "__hash__"})


def _stack_text(limit: int = 12) -> str:
    """The calling frames as ``format_stack`` spells them (outermost first), without their source lines.

    ``builder`` reads only the files and line numbers; ``format_stack`` also reads every line's source,
    which made it most of the tracer's time (GPT-2: 0.14 s of 0.28).
    """
    frames = []
    frame = sys._getframe(2)  # the op's caller, above this helper and the watcher
    while frame is not None and len(frames) < limit:
        frames.append(f'  File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}\n')
        frame = frame.f_back
    return "".join(reversed(frames))


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
        self.state: dict[int, tuple[str, torch.Tensor]] = {}
        """The copy's parameters and buffers by identity, with their qualified names."""

    def watch_state(self, model: nn.Module) -> None:
        for name, tensor in (*model.named_parameters(), *model.named_buffers()):
            self.state.setdefault(id(tensor), (name, tensor))

    def refs(self, value: Any) -> tuple[str, ...]:
        names: list[str] = []
        for tensor in iter_tensors(value):
            key = id(tensor)
            if key not in self.producer and key in self.state:
                self.read_state(key)
            if key in self.producer:
                names.append(self.producer[key])
        return tuple(dict.fromkeys(names))

    def read_state(self, key: int) -> None:
        qualified, tensor = self.state.pop(key)
        shape, dtype = first_tensor_meta(tensor)
        name = "state_" + safe_node_name(qualified.replace(".", "_"))  # apart from layer-call names
        self.raw.append(RawOp(name, "get_attr", qualified, (), None, shape, dtype))
        self.produced(name, tensor)

    def produced(self, name: str, value: Any) -> None:
        for tensor in iter_tensors(value):
            self.producer[id(tensor)] = name
            self.alive.append(tensor)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = ops.canonical_function_name(func)
        if self.leaf_depth or name in _IGNORED:
            return result
        if name == "__setitem__" and args and isinstance(args[0], torch.Tensor):
            self.record_assignment(args[0], args[2] if len(args) > 2 else None)
            return result
        if next(iter_tensors(result), None) is None:
            return result
        op_name = f"{name}_{len(self.raw)}"
        shape, dtype = first_tensor_meta(result)
        stack = _stack_text()
        enclosing = self.module_stack[-1] if self.module_stack else ""
        if name == "broadcast_tensors" and len(result) == len(args):
            # each part is its own input expanded (``Normal(loc, scale)`` broadcasts the two): recorded
            # as one op of all inputs, each part's gradient would reach every input
            for item, source in zip(result, args):
                part = f"expand_{len(self.raw)}"
                shape, dtype = first_tensor_meta(item)
                self.raw.append(
                    RawOp(part, "call_function", "expand", self.refs(source), enclosing, shape, dtype, stack)
                )
                self.produced(part, item)
            return result
        inputs = self.refs((args, kwargs))
        self.raw.append(
            RawOp(op_name, "call_function", name, inputs, enclosing, shape, dtype, stack, ops.scalar_args(args, kwargs))
        )
        self.produced(op_name, result)
        if (
            isinstance(result, tuple | list)
            and len(result) > 1
            and all(isinstance(item, torch.Tensor) for item in result)
        ):
            # ``q, k, v = qkv.unbind(0)``: Python unpacks the tuple unseen, so each part gets the
            # ``getitem`` an fx or export graph has; else q, k and v would be one value to their consumers.
            for index, item in enumerate(result):
                part = f"getitem_{len(self.raw)}"
                shape, dtype = first_tensor_meta(item)
                attrs = ops.scalar_args((None, index), {})
                self.raw.append(
                    RawOp(part, "call_function", "getitem", (op_name,), enclosing, shape, dtype, stack, attrs)
                )
                self.produced(part, item)
        return result

    def record_assignment(self, target: torch.Tensor, value: Any) -> None:
        """``x[index] = value`` returns nothing but changes ``x``: later reads of ``x`` read this op.

        Its inputs are ``x`` and the value (not the index, so a boolean mask is not taken for the source).
        """
        op_name = f"setitem_{len(self.raw)}"
        destination = self.refs(target)
        inputs = destination + tuple(r for r in self.refs(value) if r not in destination)
        shape, dtype = first_tensor_meta(target)
        stack = _stack_text()
        enclosing = self.module_stack[-1] if self.module_stack else ""
        self.raw.append(RawOp(op_name, "call_function", "setitem", inputs, enclosing, shape, dtype, stack))
        self.produced(op_name, target)


def trace_hooks(
    model: nn.Module, example_inputs: Sequence[Any], example_kwargs: Mapping[str, Any] | None = None
) -> list[RawOp]:
    copy = shared_copy(model)
    watcher = _Watcher()
    watcher.watch_state(copy)
    leaves = {path for path, m in copy.named_modules() if path and ops.is_layer(m)}
    handles = []
    calls: dict[str, int] = {}
    failed_in: list[str | None] = [None]

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
            # always_call runs this hook while an exception leaves the module, innermost module first
            failing = output is None and sys.exc_info()[1] is not None
            if failing and failed_in[0] is None:
                failed_in[0] = path
            watcher.module_stack.pop()
            if path in leaves:
                watcher.leaf_depth -= 1
                if watcher.leaf_depth == 0 and not failing:
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
    # the forward may change its inputs in place (``x.mul_(scale)``): the caller's are read again by the probe
    example_inputs = [map_tensors(value, torch.Tensor.clone) for value in example_inputs]
    kwargs = {key: map_tensors(value, torch.Tensor.clone) for key, value in (example_kwargs or {}).items()}
    for label, value in [*enumerate(example_inputs), *kwargs.items()]:
        shape, dtype = first_tensor_meta(value)
        watcher.raw.append(RawOp(f"input_{label}", "placeholder", "placeholder", (), None, shape, dtype))
        watcher.produced(f"input_{label}", value)
    try:
        with torch.no_grad(), torch.random.fork_rng(), watcher:
            # a Distribution is read as the probe reads it, and the draw is recorded like any op
            output = resolve_distributions(copy(*example_inputs, **kwargs))
    except Exception as exc:  # the user's forward: any exception type is possible
        where = failed_in[0] or (watcher.module_stack[-1] if watcher.module_stack else "")
        at_inputs = not any(op.op == "call_module" for op in watcher.raw)
        stack = "".join(traceback.format_tb(exc.__traceback__))
        raise ForwardFailure(exc, where, stack, at_inputs=at_inputs) from exc
    finally:
        for handle in handles:
            handle.remove()
    watcher.raw.append(RawOp("output", "output", "output", watcher.refs(output)))
    return watcher.raw
