"""Reading shapes out of whatever a forward returns, and reporting where a forward failed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from gradlint.trace.locations import user_frame
from gradlint.types import SourceLocation, dtype_name


class ForwardFailure(Exception):
    """The model's forward raised on the example inputs; remembers the layer it was in."""

    def __init__(self, error: BaseException, module: str, stack_trace: str | None = None) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.module = module
        self.location: SourceLocation | None = user_frame(stack_trace)


def iter_tensors(value: Any) -> Iterator[torch.Tensor]:
    """Tensors in a (nested) output, depth first: tuples, lists, dicts, HF ModelOutput, dataclass-like objects."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from iter_tensors(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from iter_tensors(item)
    elif hasattr(value, "__dataclass_fields__"):
        for key in value.__dataclass_fields__:
            yield from iter_tensors(getattr(value, key, None))


def first_tensor_meta(value: Any) -> tuple[tuple[int, ...] | None, str | None]:
    for tensor in iter_tensors(value):
        try:
            return tuple(int(d) for d in tensor.shape), dtype_name(tensor.dtype)
        except (TypeError, RuntimeError):  # symbolic sizes
            return None, dtype_name(tensor.dtype)
    return None, None
