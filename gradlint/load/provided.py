"""Inputs the user gives: ``--inputs`` / ``--input-kwargs`` expressions, and the file's ``example_inputs()`` /
``EXAMPLE_INPUTS`` and ``example_kwargs()`` / ``EXAMPLE_KWARGS``.

All follow ``torch.export``'s ``args`` / ``kwargs`` convention: a tuple is the positional arguments of
``forward``, anything else (a tensor, a list, a dict ...) the one positional argument; keyword arguments
are a dict with string keys. Values nest freely: tensors, tuples, lists, dicts, None, numbers and
strings (``(tokens, model.init_hidden(8))``). The expressions are evaluated in the model file's
namespace, with ``torch``, ``nn`` and ``model`` (the built model) bound as well.
"""

from __future__ import annotations

import inspect
import numbers
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gradlint.errors import InputError
from gradlint.load.importer import ImportPlan, what_failed
from gradlint.types import InputSpec, dtype_name, frozen_mapping

_LEAVES = (torch.Tensor, str, numbers.Number, torch.dtype, torch.device, type(None))


@dataclass(frozen=True)
class Provided:
    """What one source gave: positional arguments, keyword arguments, or both (None: not given here)."""

    args: tuple[Any, ...] | None = None
    kwargs: Mapping[str, Any] | None = None
    args_origin: str = ""
    kwargs_origin: str = ""


def from_expressions(
    inputs: str | None,
    input_kwargs: str | None,
    model: nn.Module,
    module: types.ModuleType | None,
    plan: ImportPlan | None,
) -> Provided:
    """Evaluate ``--inputs`` and ``--input-kwargs``; ``InputError`` (one line) for a bad expression or value."""
    namespace = {**(vars(module) if module is not None else {}), "torch": torch, "nn": nn, "model": model}
    args = kwargs = None
    if inputs is not None:
        args = as_args(_evaluate(inputs, "--inputs", namespace, plan), "--inputs")
    if input_kwargs is not None:
        kwargs = as_kwargs(_evaluate(input_kwargs, "--input-kwargs", namespace, plan), "--input-kwargs")
    return Provided(args, kwargs, "--inputs", "--input-kwargs")


def file_args(model: nn.Module, module: types.ModuleType, plan: ImportPlan) -> Provided:
    """``example_inputs()`` / ``EXAMPLE_INPUTS`` of the file, when it has one."""
    found = _from_file(model, module, plan, "example_inputs", "EXAMPLE_INPUTS")
    if found is None:
        return Provided()
    value, label = found
    return Provided(args=as_args(value, f"{plan.display_path}: {label}"), args_origin=f"{label} in {plan.display_path}")


def file_kwargs(model: nn.Module, module: types.ModuleType, plan: ImportPlan) -> Provided:
    """``example_kwargs()`` / ``EXAMPLE_KWARGS`` of the file, when it has one."""
    found = _from_file(model, module, plan, "example_kwargs", "EXAMPLE_KWARGS")
    if found is None:
        return Provided()
    value, label = found
    kwargs = as_kwargs(value, f"{plan.display_path}: {label}")
    return Provided(kwargs=kwargs, kwargs_origin=f"{label} in {plan.display_path}")


def _from_file(
    model: nn.Module, module: types.ModuleType, plan: ImportPlan, function: str, constant: str
) -> tuple[Any, str] | None:
    """The value of ``function()`` (called with the model when it takes one argument) or of ``constant``."""
    provider = getattr(module, function, None)
    if provider is not None:
        if not callable(provider):
            return provider, function
        return _call_provider(provider, function, model, plan), f"{function}()"
    if hasattr(module, constant):
        return getattr(module, constant), constant
    return None


def as_args(value: Any, where: str) -> tuple[Any, ...]:
    """The positional arguments ``value`` stands for: a tuple is all of them, anything else the one."""
    _check_value(value, where)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return value
    return (value,)


def as_kwargs(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as keyword arguments: a mapping with string keys."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise InputError(f"{where} gave {_kind(value)}; keyword inputs are a dict of names to values")
    _check_value(value, where)
    return frozen_mapping(value)


def input_specs(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], args_origin: str, kwargs_origin: str
) -> tuple[InputSpec, ...]:
    """One ``InputSpec`` per tensor, depth first; nested and keyword tensors are named by where they sit."""
    specs = []
    for index, value in enumerate(args):
        for path, tensor in _tensors(value, f"args[{index}]"):
            name = None if path == f"args[{index}]" else path
            specs.append(InputSpec(tuple(tensor.shape), dtype_name(tensor.dtype), args_origin, name))
    for key, value in kwargs.items():
        for path, tensor in _tensors(value, key):
            specs.append(InputSpec(tuple(tensor.shape), dtype_name(tensor.dtype), kwargs_origin, path))
    return tuple(specs)


def _tensors(value: Any, path: str) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(value, torch.Tensor):
        yield path, value
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from _tensors(item, f"{path}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _tensors(item, f"{path}[{key!r}]")


def _evaluate(expression: str, option: str, namespace: dict[str, Any], plan: ImportPlan | None) -> Any:
    try:
        code = compile(expression.strip(), f"<{option}>", "eval")
    except SyntaxError as exc:
        raise InputError(f"{option} {expression!r}: not a Python expression: {exc.msg}") from None
    try:
        return eval(code, dict(namespace))  # noqa: S307 - evaluating the user's expression is the feature
    except (Exception, SystemExit) as exc:
        if plan is None:
            raise InputError(f"{option} {expression!r} raised {type(exc).__name__}: {exc}") from exc
        raise InputError(f"{option} {expression!r}: {what_failed('evaluating it', exc, plan)}") from exc


def _call_provider(provider: Any, name: str, model: nn.Module, plan: ImportPlan) -> Any:
    try:
        required = [
            p
            for p in inspect.signature(provider).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
    except (TypeError, ValueError):
        required = []
    if len(required) > 1:
        raise InputError(
            f"{plan.display_path}: {name}() takes {len(required)} arguments; it may take none, or one: the model"
        )
    try:
        return provider(model) if required else provider()
    except (Exception, SystemExit) as exc:
        raise InputError(f"{plan.display_path}: {what_failed(f'{name}()', exc, plan)}") from exc


def _check_value(value: Any, where: str) -> None:
    """``InputError`` for a value that is not tensors, tuples, lists, dicts, None, numbers and strings."""
    bad = _first_unsupported(value)
    if bad is not None:
        raise InputError(
            f"{where} holds {_kind(bad)}; inputs are tensors, tuples, lists, dicts, None, numbers and strings"
        )


def _first_unsupported(value: Any) -> Any | None:
    if isinstance(value, _LEAVES):
        return None
    if isinstance(value, (tuple, list)):
        items: Any = value
    elif isinstance(value, Mapping):
        items = value.values()
    else:
        return value
    return next((bad for item in items if (bad := _first_unsupported(item)) is not None), None)


def _kind(value: Any) -> str:
    if isinstance(value, (tuple, list)) and not value:
        return f"an empty {type(value).__name__}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
