"""Example inputs for a loaded model.

Precedence: ``--input-shape`` (with ``--input-dtype``) > the file's ``example_inputs()``
or ``EXAMPLE_INPUTS`` > inferred from the model's first layer in registration order.
Whether the inputs fit the model is the trace stage's business: nothing here runs
the model's ``forward``.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from gradlint.errors import InputError, UsageError
from gradlint.load.importer import ImportPlan, describe_exception, plan_for_module
from gradlint.types import InputSpec, dtype_name

#: Sequence length for token ids and recurrent inputs, spatial sizes for convolutions.
SEQUENCE_LENGTH = 32
CONV_SPATIAL = {1: (64,), 2: (32, 32), 3: (16, 16, 16)}

# Integers drawn for --input-shape with an integer dtype, unless the first layer is an
# embedding: 0 and 1 are valid class indices, token ids and masks for nearly any model.
_DEFAULT_INT_HIGH = 2
_SEED = 0


class ResolvedInputs(NamedTuple):
    """Example inputs and their descriptions; unpacks as ``values, specs``."""

    values: tuple[Any, ...]
    specs: tuple[InputSpec, ...]


@dataclass(frozen=True)
class _Draw:
    """One input to draw: a float tensor, or integers in ``[0, high)``."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    high: int = _DEFAULT_INT_HIGH


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
    high = _DEFAULT_INT_HIGH
    layer = first_layer(model)
    if layer is not None and isinstance(layer[1], (nn.Embedding, nn.EmbeddingBag)):
        high = layer[1].num_embeddings  # token ids must index the embedding table
    draws = []
    for shape in shapes:
        if any(not isinstance(size, int) or size <= 0 for size in shape):
            raise UsageError(f"--input-shape {','.join(map(str, shape))}: every size must be a positive integer")
        draws.append(_Draw(tuple(shape), dtype, high))
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


# -- inference from the first layer ------------------------------------------------------------


def first_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The first module in registration order whose input layout is known, with its path."""
    for name, module in model.named_modules():
        if _is_input_layer(module):
            return name, module
    return None


def _is_input_layer(module: nn.Module) -> bool:
    return isinstance(
        module,
        (nn.Linear, nn.Bilinear, nn.Embedding, nn.EmbeddingBag, nn.RNNBase, nn.modules.conv._ConvNd),
    ) or _is_hf_conv1d(module)


def _is_hf_conv1d(module: nn.Module) -> bool:
    # transformers' Conv1D (GPT-2): a Linear with a transposed (nx, nf) weight; recognised by
    # its attributes so that transformers need not be imported.
    weight = getattr(module, "weight", None)
    return (
        isinstance(weight, torch.Tensor)
        and weight.dim() == 2
        and isinstance(getattr(module, "nf", None), int)
        and isinstance(getattr(module, "nx", None), int)
    )


def infer_inputs(model: nn.Module, batch_size: int = 8, *, target: str = "model") -> ResolvedInputs:
    """Inputs shaped for the model's first layer; ``InputError`` naming ``target`` when none fits."""
    found = first_layer(model)
    draws = _draws_for(found[1], batch_size) if found is not None else None
    if found is None or draws is None:
        raise InputError(
            f"{target}: cannot infer example inputs ({_first_layer_text(model, found)}); "
            "define example_inputs() or EXAMPLE_INPUTS in the file, or pass --input-shape 8,3,32,32"
        )
    name, layer = found
    return _materialise(model, draws, f"inferred from first layer {name or '<model>'} ({type(layer).__name__})")


def _draws_for(layer: nn.Module, batch: int) -> list[_Draw] | None:
    """The inputs ``layer`` expects, or None when its sizes are not known yet (lazy modules)."""
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in layer.parameters(recurse=False)):
        return None
    dtype = _float_dtype(layer)
    if isinstance(layer, (nn.Embedding, nn.EmbeddingBag)):
        return [_Draw((batch, SEQUENCE_LENGTH), torch.int64, layer.num_embeddings)]
    if isinstance(layer, nn.RNNBase):
        shape = (batch, SEQUENCE_LENGTH) if layer.batch_first else (SEQUENCE_LENGTH, batch)
        return [_Draw((*shape, layer.input_size), dtype)]
    if isinstance(layer, nn.modules.conv._ConvNd):
        spatial = CONV_SPATIAL.get(len(layer.kernel_size))
        return None if spatial is None else [_Draw((batch, layer.in_channels, *spatial), dtype)]
    if isinstance(layer, nn.Bilinear):
        return [_Draw((batch, layer.in1_features), dtype), _Draw((batch, layer.in2_features), dtype)]
    if isinstance(layer, nn.Linear):
        return [_Draw((batch, layer.in_features), dtype)]
    if _is_hf_conv1d(layer):
        return [_Draw((batch, int(layer.nx)), dtype)]
    return None


def _float_dtype(layer: nn.Module) -> torch.dtype:
    # A float64 model gets float64 inputs; integer or quantised weights fall back to float32.
    for parameter in layer.parameters(recurse=False):
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def _first_layer_text(model: nn.Module, found: tuple[str, nn.Module] | None) -> str:
    if found is not None:
        return f"first layer is {type(found[1]).__name__}, whose input size is not known yet"
    for _, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            return f"first layer is {type(module).__name__}"
    return "the model has no layer with parameters"


# -- tensors -----------------------------------------------------------------------------------


def _materialise(model: nn.Module, draws: Sequence[_Draw], origin: str) -> ResolvedInputs:
    generator = torch.Generator().manual_seed(_SEED)  # the same inputs on every run
    device = _model_device(model)
    values = tuple(_draw(d, generator, device) for d in draws)
    specs = tuple(InputSpec(tuple(v.shape), dtype_name(v.dtype), origin) for v in values)
    return ResolvedInputs(values, specs)


def _draw(draw: _Draw, generator: torch.Generator, device: torch.device) -> torch.Tensor:
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
