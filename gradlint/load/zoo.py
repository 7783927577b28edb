"""Models named by a library instead of a file: ``torchvision:NAME``, ``timm:NAME``, ``hf:CONFIG``.

Nothing is downloaded: every model is built from code with random weights (``pretrained=False``,
``weights=None``, a Hugging Face config read from a local file or a model type's defaults).

* ``torchvision:resnet50``: any classification, segmentation or video model of
  ``torchvision.models.list_models()`` (quantizable models build as float models); detection
  and optical-flow models need targets in train mode and are refused. Extra: ``gradlint[vision]``.
* ``timm:convnext_tiny``: any ``timm.list_models()`` name, a pretrained tag allowed
  (``vit_tiny_patch16_224.augreg_in21k`` picks that tag's input size). Extra: ``gradlint[vision]``.
* ``hf:path/config.json`` or ``hf:path/`` (a directory holding ``config.json``): the class named
  in the config's ``architectures``, else ``AutoModel``; ``hf:path/config.json:BertModel`` names
  the class (any ``transformers`` model class, ``AutoModelForCausalLM`` ...). ``hf:gpt2`` (a
  model type, when no such path exists) builds that type's default config. The class's
  constructor builds it in the default dtype, whatever the config's ``dtype``. Extra: ``gradlint[hf]``.

Example inputs, batch ``ZOO_BATCH``: images at the model's own input size (timm's
``pretrained_cfg``, a torchvision ViT's ``image_size``, else its weights' crop size, at least
the weights' ``min_size``; segmentation 224; video 16 frames); Hugging Face token ids of length
``HF_SEQUENCE_LENGTH`` below the embedding size, with ``attention_mask`` and
``decoder_input_ids`` for encoder-decoders, or ``pixel_values``/``input_values`` for vision and
audio models. ``--input-shape`` overrides the shapes: for token-id models the first shape is the
ids' (``decoder_input_ids`` take the second, else the same), whatever ``--input-dtype`` says.

The model is built under the ``ConstructionRecorder`` with the torch RNG seeded by 0 (the same
weights on every run, the caller's RNG state restored), its prints sent to stderr; on the meta
device with ``meta=True`` or when too large for memory (see ``meta``), the inputs then meta too.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gradlint.errors import InputError, LoadError
from gradlint.load.construction import ConstructionRecorder
from gradlint.load.inputs import parse_dtype, resolve_inputs
from gradlint.load.meta import BuildMode, build_within_memory, is_meta, parameter_bytes
from gradlint.load.targets import ZOO_EXTRAS, ZooName, split_zoo_target
from gradlint.types import InputSpec, LoadedModel, dtype_name, frozen_mapping

ZOO_BATCH = 2
HF_SEQUENCE_LENGTH = 32
VIDEO_FRAMES = 16
SEGMENTATION_SIZE = 224
_SEED = 0


def load_zoo(
    text: str,
    *,
    input_shapes: Sequence[tuple[int, ...]] = (),
    input_dtype: str = "float32",
    meta: bool | None = None,
) -> LoadedModel:
    """Build the model a zoo target names, with example inputs; ``LoadError``/``InputError`` with one line.

    ``meta`` as in ``load_target``: True on the meta device, False for real, None for real unless too large.
    """
    zoo = split_zoo_target(text)
    if zoo is None:
        raise LoadError(f"{text}: not a torchvision:NAME, timm:NAME or hf:CONFIG target")
    if not zoo.name:
        raise LoadError(f"{text}: name a model after the colon, e.g. {_EXAMPLES[zoo.family]}")
    if input_shapes:
        parse_dtype(input_dtype)  # a bad --input-dtype is reported before building anything
    builder = {"torchvision": _torchvision, "timm": _timm, "hf": _hf}[zoo.family]
    built = builder(text, zoo)

    def attempt(mode: BuildMode) -> LoadedModel:
        with _quiet_construction(mode) as recorder:
            try:
                model = built.build()
            except LoadError as exc:
                raise LoadError(f"{text}: {exc}") from exc
            except (Exception, SystemExit) as exc:
                mismatch = torchvision_mismatch(exc)
                raise LoadError(f"{text}: {mismatch or 'building the model raised ' + _one_line(exc)}") from exc
        mode.check(recorder)
        if not isinstance(model, nn.Module):
            raise LoadError(f"{text}: the library returned a {type(model).__name__}, not an nn.Module")
        if input_shapes:
            values, specs = built.from_shapes(model, input_shapes, parse_dtype(input_dtype))
        else:
            values, specs = built.inputs(model)
        return LoadedModel(
            target=text,
            name=type(model).__name__,
            source_path=built.source_path or _class_file(model) or text,
            model=model,
            example_inputs=mode.inputs(values),
            inputs=specs,
            construction_sites=frozen_mapping(recorder.sites_for(model)),
            init_records=frozen_mapping(recorder.init_records_for(model)),
            meta=mode.reason(model),
            rebuild=_quiet_rebuild(built.build),
        )

    def size() -> int:
        with _quietly(), torch.device("meta"):
            return parameter_bytes(built.bare())

    return build_within_memory(attempt, meta, text, size=size)


_EXAMPLES = {"torchvision": "torchvision:resnet50", "timm": "timm:convnext_tiny", "hf": "hf:path/to/config.json"}

Inputs = tuple[tuple[Any, ...], tuple[InputSpec, ...]]


@dataclass(frozen=True)
class _Built:
    build: Callable[[], nn.Module]
    inputs: Callable[[nn.Module], Inputs]
    from_shapes: Callable[[nn.Module, Sequence[tuple[int, ...]], torch.dtype], Inputs]
    source_path: str | None = None
    constructor: Callable[[], nn.Module] | None = None
    """The library's constructor alone, where ``build`` does more on the meta device (re-running an init)."""

    def bare(self) -> nn.Module:
        return (self.constructor or self.build)()


