"""Example inputs for a loaded model.

Positional inputs, by precedence: ``--inputs EXPR`` > ``--input-shape`` (with ``--input-dtype``) >
the file's ``example_inputs()`` or ``EXAMPLE_INPUTS`` > none when keyword inputs were given > inferred
(see ``inference``: candidates from the model's layers, checked by forwards on a meta copy). Keyword
inputs: ``--input-kwargs EXPR`` > the file's ``example_kwargs()`` or ``EXAMPLE_KWARGS`` > none (see
``provided`` for the conventions). Inputs the user gave are not checked here: whether they fit the
model is the trace stage's business.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from gradlint.errors import InputError, UsageError
from gradlint.load.importer import ImportPlan, plan_for_module
from gradlint.load.inference import DEFAULT_INT_HIGH, Arg, Draw, first_guess, first_layer, search
from gradlint.load.provided import Provided, file_args, file_kwargs, from_expressions, input_specs
from gradlint.types import InputSpec, frozen_mapping

_SEED = 0


class ResolvedInputs(NamedTuple):
    """Example inputs and their descriptions; unpacks as ``values, specs, kwargs``."""

    values: tuple[Any, ...]
    specs: tuple[InputSpec, ...]
    kwargs: Mapping[str, Any] = frozen_mapping()
    """Keyword arguments of ``forward``."""


def parse_dtype(text: str) -> torch.dtype:
    """``"float32"``, ``"torch.int64"``, ``"long"`` ... -> ``torch.dtype``; ``UsageError`` otherwise."""
    value = getattr(torch, text.strip().removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise UsageError(
            f"--input-dtype {text!r} is not a torch dtype; use float32, float16, bfloat16, float64, int64, int32 or bool"
        )
    return value


def resolve_inputs(
    model: nn.Module,
    module: types.ModuleType | None,
    target: str,
    input_shapes: Sequence[tuple[int, ...]] = (),
    input_dtype: str = "float32",
    batch_size: int = 8,
    *,
    plan: ImportPlan | None = None,
    inputs: str | None = None,
    input_kwargs: str | None = None,
) -> ResolvedInputs:
    """Example inputs for ``model``, in the precedence above.

    ``module`` is the model's file (None for a model object with no file: the file
    stage is skipped); ``plan`` says how its path is shown, by default relative to the
    working directory. ``target`` names the model in messages. ``inputs`` / ``input_kwargs``
    are the ``--inputs`` / ``--input-kwargs`` expressions. Raises ``InputError`` when the
    given inputs are malformed or nothing fits, ``UsageError`` for a bad ``input_dtype`` or
    shape, or for ``inputs`` together with ``input_shapes``.
    """
    if inputs is not None and input_shapes:
        raise UsageError("--inputs and --input-shape both give the positional inputs; drop one of them")
    if module is not None and plan is None:
        plan = plan_for_module(module)
    expressions = inputs is not None or input_kwargs is not None
    given = from_expressions(inputs, input_kwargs, model, module, plan) if expressions else Provided()
    in_file = module is not None and plan is not None
    kwargs, kwargs_origin = given.kwargs, given.kwargs_origin
    if kwargs is None and in_file:
        from_module = file_kwargs(model, module, plan)
        kwargs, kwargs_origin = from_module.kwargs, from_module.kwargs_origin
    kwargs = kwargs or frozen_mapping()
    from_module = file_args(model, module, plan) if given.args is None and not input_shapes and in_file else Provided()
    if given.args is not None:
        args, args_origin = given.args, given.args_origin
    elif input_shapes:
        args, args_origin = _from_shapes(model, input_shapes, parse_dtype(input_dtype)).values, "--input-shape"
    elif from_module.args is not None:
        args, args_origin = from_module.args, from_module.args_origin
    elif kwargs:
        args, args_origin = (), ""
    else:
        return infer_inputs(model, batch_size, target=target)
    specs = input_specs(args, kwargs, args_origin, kwargs_origin)
    if not specs:
        where = args_origin or kwargs_origin
        raise InputError(f"{target}: the inputs from {where} hold no tensor; a model is linted on tensor inputs")
    return ResolvedInputs(args, specs, kwargs)


# -- --input-shape -----------------------------------------------------------------------------


def _from_shapes(model: nn.Module, shapes: Sequence[tuple[int, ...]], dtype: torch.dtype) -> ResolvedInputs:
    high = DEFAULT_INT_HIGH
    layer = first_layer(model)
    if layer is not None and isinstance(layer[1], (nn.Embedding, nn.EmbeddingBag)):
        high = layer[1].num_embeddings  # token ids must index the embedding table
    draws = []
    for shape in shapes:
        if any(not isinstance(size, int) or size <= 0 for size in shape):
            raise UsageError(f"--input-shape {','.join(map(str, shape))}: every size must be a positive integer")
        draws.append(Draw(tuple(shape), dtype, high))
    return _materialise(model, draws, "--input-shape")


# -- inference -----------------------------------------------------------------------------------


def infer_inputs(model: nn.Module, batch_size: int = 8, *, target: str = "model") -> ResolvedInputs:
    """Inputs that fit the model, found as ``inference`` describes; ``InputError`` naming ``target`` when none does.

    When no candidate runs on the meta device (a forward that reads values, a model that cannot
    be copied), the first layer's likeliest input is used unchecked, and the origin says so.
    """
    found = search(model, batch_size)
    if found is not None:
        return _materialise(model, found.args, found.origin)
    layer = first_layer(model)
    draws = first_guess(layer[1], batch_size) if layer is not None else None
    if layer is None or draws is None:
        raise InputError(
            f"{target}: cannot infer example inputs ({_first_layer_text(model, layer)}); "
            "define example_inputs() or EXAMPLE_INPUTS in the file, or pass --input-shape 8,3,32,32"
        )
    name, module = layer
    origin = f"inferred from first layer {name or '<model>'} ({type(module).__name__}), unchecked: no candidate ran on the meta device"
    return _materialise(model, draws, origin)


def _first_layer_text(model: nn.Module, found: tuple[str, nn.Module] | None) -> str:
    if found is not None:
        return f"first layer is {type(found[1]).__name__}, whose input size is not known yet"
    for _, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            return f"first layer is {type(module).__name__}"
    return "the model has no layer with parameters"


# -- tensors -----------------------------------------------------------------------------------


def _materialise(model: nn.Module, args: Sequence[Arg], origin: str) -> ResolvedInputs:
    generator = torch.Generator().manual_seed(_SEED)  # the same inputs on every run
    device = _model_device(model)
    values = tuple(_value(a, generator, device) for a in args)
    return ResolvedInputs(values, input_specs(values, {}, origin, ""))


def _value(arg: Arg, generator: torch.Generator, device: torch.device) -> Any:
    if arg is None:
        return None
    if isinstance(arg, Draw):
        return _draw(arg, generator, device)
    return tuple(_value(a, generator, device) for a in arg)  # an LSTM's (h, c)


def _draw(draw: Draw, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    if device.type == "meta":
        return torch.empty(draw.shape, dtype=draw.dtype, device=device)
    if draw.dtype.is_floating_point or draw.dtype.is_complex:
        value = torch.randn(draw.shape, generator=generator).to(draw.dtype)
    elif draw.dtype == torch.bool:
        value = torch.randint(0, 2, draw.shape, generator=generator).bool()
    else:
        value = torch.randint(0, draw.high, draw.shape, generator=generator).to(draw.dtype)
    return value.to(device)


def _model_device(model: nn.Module) -> torch.device:
    for tensors in (model.parameters(), model.buffers()):
        for tensor in tensors:
            return tensor.device
    return torch.device("cpu")
