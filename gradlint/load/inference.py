"""Infer example inputs for a model from its layers, checked by forward passes on a meta copy.

The guess of the first layer in registration order is often wrong: ``nn.Transformer``
registers an ``out_proj`` before anything that runs first, a ViT's first Linear sits behind an
einops ``Rearrange`` that wants an image, a model's ``forward`` may want a hidden state or a
timestep as well. So candidates are drawn up from every layer whose input layout is known
(and from common image and token shapes), each is run through a copy of the model on the meta
device (no memory, no arithmetic), and the first that runs wins; hooks on the copy record
which layer ran first, so the phrase names the first layer in execution order. A candidate
whose output is far larger than its input (a generator turning a 32×32 "latent" into 560×560
pixels) runs but is only taken when no plausible one does, and then says so.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import torch
from torch import nn

from gradlint.load.copies import meta_copy, shared_copy

#: Sequence length for token ids and recurrent inputs, spatial sizes for convolutions (the first guesses).
SEQUENCE_LENGTH = 32
CONV_SPATIAL = {1: (64,), 2: (32, 32), 3: (16, 16, 16)}

#: What the search tries next, in order: image sides, channel counts, sequence lengths.
IMAGE_SIZES = (32, 28, 64, 224, 256, 128, 96, 16, 8, 512)
IMAGE_CHANNELS = (3, 1, 4)
SEQUENCE_LENGTHS = (32, 16, 8, 64, 128, 256, 1024, 1)
VOLUME_SIZES = (16, 8, 32, 64)

#: At most this many forwards on the meta device before giving up.
MAX_ATTEMPTS = 120

#: When nothing runs on the meta device (a forward that reads values), this many candidates run for real.
REAL_ATTEMPTS = 8

#: An output side more than this many times the largest input side is implausible (unless the input is a 1×1 latent).
MAX_GROWTH = 4

# Integers drawn for --input-shape with an integer dtype, unless the first layer is an
# embedding: 0 and 1 are valid class indices, token ids, timesteps and masks for nearly any model.
DEFAULT_INT_HIGH = 2


@dataclass(frozen=True)
class Draw:
    """One input tensor to draw: floats, or integers in ``[0, high)``."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    high: int = DEFAULT_INT_HIGH


#: One positional argument: a tensor, a tuple of them (an LSTM's ``(h, c)``), or None.
Arg: TypeAlias = "Draw | tuple[Arg, ...] | None"


@dataclass(frozen=True)
class Inferred:
    """The positional arguments chosen, and how they were chosen (a short phrase)."""

    args: tuple[Arg, ...]
    origin: str


# -- layers whose input layout is known ---------------------------------------------------------


