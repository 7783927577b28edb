"""The public functions: lint files, or lint a model object in a notebook or a test.

``cli`` calls only these; they call the stages in pipeline order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import torch
from torch import nn

from gradlint.engine import merge_root_causes, run_rules
from gradlint.errors import HOW_TO_REPORT, GradlintError, InternalError, UsageError
from gradlint.estimate import estimate
from gradlint.estimate.precision import parse_precision
from gradlint.estimate.training import check_training
from gradlint.load import TargetSpec, expand_targets, load_target
from gradlint.load.targets import may_hold_model, parse_target
from gradlint.optimizers import optimizer_config
from gradlint.options import LintOptions, apply_keywords
from gradlint.probe import DEFAULT_STEPS, confirm_findings, probe
from gradlint.probe.agreement import agreement
from gradlint.probe.precision import confirm_precision, probe_precision
from gradlint.registry import Rule
from gradlint.report.lint_report import LintReport
from gradlint.suppress import is_suppressed
from gradlint.trace import trace_model
from gradlint.types import (
    Finding,
    LoadedModel,
    ModelGraph,
    ModelReport,
    OptimizerConfig,
    TargetError,
    frozen_mapping,
)

__all__ = ["LintOptions", "lint", "lint_paths", "lint_specs", "optimizer_of", "plan_targets", "with_overrides"]


ProgressCallback = Callable[[str], None]


def lint_paths(
    targets: Sequence[str],
    options: LintOptions = LintOptions(),
    *,
    on_model: Callable[[ModelReport], None] | None = None,
    on_error: Callable[[TargetError], None] | None = None,
    on_progress: ProgressCallback | None = None,
    options_for: Callable[[TargetSpec], LintOptions] | None = None,
) -> LintReport:
    """Lint model files and directories (``path.py``, ``path.py:ATTR``, ``dir/``).

    A target that cannot be loaded or traced becomes a ``TargetError`` in the report
    (the CLI exits 2 for it); other targets are still linted. ``on_model`` / ``on_error``
    are called as each result arrives, so a caller can stream output; ``on_progress`` gets
    one line as each slow stage starts (``loading x.py``, ``tracing x.py:Net`` ...).
    ``options_for`` gives each file its own options (the ``[tool.gradlint]`` closest to it);
    without it every file uses ``options``.
    """
    return lint_specs(
        plan_targets(targets, options),
        options,
        on_model=on_model,
        on_error=on_error,
        on_progress=on_progress,
        options_for=options_for,
    )


def plan_targets(targets: Sequence[str], options: LintOptions = LintOptions()) -> list[TargetSpec]:
    """The files (and ``PATH:ATTR`` models) :func:`lint_paths` lints for ``targets``, in its order."""
    _check_meta_probe(options)
    texts = _named_model_files(targets) if options.skip_no_model else list(targets)
    specs = expand_targets(texts)
    if options.skip_no_model:
        specs = [replace(spec, from_directory=True) for spec in specs]
    return specs


def lint_specs(
    specs: Sequence[TargetSpec],
    options: LintOptions = LintOptions(),
    *,
    on_model: Callable[[ModelReport], None] | None = None,
    on_error: Callable[[TargetError], None] | None = None,
    on_progress: ProgressCallback | None = None,
    options_for: Callable[[TargetSpec], LintOptions] | None = None,
) -> LintReport:
    """:func:`lint_paths` on targets already planned (a shard of them, one worker's share)."""
    models: list[ModelReport] = []
    errors: list[TargetError] = []

    def failed(target: str, path: str, error: Exception, stage: str) -> None:
        target_error = _target_error(target, path, error, stage)
        errors.append(target_error)
        if on_error is not None:
            on_error(target_error)

    for spec in specs:
        spec_options = options_for(spec) if options_for is not None else options
        rules = spec_options.selected_rules()  # an unknown code is a usage error, not a target error
        _check_meta_probe(spec_options)
        optimizer_of(spec_options)  # a bad optimizer setting is a usage error too, before any user code runs
        if on_progress is not None:
            on_progress(f"loading {spec}")
        try:
            loaded_models = _staged(
                "load",
                lambda spec=spec, spec_options=spec_options: load_target(
                    spec,
                    input_shapes=spec_options.input_shapes,
                    input_dtype=spec_options.input_dtype,
                    meta=spec_options.meta,
                    inputs=spec_options.inputs,
                    input_kwargs=spec_options.input_kwargs,
                ),
            )
        except (GradlintError, InternalError) as error:
            failed(str(spec), spec.path, error, "load")
            continue
        # One model's failure (the user's or gradlint's own) costs that model only: the file's others still run.
        for loaded in loaded_models:
            stage = _Stage()
            try:
                report = _lint_loaded(loaded, rules, spec_options, on_progress, stage)
            except (GradlintError, InternalError) as error:
                failed(loaded.target, spec.path, error, stage.name)
                continue
            models.append(report)
            if on_model is not None:
                on_model(report)
    return LintReport(tuple(models), tuple(errors))


def _check_meta_probe(options: LintOptions) -> None:
    if options.meta and (options.probe or options.probe_steps > 0):
        raise UsageError("--probe needs real weights and cannot run with --meta; drop one of them")


def _named_model_files(targets: Sequence[str]) -> list[str]:
    """``targets`` less the named files that cannot hold a model: not ``*.py``, or see ``may_hold_model``.

    Directories, ``PATH:ATTR`` targets and paths that do not exist are kept, so they are
    expanded, loaded or reported as usual.
    """
    kept = []
    for text in targets:
        spec = parse_target(text)
        named_file = spec.attr is None and os.path.isfile(spec.path)
        if named_file and (not spec.path.endswith(".py") or not may_hold_model(spec.path)):
            continue
        kept.append(text)
    return kept


def lint(
    model: nn.Module,
    example_inputs: Sequence[Any] | torch.Tensor | None = None,
    *,
    example_kwargs: Mapping[str, Any] | None = None,
    options: LintOptions = LintOptions(),
    name: str | None = None,
    **overrides: Any,
) -> LintReport:
    """Lint a model object (a notebook, a test). Without ``example_inputs`` they are inferred from the first layer.

    ``example_inputs`` are ``forward``'s positional arguments (a tensor is the one argument),
    ``example_kwargs`` its keyword arguments; either may nest tuples, lists and dicts of tensors.
    With ``example_kwargs`` alone the forward gets no positional argument.

    Keyword arguments set single options on top of ``options``, with the CLI's spellings
    relaxed for Python: ``select="GL1"`` or ``select=["GL001", "GL1"]``, ``ignore=...``,
    ``probe=True``, ``device="cpu"``, ``probe_seeds=[1, 2]``, ``probe_steps=150``, ``lr=0.1``,
    ``optimizer="adam"``, ``betas=(0.9, 0.95)``, ``clip_grad_norm=1.0``, ``probe_timeout_s=60``, ``thresholds={"explode_max": 2}`` ... (every
    field of :class:`LintOptions`). An unknown keyword is a ``TypeError``.

    The model is only read: it is traced through private copies and never changed.
    """
    from gradlint.load.inputs import resolve_inputs
    from gradlint.load.provided import input_specs

    options = with_overrides(options, overrides)
    _check_meta_probe(options)
    optimizer_of(options)

    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    label = name or type(model).__name__
    kwargs = frozen_mapping(example_kwargs or {})
    if example_inputs is None and not kwargs:
        inputs, specs, _ = resolve_inputs(model, None, label, options.input_shapes, options.input_dtype)
    else:
        inputs = tuple(example_inputs or ())
        specs = input_specs(inputs, kwargs, "example_inputs argument", "example_kwargs argument")
    loaded = LoadedModel(
        target=label,
        name=type(model).__name__,
        source_path="<model>",
        model=model,
        example_inputs=inputs,
        inputs=specs,
        construction_sites=frozen_mapping(),
        init_records=frozen_mapping(),
        example_kwargs=kwargs,
    )
    try:
        return LintReport((_lint_loaded(loaded, options.selected_rules(), options),))
    except InternalError as error:  # one model, no other results to keep: the bug itself, as Python raised it
        raise error.cause from None


def optimizer_of(options: LintOptions) -> OptimizerConfig:
    """The optimizer the options describe (``gradlint.optimizers``): the training check's and ``--probe-steps``'.
    A setting that does not apply to the optimizer, or is out of range, is a ``UsageError``."""
    return optimizer_config(
        options.optimizer,
        lr=options.lr,
        momentum=options.momentum,
        betas=options.betas,
        eps=options.eps,
        weight_decay=options.weight_decay,
        clip_grad_norm=options.clip_grad_norm,
    )


def with_overrides(options: LintOptions, overrides: Mapping[str, Any]) -> LintOptions:
    """``options`` with the keyword arguments of :func:`lint` applied (see there)."""
    return apply_keywords(options, overrides)


class _Stage:
    """Which stage one model's lint is in, so its error entry can say where it failed."""

    def __init__(self) -> None:
        self.name = "trace"


_T = TypeVar("_T")


def _staged(stage: str, run: Callable[[], _T], marker: _Stage | None = None) -> _T:
    """``run()``, with anything but a ``GradlintError`` turned into an ``InternalError`` of ``stage``."""
    if marker is not None:
        marker.name = stage
    try:
        return run()
    except GradlintError:
        raise
    except Exception as exc:  # a bug of ours on this target: reported as its error, never the whole run's
        raise InternalError(stage, exc) from exc


def _target_error(target: str, path: str, error: Exception, stage: str) -> TargetError:
    if isinstance(error, InternalError):
        return TargetError(
            target,
            f"{target}: {error}",
            error.cause,
            stage=error.stage,
            internal=True,
            how_to_report=HOW_TO_REPORT,
            path=path,
        )
    return TargetError(target, str(error), error, stage=stage, path=path)


def _lint_loaded(
    loaded: LoadedModel,
    rules: Sequence[Rule],
    options: LintOptions,
    on_progress: ProgressCallback | None = None,
    stage: _Stage | None = None,
) -> ModelReport:
    if on_progress is not None:
        on_progress(f"tracing {loaded.target}")
    graph = _staged("trace", lambda: trace_model(loaded, options.trace_methods, options.spectral_norms), stage)
    mode = parse_precision(options.precision)
    estimates = _staged("estimate", lambda: estimate(graph, options.thresholds, mode), stage)
    optimizer = optimizer_of(options)
    steps = options.probe_steps or DEFAULT_STEPS
    estimates = _staged(
        "estimate", lambda: replace(estimates, training=check_training(graph, estimates, optimizer, steps)), stage
    )
    findings = _staged(
        "rules",
        lambda: _unsilenced(run_rules(graph, estimates, rules, options), graph, loaded.source_path, options),
        stage,
    )
    if not (options.probe or options.probe_steps > 0):
        return ModelReport(graph, merge_root_causes(findings), estimates=estimates)
    if graph.meta is not None:
        skipped = f"the model was built on the meta device ({graph.meta}), so it has no weights to run"
        return ModelReport(graph, merge_root_causes(findings), estimates=estimates, probe_skipped=skipped)
    if on_progress is not None:
        on_progress(f"probing {loaded.target} on {options.device}")
    try:
        measured = _staged(
            "probe",
            lambda: probe(
                loaded.model,
                loaded.example_inputs,
                example_kwargs=loaded.example_kwargs,
                seeds=options.probe_seeds,
                device=options.device,
                thresholds=options.thresholds,
                steps=options.probe_steps,
                optimizer=optimizer,
                timeout_s=options.probe_timeout_s,
                graph=graph,
                rebuild=loaded.rebuild,
            ),
            stage,
        )
    except UsageError:
        raise
    except (GradlintError, InternalError) as error:
        # The static result does not depend on the probe: it stays, with the probe's error beside it.
        message = str(error) + (f" {HOW_TO_REPORT}" if isinstance(error, InternalError) else "")
        return ModelReport(graph, merge_root_causes(findings), estimates=estimates, probe_error=message)
    compared = agreement(estimates.weights, measured.weights)
    # merged after the probe judged each finding on its own: a related location keeps its own verdict
    findings = confirm_findings(findings, measured)
    if mode is None or not options.probe:
        return ModelReport(graph, merge_root_causes(findings), measured, estimates, agreement=compared)
    if on_progress is not None:
        on_progress(f"probing {loaded.target} in {mode.name}")
    in_dtype = _staged(
        "probe",
        lambda: probe_precision(
            loaded.model,
            loaded.example_inputs,
            mode,
            estimates.precision,
            device=options.device,
            rebuild=loaded.rebuild,
        ),
        stage,
    )
    findings = merge_root_causes(confirm_precision(findings, in_dtype, mode))
    return ModelReport(graph, findings, measured, estimates, agreement=compared, precision_probe=in_dtype)


def _unsilenced(
    findings: Sequence[Finding], graph: ModelGraph, source: str, options: LintOptions
) -> tuple[Finding, ...]:
    """Findings less those silenced by per-file ignores, inline comments and the baseline, in that order."""
    kept = [
        f
        for f in findings
        if not any(rule.silences(f, source) for rule in options.per_file_ignores) and not is_suppressed(f)
    ]
    if options.baseline is not None:
        return options.baseline.new_findings(kept, graph)
    return tuple(kept)