def _quiet_rebuild(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def rebuild() -> nn.Module:
        with _quietly():
            return build()

    return rebuild


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """Build like the file importer does: seeded RNG (restored after), prints to stderr, dtype and grad mode restored."""
    saved_dtype = torch.get_default_dtype()
    saved_grad = torch.is_grad_enabled()
    try:
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(sys.stderr):
            torch.manual_seed(_SEED)
            yield
    finally:
        torch.set_default_dtype(saved_dtype)
        torch.set_grad_enabled(saved_grad)


@contextlib.contextmanager
def _quiet_construction(mode: BuildMode) -> Iterator[ConstructionRecorder]:
    """``_quietly``, recording the construction, on the device ``mode`` says."""
    with _quietly(), mode.recorder() as recorder, mode.device():
        yield recorder


# -- importing the libraries --------------------------------------------------------------------


def _import(module_name: str, target: str, family: str) -> Any:
    """Import a zoo library; a missing extra or a torchvision that does not fit torch is one ``LoadError`` line."""
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        mismatch = torchvision_mismatch(exc)
        if mismatch is not None:
            raise LoadError(f"{target}: {mismatch}") from exc
        if (
            isinstance(exc, ModuleNotFoundError)
            and exc.name is not None
            and exc.name.split(".")[0] == module_name.split(".")[0]
        ):
            raise LoadError(
                f"{target}: {module_name.split('.')[0]} is not installed; install it with pip install 'gradlint[{ZOO_EXTRAS[family]}]'"
            ) from exc
        raise LoadError(f"{target}: importing {module_name} raised {_one_line(exc)}") from exc


def torchvision_mismatch(exc: BaseException) -> str | None:
    """The explanation when ``exc`` (or an exception behind it) is torchvision failing to register its operators.

    A torchvision wheel built for another torch (the registry's CUDA build beside a CPU torch)
    cannot load its compiled operators, and its Python side then fails on ``torchvision::nms``.
    timm and transformers import torchvision, so they fail the same way.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RuntimeError) and "torchvision::" in str(current):
            return (
                f"torchvision {_version('torchvision')} does not fit torch {torch.__version__}: its compiled operators "
                f"did not load ({_one_line(current)}); it was built for another torch (a CUDA build?); install the "
                "torchvision wheel built for this torch, from the same index as torch"
            )
        current = current.__cause__ or current.__context__
    return None


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(unknown version)"


def _not_found(target: str, what: str, name: str, known: Sequence[str]) -> LoadError:
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return LoadError(f"{target}: {what} has no model {name!r}{hint}")


# -- torchvision --------------------------------------------------------------------------------

_TV_REFUSED = {
    "detection": "a detection model (it needs targets in train mode)",
    "optical_flow": "an optical-flow model (it takes two images and returns a list)",
}


def _torchvision(target: str, zoo: ZooName) -> _Built:
    models = _import("torchvision.models", target, "torchvision")
    name = zoo.name
    families = {}
    for family in ("segmentation", "video", "detection", "optical_flow", "quantization"):
        submodule = getattr(models, family, None)
        if submodule is not None:
            families.update(dict.fromkeys(models.list_models(module=submodule), family))
    known = models.list_models()
    if name not in known:
        raise _not_found(target, f"torchvision {_version('torchvision')}", name, known)
    family = families.get(name, "classification")
    if family in _TV_REFUSED:
        raise LoadError(
            f"{target}: {name} is {_TV_REFUSED[family]}; gradlint lints torchvision classification, segmentation and video models"
        )

    def build() -> nn.Module:
        builder = models.get_model_builder(name)
        kwargs = {"weights": None}
        if "weights_backbone" in inspect.signature(builder).parameters:
            kwargs["weights_backbone"] = None  # segmentation models fetch an ImageNet backbone by default
        return builder(**kwargs)

    def inputs(model: nn.Module) -> Inputs:
        shape = _torchvision_input_shape(models, name, family, model)
        return _images(model, shape, f"{family} input size of torchvision {name}")

    return _Built(build, inputs, _image_shapes)


def _torchvision_input_shape(models: Any, name: str, family: str, model: nn.Module) -> tuple[int, ...]:
    weights = _first_weights(models, name)
    meta = getattr(weights, "meta", {}) or {}
    min_h, min_w = (tuple(meta.get("min_size", (1, 1))) + (1, 1))[:2]
    size = getattr(model, "image_size", None)  # a ViT is built for one size (its weights' min_size may be another)
    if isinstance(size, int):
        height = width = size
    else:
        size = SEGMENTATION_SIZE if family == "segmentation" else _crop_size(weights)
        height, width = max(size, min_h), max(size, min_w)
    if family == "video":
        frames = max(VIDEO_FRAMES, int(meta.get("min_temporal_size", 1)))
        return (ZOO_BATCH, 3, frames, height, width)
    return (ZOO_BATCH, 3, height, width)


def _first_weights(models: Any, name: str) -> Any:
    """The first weights enum member: the model's original recipe (DEFAULT may be a larger fine-tune size)."""
    try:
        enum = models.get_model_weights(name)
        return next(iter(enum))
    except Exception:  # a model without registered weights
        return None


def _crop_size(weights: Any) -> int:
    try:
        crop = weights.transforms().crop_size
        return int(crop[0] if isinstance(crop, (list, tuple)) else crop)
    except Exception:  # no weights, or transforms without a crop
        return 224


# -- timm ---------------------------------------------------------------------------------------


def _timm(target: str, zoo: ZooName) -> _Built:
    timm = _import("timm", target, "timm")
    name = zoo.name
    if not timm.is_model(name):
        raise _not_found(target, f"timm {_version('timm')}", name, timm.list_models())

    def build() -> nn.Module:
        return timm.create_model(name, pretrained=False)

    def inputs(model: nn.Module) -> Inputs:
        cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
        size = tuple(int(s) for s in cfg.get("input_size") or (3, 224, 224))
        return _images(model, (ZOO_BATCH, *size), f"input_size of timm {name}")

    return _Built(build, inputs, _image_shapes)


# -- images -------------------------------------------------------------------------------------


def _images(model: nn.Module, shape: tuple[int, ...], origin: str) -> Inputs:
    generator = torch.Generator().manual_seed(_SEED)
    dtype = _float_dtype(model)
    value = torch.randn(shape, generator=generator).to(dtype=dtype, device=_device(model))
    return (value,), (InputSpec(shape, dtype_name(dtype), origin),)


def _image_shapes(model: nn.Module, shapes: Sequence[tuple[int, ...]], dtype: torch.dtype) -> Inputs:
    resolved = resolve_inputs(model, None, type(model).__name__, shapes, dtype_name(dtype))
    return resolved.values, resolved.specs


# -- Hugging Face -------------------------------------------------------------------------------


def _hf(target: str, zoo: ZooName) -> _Built:
    transformers = _import("transformers", target, "hf")
    config, source = _hf_config(transformers, target, zoo.name)
    cls_name = zoo.cls or next(
        (a for a in getattr(config, "architectures", None) or () if _has_class(transformers, a)), None
    )
    cls_name = cls_name or "AutoModel"
    try:
        cls = getattr(transformers, cls_name)
    except Exception as exc:
        mismatch = torchvision_mismatch(exc)
        if mismatch is not None:
            raise LoadError(f"{target}: {mismatch}") from exc
        raise LoadError(f"{target}: transformers {_version('transformers')} has no class {cls_name!r}") from exc
    if not inspect.isclass(cls):
        raise LoadError(f"{target}: transformers.{cls_name} is not a model class")

    def construct() -> nn.Module:
        return _concrete_class(cls, config)(config)

    def build() -> nn.Module:
        model = construct()
        if is_meta(model):
            _hf_initialise(model)
        return model

    def inputs(model: nn.Module) -> Inputs:
        return _hf_inputs(target, model, config, None, None)

    def from_shapes(model: nn.Module, shapes: Sequence[tuple[int, ...]], dtype: torch.dtype) -> Inputs:
        return _hf_inputs(target, model, config, shapes, dtype)

    return _Built(build, inputs, from_shapes, source, construct)


def _hf_initialise(model: nn.Module) -> None:
    """Run the model's own init on meta tensors, for the recorder to see it.

    ``PreTrainedModel.init_weights`` skips initialisation when the default device is meta (nothing to
    write), which would leave the recorder with the layers' own defaults (an embedding's N(0, 1),
    not GPT-2's N(0, 0.02) and its scaled residual projections). The calls do nothing on meta tensors.
    """
    initialise = getattr(model, "initialize_weights", None)
    if callable(initialise):
        initialise()
    elif callable(getattr(model, "_init_weights", None)):  # transformers before initialize_weights
        model.apply(model._init_weights)


def _concrete_class(cls: type, config: Any) -> type:
    """The model class an ``AutoModel*`` class picks for ``config`` (itself for a concrete class).

    Built by its constructor, as a user's file would, in the default dtype: ``from_config`` would
    follow the config's ``dtype``, the checkpoint's storage type (often bfloat16), not a training one.
    """
    mapping = getattr(cls, "_model_mapping", None)
    if mapping is None:
        return cls
    try:
        return mapping[type(config)]
    except KeyError:
        raise LoadError(f"{cls.__name__} has no model class for {type(config).__name__}") from None


def _has_class(transformers: Any, name: str) -> bool:
    try:
        return inspect.isclass(getattr(transformers, name))
    except Exception:  # the class's module fails to import: let the build report it
        return True


def _hf_config(transformers: Any, target: str, name: str) -> tuple[Any, str | None]:
    path = os.path.join(name, "config.json") if os.path.isdir(name) else name
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except (OSError, ValueError) as exc:
            raise LoadError(f"{target}: cannot read {path}: {_one_line(exc)}") from exc
        if not isinstance(values, dict) or "model_type" not in values:
            raise LoadError(f'{target}: {path} has no "model_type"; it is not a transformers config.json')
        model_type = values.pop("model_type")
        try:
            return transformers.AutoConfig.for_model(model_type, **values), path
        except Exception as exc:
            raise LoadError(f"{target}: {path}: {_one_line(exc)}") from exc
    if os.path.isdir(name):
        raise LoadError(f"{target}: the directory {name} holds no config.json")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    known = list(CONFIG_MAPPING.keys())
    if name in known:
        return transformers.AutoConfig.for_model(name), None
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = f"; model types like it: {', '.join(close)}" if close else ""
    raise LoadError(f"{target}: no such file or directory, and not a transformers model type{hint}")


def _hf_inputs(
    target: str,
    model: nn.Module,
    config: Any,
    shapes: Sequence[tuple[int, ...]] | None,
    dtype: torch.dtype | None,
) -> Inputs:
    main = getattr(model, "main_input_name", "input_ids")
    origin = "--input-shape" if shapes else f"default {main} for {type(model).__name__}"
    generator = torch.Generator().manual_seed(_SEED)
    device = _device(model)
    if main == "input_ids":
        embeddings = _input_embeddings(model)
        vocab = getattr(embeddings, "num_embeddings", None) or _config_value(config, "vocab_size") or 2
        length = min(
            HF_SEQUENCE_LENGTH,
            _config_value(config, "max_position_embeddings")
            or _config_value(config, "n_positions")
            or HF_SEQUENCE_LENGTH,
        )
        shape = tuple(shapes[0]) if shapes else (ZOO_BATCH, length)
        ids = torch.randint(0, int(vocab), shape, generator=generator).to(device)
        if not getattr(config, "is_encoder_decoder", False):
            return (ids,), (InputSpec(shape, dtype_name(ids.dtype), origin),)
        decoder_shape = tuple(shapes[1]) if shapes and len(shapes) > 1 else shape
        decoder_ids = torch.randint(0, int(vocab), decoder_shape, generator=generator).to(device)
        by_name = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "decoder_input_ids": decoder_ids}
        values = _positional(target, model, by_name)
        return values, tuple(InputSpec(tuple(v.shape), dtype_name(v.dtype), origin) for v in values)
    float_dtype = dtype if dtype is not None and dtype.is_floating_point else _float_dtype(model)
    if shapes:
        shape = tuple(shapes[0])
    elif main == "pixel_values":
        size = _config_value(config, "image_size") or 224
        height, width = (size, size) if isinstance(size, int) else tuple(size)[:2]
        shape = (ZOO_BATCH, int(_config_value(config, "num_channels") or 3), int(height), int(width))
    elif main == "input_values":
        shape = (ZOO_BATCH, 16000)
    else:
        raise InputError(
            f"{target}: cannot make example inputs for {type(model).__name__}'s {main}; pass --input-shape"
        )
    value = torch.randn(shape, generator=generator).to(dtype=float_dtype, device=device)
    return (value,), (InputSpec(shape, dtype_name(float_dtype), origin),)