def first_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The first module in registration order whose input layout is known, with its path."""
    return next(input_layers(model), None)


def input_layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if is_input_layer(module):
            yield name, module


def is_input_layer(module: nn.Module) -> bool:
    return isinstance(
        module,
        (
            nn.Linear,
            nn.Bilinear,
            nn.Embedding,
            nn.EmbeddingBag,
            nn.RNNBase,
            nn.RNNCellBase,
            nn.MultiheadAttention,
            nn.modules.conv._ConvNd,
        ),
    ) or is_hf_conv1d(module)


def is_hf_conv1d(module: nn.Module) -> bool:
    # transformers' Conv1D (GPT-2): a Linear with a transposed (nx, nf) weight; recognised by
    # its attributes so that transformers need not be imported.
    weight = getattr(module, "weight", None)
    return (
        isinstance(weight, torch.Tensor)
        and weight.dim() == 2
        and isinstance(getattr(module, "nf", None), int)
        and isinstance(getattr(module, "nx", None), int)
    )


def is_lazy(layer: nn.Module) -> bool:
    return any(isinstance(p, nn.parameter.UninitializedParameter) for p in layer.parameters(recurse=False))


def float_dtype(layer: nn.Module) -> torch.dtype:
    # A float64 model gets float64 inputs; integer or quantised weights fall back to float32.
    for parameter in layer.parameters(recurse=False):
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def first_guess(layer: nn.Module, batch: int) -> list[Draw] | None:
    """The inputs ``layer`` most likely expects, or None when its sizes are not known yet (lazy modules)."""
    guesses = layer_guesses(layer, batch)
    return guesses[0] if guesses else None


def layer_guesses(layer: nn.Module, batch: int) -> list[list[Draw]]:
    """Inputs ``layer`` accepts as a model's first layer, likeliest first (``[]`` when its sizes are unknown)."""
    if is_lazy(layer):
        return []
    dtype = float_dtype(layer)
    if isinstance(layer, (nn.Embedding, nn.EmbeddingBag)):
        return [[Draw((batch, t), torch.int64, layer.num_embeddings)] for t in SEQUENCE_LENGTHS] + [
            [Draw((SEQUENCE_LENGTH, batch), torch.int64, layer.num_embeddings)]
        ]
    if isinstance(layer, nn.RNNBase):
        orders = [(batch, SEQUENCE_LENGTH), (SEQUENCE_LENGTH, batch)]
        return [[Draw((*o, layer.input_size), dtype)] for o in (orders if layer.batch_first else orders[::-1])]
    if isinstance(layer, nn.RNNCellBase):
        return [[Draw((batch, layer.input_size), dtype)]]
    if isinstance(layer, nn.MultiheadAttention):
        shape = (batch, SEQUENCE_LENGTH) if layer.batch_first else (SEQUENCE_LENGTH, batch)
        return [[Draw((*shape, layer.embed_dim), dtype)]]
    if isinstance(layer, nn.modules.conv._ConvNd):
        return _conv_guesses(layer, batch, dtype)
    if isinstance(layer, nn.Bilinear):
        return [[Draw((batch, layer.in1_features), dtype), Draw((batch, layer.in2_features), dtype)]]
    if isinstance(layer, nn.Linear) or is_hf_conv1d(layer):
        width = layer.in_features if isinstance(layer, nn.Linear) else int(layer.nx)
        return [[Draw((batch, width), dtype)], [Draw((batch, SEQUENCE_LENGTH, width), dtype)]]
    return []


def _conv_guesses(layer: nn.modules.conv._ConvNd, batch: int, dtype: torch.dtype) -> list[list[Draw]]:
    dims = len(layer.kernel_size)
    channels = layer.in_channels
    if dims not in CONV_SPATIAL:
        return []
    sides = {1: (64, 32, 128, 256, 16, 1024), 2: IMAGE_SIZES, 3: VOLUME_SIZES}[dims]
    # A transposed convolution opens a generator: a 1×1 latent first, then small maps.
    sides = (1, 4, 8, *sides) if layer.transposed else (CONV_SPATIAL[dims][0], *sides)
    return [[Draw((batch, channels, *(side,) * dims), dtype)] for side in dict.fromkeys(sides)]


def generic_guesses(model: nn.Module, batch: int) -> Iterator[list[Draw]]:
    """Images and token ids of common sizes, for a model whose first layer is behind something else.

    Common sizes come before images that flatten to a Linear's width: a ViT whose patch Linear
    takes 3·8·8 values would also run on one 8×8 patch, which is not the model a person sees.
    """
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    for channels in IMAGE_CHANNELS:
        for side in IMAGE_SIZES:
            yield [Draw((batch, channels, side, side), dtype)]
    vocab = min((m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding)), default=None)
    if vocab is not None:
        for length in SEQUENCE_LENGTHS:
            yield [Draw((batch, length), torch.int64, vocab)]
    for _, layer in input_layers(model):
        if isinstance(layer, nn.Linear) and not is_lazy(layer):  # an MLP on images it flattens itself
            for channels in IMAGE_CHANNELS:
                side = round((layer.in_features / channels) ** 0.5)
                if side > 1 and channels * side * side == layer.in_features:
                    yield [Draw((batch, channels, side, side), float_dtype(layer))]


# -- the rest of forward's arguments -------------------------------------------------------------


