"""Private copies of the user's model, so that nothing gradlint runs touches the original.

The load stage runs them to choose inputs, the trace stage to trace (``gradlint.trace.copies``),
the probe to measure.

``deepcopy`` with a pre-filled memo swaps chosen tensors in without copying them:
a *shared* copy reuses the parameters (read-only under ``no_grad``) and owns cloned
buffers, so a forward in train mode updates BatchNorm statistics on the copy only;
a *meta* copy holds meta tensors of the same shapes and costs no memory; a *full* copy
(the probe's) owns everything.

Two things make a plain ``deepcopy`` fail or lie, and every copy here handles both:

- a tensor attribute that is not a leaf (old-style ``weight_norm`` keeps the computed
  ``weight`` as one) cannot be deep-copied: it is detached first, as the forward recomputes it;
- ``deepcopy`` keeps functions as they are, so a lambda made in ``__init__`` that closes over
  ``self`` or a submodule would make the copy call the user's own layers: such closures are
  rebuilt over the copied objects.

Anything else that still reaches the user's tensors (a module-level global, a bound method of
another object) is caught at run time by :func:`guard_user_state`.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

TensorMap = Callable[[torch.Tensor], object]


def shared_copy(model: nn.Module) -> nn.Module:
    return _copy(model, lambda p: p, lambda b: b.clone(), lambda t: t.detach().clone(), share_uncopyable=True)


def meta_copy(model: nn.Module) -> nn.Module:
    return _copy(
        model,
        lambda p: nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad),
        lambda b: torch.empty_like(b, device="meta"),
        lambda t: torch.empty_like(t, device="meta"),
        share_uncopyable=True,
    )


def full_copy(model: nn.Module) -> nn.Module:
    """A copy that shares no tensor with ``model`` (parameters keep their ``Parameter`` type and ``requires_grad``)."""
    return _copy(
        model,
        lambda p: nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad),
        lambda b: b.detach().clone(),
        lambda t: t.detach().clone(),
    )


def _copy(
    model: nn.Module, params: TensorMap, buffers: TensorMap, attributes: TensorMap, *, share_uncopyable: bool = False
) -> nn.Module:
    """``deepcopy`` with tensors mapped; with ``share_uncopyable``, attributes deepcopy refuses are shared, not copied.

    Sharing is for the tracers' copies (a generator or a file handle the forward does not touch);
    the probe's copy owns everything or is not made.
    """
    try:
        return _copy_once(model, params, buffers, attributes, {})
    except Exception:
        if not share_uncopyable:
            raise
    shared = {id(value): value for module in model.modules() for value in _uncopyable(module)}
    return _copy_once(model, params, buffers, attributes, shared)


def _uncopyable(module: nn.Module) -> Iterator[object]:
    for value in vars(module).values():
        if isinstance(value, (torch.Tensor, nn.Module, dict)):
            continue
        try:
            copy.deepcopy(value)
        except Exception:  # noqa: BLE001 - whatever deepcopy refuses is shared
            yield value


def _copy_once(
    model: nn.Module, params: TensorMap, buffers: TensorMap, attributes: TensorMap, memo: dict[int, object]
) -> nn.Module:
    for p in model.parameters():
        memo.setdefault(id(p), params(p))
    for b in model.buffers():
        memo.setdefault(id(b), buffers(b))
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, torch.Tensor) and id(value) not in memo:
                memo[id(value)] = attributes(value)
    copied = copy.deepcopy(model, memo)
    _rebind_closures(copied, memo)
    return copied


def _rebind_closures(copied: nn.Module, memo: dict[int, object]) -> None:
    """Point functions held by the copy's modules (attributes, hooks) at the copied objects they close over."""
    for module in copied.modules():
        attributes = vars(module)
        for key, value in list(attributes.items()):
            if isinstance(value, types.FunctionType):
                attributes[key] = _rebound(value, memo)
            elif isinstance(value, dict) and key.endswith("hooks"):
                for hook_id, hook in list(value.items()):
                    if isinstance(hook, types.FunctionType):
                        value[hook_id] = _rebound(hook, memo)


def _rebound(function: types.FunctionType, memo: dict[int, object]) -> types.FunctionType:
    cells = function.__closure__
    if not cells:
        return function
    contents = []
    changed = False
    for cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:  # a cell not filled yet
            contents.append(cell)
            continue
        replacement = memo.get(id(value), value)
        changed = changed or replacement is not value
        contents.append(types.CellType(replacement))
    if not changed:
        return function
    rebuilt = types.FunctionType(
        function.__code__, function.__globals__, function.__name__, function.__defaults__, tuple(contents)
    )
    rebuilt.__kwdefaults__ = function.__kwdefaults__
    rebuilt.__dict__.update(function.__dict__)
    return rebuilt


def _tensors_in(value: object) -> Iterator[torch.Tensor]:
    """The tensors among an op's arguments (nested in tuples, lists and dicts)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)


class SharesUserState(Exception):
    """A private copy's forward reached a parameter or buffer of the user's own model."""


def user_state_ids(model: nn.Module) -> frozenset[int]:
    return frozenset(id(t) for t in (*model.parameters(), *model.buffers()))


class _UserStateGuard(TorchFunctionMode):
    def __init__(self, forbidden: frozenset[int], names: dict[int, str]) -> None:
        super().__init__()
        self.forbidden = forbidden
        self.names = names

    def __torch_function__(self, func: Any, types_: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        for tensor in _tensors_in((args, kwargs)):
            if id(tensor) in self.forbidden:
                # raised before the op runs: the user's tensor is neither updated nor put in a graph
                raise SharesUserState(
                    f"the copy's forward reads {self.names.get(id(tensor), 'a tensor')} of the original model"
                )
        return func(*args, **kwargs)


@contextmanager
def guard_user_state(model: nn.Module) -> Iterator[None]:
    """While active, any torch op that reads one of ``model``'s parameters or buffers raises ``SharesUserState``.

    Wrap a forward of a private copy in it: a copy that reaches the user's tensors (a closure or a global
    that deepcopy kept pointing at the original) is found before the op writes anything or records a gradient.
    """
    names = {id(t): name for name, t in (*model.named_parameters(), *model.named_buffers())}
    with _UserStateGuard(user_state_ids(model), names):
        yield
