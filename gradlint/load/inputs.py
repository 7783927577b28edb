"""Example inputs for a loaded model.

Precedence: ``--input-shape`` (with ``--input-dtype``) > the file's ``example_inputs()``
or ``EXAMPLE_INPUTS`` > inferred (see ``inference``: candidates from the model's layers,
checked by forwards on a meta copy). Inputs the user gave are not checked here: whether
they fit the model is the trace stage's business.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from gradlint.errors import InputError, UsageError
from gradlint.load.importer import ImportPlan, describe_exception, plan_for_module
from gradlint.load.inference import DEFAULT_INT_HIGH, Arg, Draw, first_guess, first_layer, search
from gradlint.types import InputSpec, dtype_name

_SEED = 0


class ResolvedInputs(NamedTuple):
    """Example inputs and their descriptions; unpacks as ``values, specs``."""

    values: tuple[Any, ...]
    specs: tuple[InputSpec, ...]


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
) -> ResolvedInputs:
    """Example inputs for ``model``, in the precedence above.

    ``module`` is the model's file (None for a model object with no file: the file
    stage is skipped); ``plan`` says how its path is shown, by default relative to the
    working directory. ``target`` names the model in messages. Raises ``InputError``
    when the file's inputs are malformed or nothing fits, ``UsageError`` for a bad
    ``input_dtype`` or shape.
    """
    if input_shapes:
        return _from_shapes(model, input_shapes, parse_dtype(input_dtype))
    if module is not None:
        from_file = _from_file(model, module, plan or plan_for_module(module))
        if from_file is not None:
            return from_file
    return infer_inputs(model, batch_size, target=target)


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


# -- example_inputs() / EXAMPLE_INPUTS ---------------------------------------------------------


def _from_file(model: nn.Module, module: types.ModuleType, plan: ImportPlan) -> ResolvedInputs | None:
    provider = getattr(module, "example_inputs", None)
    if provider is not None:
        if not callable(provider):
            return _from_value(provider, plan, "example_inputs")
        return _from_value(_call_provider(provider, model, plan), plan, "example_inputs()")
    if hasattr(module, "EXAMPLE_INPUTS"):
        return _from_value(module.EXAMPLE_INPUTS, plan, "EXAMPLE_INPUTS")
    return None


def _call_provider(provider: Any, model: nn.Module, plan: ImportPlan) -> Any:
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
            f"{plan.display_path}: example_inputs() takes {len(required)} arguments; it may take none, or one: the model"
        )
    try:
        return provider(model) if required else provider()
    except (Exception, SystemExit) as exc:
        raise InputError(f"{plan.display_path}: example_inputs() raised {describe_exception(exc, plan)}") from exc


def _from_value(value: Any, plan: ImportPlan, label: str) -> ResolvedInputs:
    tensors = (value,) if isinstance(value, torch.Tensor) else value
    if (
        not isinstance(tensors, (tuple, list))
        or not tensors
        or not all(isinstance(item, torch.Tensor) for item in tensors)
    ):
        verb = "returned" if label.endswith("()") else "is"
        raise InputError(
            f"{plan.display_path}: {label} {verb} {_describe(value)}; expected a tensor or a non-empty tuple "
            "of tensors (the positional arguments of forward)"
        )
    values = tuple(tensors)
    origin = f"{label} in {plan.display_path}"
    return ResolvedInputs(values, tuple(InputSpec(tuple(t.shape), dtype_name(t.dtype), origin) for t in values))


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        if not value:
            return f"an empty {type(value).__name__}"
        kinds = sorted({type(item).__name__ for item in value if not isinstance(item, torch.Tensor)})
        return f"a {type(value).__name__} holding {', '.join(kinds)}"
    return f"a {type(value).__name__}"


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
    specs = tuple(InputSpec(tuple(t.shape), dtype_name(t.dtype), origin) for t in _leaves(values))
    return ResolvedInputs(values, specs)


def _value(arg: Arg, generator: torch.Generator, device: torch.device) -> Any:
    if arg is None:
        return None
    if isinstance(arg, Draw):
        return _draw(arg, generator, device)
    return tuple(_value(a, generator, device) for a in arg)  # an LSTM's (h, c)


def _leaves(values: Sequence[Any]) -> list[torch.Tensor]:
    return [t for v in values if v is not None for t in ([v] if isinstance(v, torch.Tensor) else _leaves(v))]


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