def required_positionals(model: nn.Module) -> int:
    """How many positional arguments ``forward`` requires (1 when it cannot be read)."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)


def argument_sets(first: list[Draw], model: nn.Module, count: int) -> Iterator[tuple[Arg, ...]]:
    """Whole argument tuples built around the first input(s), for a ``forward`` taking ``count`` arguments."""
    if len(first) >= count:
        yield tuple(first)
        return
    x = first[0]
    rest = count - len(first)
    for hidden in _hidden_states(model, x):
        yield (*first, hidden, *((hidden,) * (rest - 1)))
    batch = x.shape[0]
    for timestep in (Draw((batch,), torch.float32), Draw((batch,), torch.int64)):  # a diffusion model's t
        yield (*first, *((timestep,) * rest))
    yield (*first, *((x,) * rest))  # nn.Transformer's src and tgt; a query and its context
    yield (*first, *((None,) * rest))  # an optional mask or state without a default


def _hidden_states(model: nn.Module, x: Draw) -> Iterator[Arg]:
    """The initial state of the model's first recurrent layer, batched like ``x``."""
    for _, layer in input_layers(model):
        if isinstance(layer, nn.RNNBase):
            batch = x.shape[0] if layer.batch_first or len(x.shape) < 2 else x.shape[1]
            dtype = float_dtype(layer)
            layers = layer.num_layers * (2 if layer.bidirectional else 1)
            out = getattr(layer, "proj_size", 0) or layer.hidden_size
            h = Draw((layers, batch, out), dtype)
            yield (h, Draw((layers, batch, layer.hidden_size), dtype)) if isinstance(layer, nn.LSTM) else h
            return
        if isinstance(layer, nn.RNNCellBase):
            h = Draw((x.shape[0], layer.hidden_size), float_dtype(layer))
            yield (h, h) if isinstance(layer, nn.LSTMCell) else h
            return


# -- the search ----------------------------------------------------------------------------------


def search(model: nn.Module, batch: int) -> Inferred | None:
    """The first candidate that runs through a copy of ``model`` (a plausible one if any), or None.

    Candidates run on a meta copy; when none does and the model has real weights, the first
    ``REAL_ATTEMPTS`` run for real on a private copy sharing the weights (a forward that calls
    ``.item()`` or branches on values cannot run on the meta device).
    """
    if not any(True for _ in model.parameters()):
        return None  # nothing to train: no gradient problem to find, and no layer to fit inputs to
    if any(is_lazy(m) for m in model.modules()):
        return None  # sizes not known yet: any shape would run, and fix them to whatever it was
    candidates = list(_candidates(model, batch))
    found = _first_that_runs(model, candidates[:MAX_ATTEMPTS], len(candidates), meta=True)
    if found is None and not any(p.is_meta for p in model.parameters()):
        found = _first_that_runs(model, candidates[:REAL_ATTEMPTS], len(candidates), meta=False)
    return found


def _first_that_runs(model: nn.Module, candidates: list[tuple[Arg, ...]], total: int, *, meta: bool) -> Inferred | None:
    try:
        copy = meta_copy(model) if meta else shared_copy(model)
    except Exception:  # a model that cannot be deep-copied cannot be checked: the caller guesses unchecked
        return None
    device = torch.device("meta") if meta else next(model.parameters()).device
    names = {id(m): (name, type(m).__name__) for name, m in input_layers(copy)}
    where = "on the meta device" if meta else "with real forwards on a private copy"
    implausible: tuple[tuple[Arg, ...], str, str] | None = None
    for tried, args in enumerate(candidates, 1):
        ran = _run(copy, args, names, device)
        if ran is None:
            continue
        first_run, output = ran
        verdict = _implausible(args, output)
        phrase = _phrase(first_run, tried, total, where)
        if verdict is None:
            return Inferred(args, phrase)
        if implausible is None:
            implausible = (args, phrase, verdict)
    if implausible is not None:
        args, phrase, verdict = implausible
        return Inferred(args, f"{phrase}; {verdict}, and no other candidate ran")
    return None


