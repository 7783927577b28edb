"""The memory guard: estimate what the probe needs before running it, refuse when it cannot fit.

Activations are estimated by counting the bytes of every non-aliasing op output of one
forward pass -- an upper bound on what autograd keeps for the backward pass. That
forward runs on the meta device (free: no data, no compute); a model that needs
real values (``if x.norm() > ...``) falls back to the traced graph's shapes, then to one
no-grad forward on the device, whose peak memory is a few activations, not all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from gradlint.errors import GradlintError
from gradlint.probe.io import CallArgs, to_meta
from gradlint.probe.result import MemoryEstimate
from gradlint.trace.copies import meta_copy
from gradlint.types import ModelGraph

try:  # semi-private, but stable since torch 1.13; without it only the graph estimate is left
    from torch.utils._python_dispatch import TorchDispatchMode
except ImportError:  # pragma: no cover
    TorchDispatchMode = None  # type: ignore[assignment,misc]

_COUNTED_OPS = ("call_module", "call_function", "call_method")


def model_bytes(model: nn.Module) -> int:
    """Parameters and buffers, each tensor once."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def _op_outputs_counter() -> Any:
    class OpOutputBytes(TorchDispatchMode):  # type: ignore[misc,valid-type]
        """Sums the bytes of every op output that is not a view of, or written into, an input."""

        def __init__(self) -> None:
            super().__init__()
            self.bytes = 0

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            outs = out if isinstance(out, (tuple, list)) else (out,)
            for ret, value in zip(func._schema.returns, outs):
                if isinstance(value, torch.Tensor) and ret.alias_info is None:
                    self.bytes += value.numel() * value.element_size()
            return out

    return OpOutputBytes()


def activations_on_meta(model: nn.Module, example_inputs: Any) -> int:
    """Op-output bytes of one forward of a meta copy of ``model`` (the model itself is not run).

    A copy, not ``functional_call`` on the model: a forward that caches a tensor on ``self``
    (``self.src_mask = ...``) would otherwise leave a meta tensor there for the real seeds.
    """
    if TorchDispatchMode is None:  # pragma: no cover
        raise RuntimeError("torch.utils._python_dispatch is not available")
    meta = meta_copy(model)
    counter = _op_outputs_counter()
    with torch.enable_grad(), counter:
        args, kwargs = _split_args(to_meta(example_inputs))
        meta(*args, **kwargs)
    return int(counter.bytes)


def activations_by_forward(run_forward: Callable[[], Any]) -> int:
    """Op-output bytes of one real no-grad forward (``run_forward`` calls the model)."""
    if TorchDispatchMode is None:  # pragma: no cover
        raise RuntimeError("torch.utils._python_dispatch is not available")
    counter = _op_outputs_counter()
    with torch.no_grad(), counter:
        run_forward()
    return int(counter.bytes)


def activations_from_graph(graph: ModelGraph) -> int | None:
    """Bytes of every traced node's output; None when the graph has no shapes."""
    total = 0
    counted = 0
    for node in graph.nodes:
        if node.op not in _COUNTED_OPS or node.shape is None:
            continue
        dtype = getattr(torch, node.dtype or "float32", torch.float32)
        itemsize = dtype.itemsize if isinstance(dtype, torch.dtype) else 4
        total += math.prod(node.shape) * itemsize
        counted += 1
    return total if counted else None


def _split_args(inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # The same calling convention as io.call_model, in functional_call's (args, kwargs) form.
    if isinstance(inputs, CallArgs):
        return tuple(inputs.args), dict(inputs.kwargs)
    if isinstance(inputs, Mapping):
        return (), dict(inputs)
    if isinstance(inputs, (tuple, list)) and not hasattr(inputs, "_fields"):
        return tuple(inputs), {}
    return (inputs,), {}


def check_fits(estimate: MemoryEstimate, device: torch.device) -> None:
    """Raise ``GradlintError`` (one line) when the estimate does not fit in what is available."""
    if estimate.available_bytes is None or estimate.needed_bytes <= estimate.available_bytes:
        return
    other = "--device cpu" if device.type == "cuda" else "--device cuda"
    raise GradlintError(
        f"the probe needs about {_size(estimate.needed_bytes)} on {device} "
        f"(weights, gradients and state {_size(estimate.weights_bytes)}, activations "
        f"{_size(estimate.activations_bytes)}, estimated from {_SOURCES[estimate.source]}) "
        f"but only {_size(estimate.available_bytes)} is available ({estimate.available_source}); "
        f"use a smaller --input-shape (batch size first), {other}, or run without --probe"
    )


_SOURCES = {
    "meta": "a meta-device forward",
    "graph": "the traced shapes",
    "forward": "a no-grad forward",
    "none": "the weights alone",
}


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
