"""Protocol inputs (DESIGN §2 step 2), calling the model, and picking ``y`` (step 3)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from gradlint.errors import GradlintError
from gradlint.trace.shapes import distribution_value, map_tensors


def protocol_inputs(example_inputs: Any, generator: torch.Generator, device: torch.device) -> Any:
    """A copy of ``example_inputs`` with every floating tensor replaced by N(0, 1).

    Same shape and dtype, drawn on the CPU from ``generator`` in depth-first order and then
    moved, so a seed gives the same inputs on every device. Integer and bool tensors are
    kept (copied to ``device``); anything else passes through. The originals are not modified.
    """
    return map_tensors(example_inputs, lambda t: _randomize(t, generator, device))


def to_meta(example_inputs: Any) -> Any:
    """The same structure with every tensor on the meta device (for the memory estimate)."""
    return map_tensors(example_inputs, lambda t: t.to("meta"))


def _randomize(tensor: torch.Tensor, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    if tensor.is_floating_point():
        return torch.randn(tuple(tensor.shape), generator=generator, dtype=tensor.dtype).to(device)
    # A copy even on the same device: a forward that edits its input in place must not reach the user's.
    return tensor.detach().to(device=device, copy=True)


class CallArgs(NamedTuple):
    """Positional and keyword arguments of one forward call, as one value the input walks recurse into."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def call_model(model: nn.Module, inputs: Any) -> Any:
    """``model(*args, **kwargs)`` for ``CallArgs``, ``model(*inputs)`` for a tuple or list, ``model(**inputs)``
    for a mapping, else ``model(inputs)``."""
    if isinstance(inputs, CallArgs):
        return model(*inputs.args, **inputs.kwargs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)) and not hasattr(inputs, "_fields"):
        return model(*inputs)
    return model(inputs)


def first_tensor(output: Any, path: str = "output", *, draw: bool = True) -> tuple[torch.Tensor, str] | None:
    """The first tensor of ``output``, depth first, and where it was found.

    Walks tuples, lists, mappings (``dict``, HF ``ModelOutput``, which skips ``None`` fields)
    and dataclasses in field order; a ``torch.distributions.Distribution`` stands for its
    ``rsample()``, else its ``mean`` (DESIGN §2 step 3); without ``draw`` it is passed over (a
    hook must not draw from the RNG the protocol's forward uses).
    """
    if isinstance(output, torch.Tensor):
        return output, path
    if isinstance(output, torch.distributions.Distribution):
        if not draw:
            return None
        value, spelled = distribution_value(output)
        return value, f"{path}.{spelled}"
    if isinstance(output, Mapping):
        items: list[tuple[str, Any]] = [(f"{path}[{k!r}]", v) for k, v in output.items()]
    elif isinstance(output, (tuple, list)):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(output)]
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        items = [(f"{path}.{f.name}", getattr(output, f.name)) for f in dataclasses.fields(output)]
    else:
        return None
    for sub_path, value in items:
        found = first_tensor(value, sub_path, draw=draw)
        if found is not None:
            return found
    return None


def output_tensor(output: Any) -> tuple[torch.Tensor, str]:
    """``y`` of the protocol: the first tensor, which must be floating point."""
    found = first_tensor(output)
    if found is None:
        raise GradlintError(
            f"the model's output ({type(output).__name__}) holds no tensor; "
            "the probe needs a tensor output (depth first through tuples, lists, dicts, dataclasses, distributions)"
        )
    y, path = found
    if not y.is_floating_point():
        raise GradlintError(
            f"the model's first output tensor ({path}, {str(y.dtype).removeprefix('torch.')}) is not floating point; "
            "the probe needs a real floating-point output to differentiate"
        )
    return y, path


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Every tensor in a (nested) module output, depth first."""
    found: list[torch.Tensor] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            _collect(v, found)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _collect(v, found)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _collect(getattr(value, f.name), found)
