"""The public functions: lint files, or lint a model object in a notebook or a test.

``cli`` calls only these; they call the stages in pipeline order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gradlint.engine import run_rules
from gradlint.errors import GradlintError
from gradlint.load import expand_targets, load_target
from gradlint.probe import confirm_findings, probe
from gradlint.registry import Rule, select_rules
from gradlint.trace import trace_model
from gradlint.verdict import VerdictThresholds
from gradlint.types import InputSpec, LoadedModel, ModelReport, Report, TargetError, dtype_name, frozen_mapping


@dataclass(frozen=True)
class LintOptions:
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_dtype: str = "float32"
    trace_methods: tuple[str, ...] | None = None
    """Restrict tracing to these methods (``fx``, ``export``, ``hooks``); None tries all in order."""
    probe: bool = False
    """Also measure gradients by the reference protocol and confirm or refute findings."""
    device: str = "auto"
    probe_seeds: tuple[int, ...] = (1, 2, 3)
    probe_steps: int = 0
    lr: float = 1e-3
    optimizer: str = "sgd"
    probe_timeout_s: float | None = None
    thresholds: VerdictThresholds = VerdictThresholds()
    """Verdict thresholds (log10), shared by the probe and the static estimate."""
    rules: tuple[Rule, ...] | None = field(default=None, compare=False)
    """Already-selected rules; when None they are selected from ``select``/``ignore``/``extend_select``."""

    def selected_rules(self) -> tuple[Rule, ...]:
        if self.rules is not None:
            return self.rules
        return select_rules(self.select, self.ignore, self.extend_select)


ProgressCallback = Callable[[str], None]


def lint_paths(
    targets: Sequence[str],
    options: LintOptions = LintOptions(),
    *,
    on_model: Callable[[ModelReport], None] | None = None,
    on_error: Callable[[TargetError], None] | None = None,
) -> Report:
    """Lint model files and directories (``path.py``, ``path.py:ATTR``, ``dir/``).

    A target that cannot be loaded or traced becomes a ``TargetError`` in the report
    (the CLI exits 2 for it); other targets are still linted. ``on_model`` / ``on_error``
    are called as each result arrives, so a caller can stream output.
    """
    rules = options.selected_rules()
    models: list[ModelReport] = []
    errors: list[TargetError] = []
    for spec in expand_targets(targets):
        try:
            loaded_models = load_target(spec, input_shapes=options.input_shapes, input_dtype=options.input_dtype)
            for loaded in loaded_models:
                report = _lint_loaded(loaded, rules, options)
                models.append(report)
                if on_model is not None:
                    on_model(report)
        except GradlintError as error:
            target_error = TargetError(str(spec), str(error), error)
            errors.append(target_error)
            if on_error is not None:
                on_error(target_error)
    return Report(tuple(models), tuple(errors))


def lint(
    model: nn.Module,
    example_inputs: Sequence[Any] | torch.Tensor | None = None,
    *,
    options: LintOptions = LintOptions(),
    name: str | None = None,
) -> Report:
    """Lint a model object (a notebook, a test). Without ``example_inputs`` they are inferred from the first layer.

    The model is only read: it is traced through private copies and never changed.
    """
    from gradlint.load.inputs import resolve_inputs

    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    label = name or type(model).__name__
    if example_inputs is None:
        inputs, specs = resolve_inputs(model, None, label, options.input_shapes, options.input_dtype)
    else:
        inputs = tuple(example_inputs)
        specs = tuple(
            InputSpec(tuple(x.shape), dtype_name(x.dtype), "example_inputs argument")
            for x in inputs
            if isinstance(x, torch.Tensor)
        )
    loaded = LoadedModel(
        target=label,
        name=type(model).__name__,
        source_path="<model>",
        model=model,
        example_inputs=inputs,
        inputs=specs,
        construction_sites=frozen_mapping(),
        init_records=frozen_mapping(),
    )
    return Report((_lint_loaded(loaded, options.selected_rules(), options),))


def _lint_loaded(loaded: LoadedModel, rules: Sequence[Rule], options: LintOptions) -> ModelReport:
    graph = trace_model(loaded, options.trace_methods)
    findings = run_rules(graph, None, rules)
    if not options.probe:
        return ModelReport(graph, findings)
    measured = probe(
        loaded.model,
        loaded.example_inputs,
        seeds=options.probe_seeds,
        device=options.device,
        thresholds=options.thresholds,
        steps=options.probe_steps,
        lr=options.lr,
        optimizer=options.optimizer,
        timeout_s=options.probe_timeout_s,
        graph=graph,
    )
    return ModelReport(graph, confirm_findings(findings, measured), measured)