def _candidates(model: nn.Module, batch: int) -> Iterator[tuple[Arg, ...]]:
    count = required_positionals(model)
    layers = list(input_layers(model))
    firsts: list[list[Draw]] = []
    guesses = [layer_guesses(layer, batch) for _, layer in layers]
    firsts += [g[0] for g in guesses if g]  # every layer's likeliest input before any alternative
    firsts += [alt for g in guesses for alt in g[1:]]
    firsts += list(generic_guesses(model, batch))
    # Token ids may reach any of the model's tables (a position table smaller than the vocabulary):
    # drawn below the smallest, they index every one of them.
    smallest = min(
        (m.num_embeddings for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))), default=0
    )
    seen: set[str] = set()
    for first in firsts:
        for args in argument_sets(first, model, count):
            args = tuple(_ids_below(a, smallest) for a in args)
            key = repr(args)
            if key not in seen:
                seen.add(key)
                yield args


def _ids_below(arg: Arg, high: int) -> Arg:
    if isinstance(arg, Draw):
        return Draw(arg.shape, arg.dtype, high) if arg.high > high > 0 else arg
    return arg if arg is None else tuple(_ids_below(a, high) for a in arg)


def _run(
    copy: nn.Module, args: tuple[Arg, ...], names: dict[int, tuple[str, str]], device: torch.device
) -> tuple[str, Any] | None:
    """Run the copy on ``args``: the first input layer that ran (``name (Type)``) and the output, or None."""
    order: list[tuple[str, str]] = []

    def record(module: nn.Module, _inputs: Any) -> None:
        if not order:
            order.append(names[id(module)])

    handles = [m.register_forward_pre_hook(record) for m in copy.modules() if id(m) in names]
    try:
        with (
            torch.no_grad(),
            torch.random.fork_rng(),  # a real forward's dropout leaves the user's random state as it was
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),  # a forward that prints shapes, once per candidate
        ):
            warnings.simplefilter("ignore")
            output = copy(*(_tensor(a, device) for a in args))
    except Exception:  # any error of the user's forward means: these inputs do not fit
        return None
    finally:
        for handle in handles:
            handle.remove()
    name, kind = order[0] if order else ("", "")
    return (f"{name or '<model>'} ({kind})" if order else "", output)


def _tensor(arg: Arg, device: torch.device) -> Any:
    if arg is None:
        return None
    if isinstance(arg, Draw):
        if device.type == "meta" or not arg.dtype.is_floating_point:
            return torch.zeros(arg.shape, dtype=arg.dtype, device=device)  # 0 is a valid index into any table
        return torch.randn(arg.shape, device=device).to(arg.dtype)
    return tuple(_tensor(a, device) for a in arg)


def _implausible(args: Sequence[Arg], output: Any) -> str | None:
    """Why the output is not believable for these inputs (a far larger image than went in), or None."""
    tensor = _first_tensor(output)
    if tensor is None:
        return "the forward returned no tensor"
    sides = [max(d.shape[2:]) for d in _draws(args) if d.dtype.is_floating_point and len(d.shape) >= 3]
    if not sides or tensor.dim() < 3:
        return None
    largest, out = max(sides), max(tensor.shape[2:])
    if largest > 1 and out > MAX_GROWTH * largest:
        return f"its output side {out} is over {MAX_GROWTH}× the input side {largest}"
    return None


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    elif hasattr(value, "to_tuple"):  # transformers' ModelOutput
        value = value.to_tuple()
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _draws(args: Sequence[Arg]) -> Iterator[Draw]:
    for arg in args:
        if isinstance(arg, Draw):
            yield arg
        elif arg is not None:
            yield from _draws(arg)


def _phrase(first_run: str, tried: int, total: int, where: str) -> str:
    if tried == 1 and where.startswith("on the meta"):
        return f"inferred from first layer {first_run}" if first_run else "inferred and checked on the meta device"
    ran = f", first layer run {first_run}" if first_run else ""
    return f"found by a search {where} ({tried} of {total} candidates tried{ran})"
