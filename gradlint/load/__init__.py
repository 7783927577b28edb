"""The load stage: a target string -> the model(s) in it, their example inputs and where they were built.

Targets
-------
``gradlint PATH[:ATTR] [PATH[:ATTR] ...]``. ``ATTR`` names an ``nn.Module`` instance,
an ``nn.Module`` class constructible without arguments, or a factory callable without
arguments (``examples/mlp.py:build_model``; dotted names such as ``module_var.encoder``
work too). A directory stands for its ``*.py`` files, recursively, except hidden
directories, ``__pycache__``, ``.venv``, ``venv``, ``env``, ``build``, ``dist``,
``site-packages``, ``node_modules``, ``*.egg-info``, the files ``setup.py`` and
``conftest.py``, and files that cannot hold a model: a file is kept when it imports torch (or
a torch-based package such as transformers or timm), defines a discovery factory,
``example_inputs`` or ``EXAMPLE_INPUTS``, or imports a file next to it that is kept (all
decided from the source, without importing it). In directory
mode a file without a model is skipped quietly; a file that fails to import is still
an error.

Library models
--------------
``torchvision:resnet50``, ``timm:convnext_tiny`` and ``hf:path/config.json`` (or a directory
holding one, ``:CLASS`` to pick the class) build a model from a library with random weights,
nothing downloaded, with example inputs fitting its family at batch 2 (see ``zoo``);
they need ``pip install 'gradlint[vision]'`` or ``'gradlint[hf]'``.

Discovery (no ``ATTR``)
-----------------------
The first of these that finds something wins:

1. module-level ``nn.Module`` instances (``model = Net()``), except ones imported from
   another file and ones that are part of another module-level instance;
2. a factory defined in the file and callable without arguments, tried in this order:
   ``build_model``, ``get_model``, ``make_model``, ``model``;
3. what the file defines (not imports) that builds without help, except classes used
   inside another one (a ``Block`` inside ``Net`` is a building block, not a model):
   ``nn.Module`` subclasses whose constructor needs no arguments, or only config objects
   that build with none (a parameter annotated with a dataclass, or an unannotated
   ``config``/``cfg``/``args`` when the file defines exactly one all-default config class:
   ``GPT(GPTConfig())``), and model factories callable without arguments whose every
   ``return`` gives a call of an ``nn.Module`` class (``def ResNet18(): return ResNet(...)``),
   found from the source, so ``main()`` or ``train()`` is never called. ``LoadedModel.built``
   says how (``GPT(GPTConfig())``).

Levels 1 and 3 ignore modules without parameters (``criterion = nn.CrossEntropyLoss()``).
When nothing is found, the error lists each class and factory seen with why it was skipped
(its required parameters) and a command to paste: ``gradlint 'unet.py:UNet(n_channels=..., n_classes=...)'``.

Example inputs
--------------
``--input-shape 8,3,32,32`` (repeatable, one per ``forward`` argument) with
``--input-dtype`` first; then ``example_inputs()`` (no argument, or the model) or
``EXAMPLE_INPUTS`` in the file, a tensor or a tuple of tensors; otherwise inferred
(``inference``): candidates from every layer whose input layout is known, likeliest first
(``Linear`` -> ``(8, in_features)``; ``Conv2d`` -> ``(8, C, 32, 32)``; ``ConvTranspose2d`` ->
a latent ``(8, C, 1, 1)``; ``Embedding`` -> token ids ``(8, 32)``; ``RNN``/``LSTM``/``GRU`` ->
``(8, 32, input_size)`` with ``batch_first``, else ``(32, 8, input_size)``; cells ->
``(8, input_size)``), then other sizes, hidden states and timesteps for a ``forward`` that
takes more arguments; the first that runs through a meta copy of the model wins, a
plausible output size preferred. Each ``InputSpec.origin`` says how it was chosen.

Importing
---------
The file is imported, never run as ``__main__``, so code under
``if __name__ == "__main__":`` (a training loop) does not run; code at module level
does. Everything built, at import or by the factory, is built under a
``ConstructionRecorder``, which is how findings point at the line that created a layer.
The model is never modified.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradlint.load.construction import ConstructionRecorder
from gradlint.load.discover import FACTORY_NAMES, FoundModel, find_models
from gradlint.load.importer import import_file, plan_import, user_code_environment
from gradlint.load.inputs import ResolvedInputs, infer_inputs, parse_dtype, resolve_inputs
from gradlint.load.meta import BuildMode, build_within_memory
from gradlint.load.targets import TargetSpec, expand_targets, parse_target
from gradlint.load.zoo import load_zoo
from gradlint.types import LoadedModel, frozen_mapping

__all__ = [
    "FACTORY_NAMES",
    "ConstructionRecorder",
    "ResolvedInputs",
    "TargetSpec",
    "expand_targets",
    "infer_inputs",
    "load_target",
    "load_zoo",
    "parse_target",
    "resolve_inputs",
]


def load_target(
    spec: TargetSpec,
    *,
    input_shapes: Sequence[tuple[int, ...]] = (),
    input_dtype: str = "float32",
    batch_size: int = 8,
    meta: bool | None = None,
    inputs: str | None = None,
    input_kwargs: str | None = None,
) -> list[LoadedModel]:
    """Import ``spec.path`` and return every model it names or holds, with example inputs.

    ``meta``: True builds on the meta device, False for real, None for real unless the weights
    would not fit in memory (see ``gradlint.load.meta``; a file is then imported a second time).
    ``inputs`` / ``input_kwargs``: the ``--inputs`` / ``--input-kwargs`` expressions (see ``provided``).
    Returns ``[]`` only for a directory-mode file without a model. Raises ``LoadError``
    (bad path, syntax or import error, no model, constructor raising, ``ATTR`` not a
    model), ``InputError`` (no usable example inputs) or ``UsageError`` (bad
    ``--input-dtype``/``--input-shape``), each with a one-line message.
    """
    if spec.zoo is not None:
        return [load_zoo(str(spec), input_shapes=input_shapes, input_dtype=input_dtype, meta=meta)]
    if input_shapes:
        parse_dtype(input_dtype)  # a bad --input-dtype is reported before running user code
    plan = plan_import(spec.path)

    def attempt(mode: BuildMode) -> list[LoadedModel]:
        with user_code_environment(plan):
            with mode.recorder() as recorder, mode.device():
                imported = import_file(plan)
                found = find_models(imported.module, imported.tree, plan, spec.attr, quiet=spec.from_directory)
            mode.check(recorder)
            loaded = []
            for item in found:
                target = f"{spec.path}:{item.attr}"
                resolved = resolve_inputs(
                    item.model,
                    imported.module,
                    target,
                    input_shapes,
                    input_dtype,
                    batch_size,
                    plan=plan,
                    inputs=inputs,
                    input_kwargs=input_kwargs,
                )
                loaded.append(_loaded(item, spec, target, mode, resolved, recorder))
        return loaded

    return build_within_memory(attempt, meta, str(spec))


def _loaded(
    item: FoundModel,
    spec: TargetSpec,
    target: str,
    mode: BuildMode,
    inputs: ResolvedInputs,
    recorder: ConstructionRecorder,
) -> LoadedModel:
    return LoadedModel(
        target=target,
        name=type(item.model).__name__,
        source_path=spec.path,
        model=item.model,
        example_inputs=mode.inputs(inputs.values),
        inputs=inputs.specs,
        construction_sites=frozen_mapping(recorder.sites_for(item.model)),
        init_records=frozen_mapping(recorder.init_records_for(item.model)),
        meta=mode.reason(item.model),
        example_kwargs=frozen_mapping(mode.inputs(dict(inputs.kwargs))),
        built=item.built,
        rebuild=item.rebuild,
    )