def _input_embeddings(model: nn.Module) -> nn.Module | None:
    """The model's token embedding, or None; some models raise instead (Gemma-4's vision tower: NotImplementedError)."""
    try:
        return model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    except NotImplementedError:
        return None


def _positional(target: str, model: nn.Module, by_name: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The inputs as ``forward``'s positional arguments, up to the last one given."""
    names = [
        p.name
        for p in inspect.signature(model.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    last = max((names.index(n) for n in by_name if n in names), default=-1)
    missing = [n for n in names[: last + 1] if n not in by_name]
    if last < 0 or missing or "decoder_input_ids" not in names:
        raise InputError(
            f"{target}: cannot pass input_ids and decoder_input_ids positionally to {type(model).__name__}.forward "
            f"({', '.join(names[:4])} ...); pass --input-shape or lint it from a model file with example_inputs()"
        )
    return tuple(by_name[n] for n in names[: last + 1])


def _config_value(config: Any, key: str) -> Any:
    value = getattr(config, key, None)
    if value is None and hasattr(config, "get_text_config"):
        value = getattr(config.get_text_config(), key, None)
    return value


# -- helpers ------------------------------------------------------------------------------------


def _float_dtype(model: nn.Module) -> torch.dtype:
    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def _device(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def _class_file(model: nn.Module) -> str | None:
    try:
        return inspect.getsourcefile(type(model))
    except (TypeError, OSError):
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
