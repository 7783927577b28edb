"""The terminal report, modelled on ruff's concise output.

For each model, on stdout::

    examples/mlp.py:DeepMLP (DeepMLP, 203,530 parameters, traced with export)
      built as DeepMLP()
      inputs: (8, 784) float32 (inferred from first layer net.0 (Linear))
      fx failed: symbolically traced variables cannot be used as inputs to control flow
    examples/mlp.py:14:9: GL101 [error] net.0: gradient RMS falls 10^-6.8 from the last layer to this one
        fix: initialise the ReLU layers with He init
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
      predicted: vanishing: min log10 gradient RMS -8.83 at net.0.weight <= -3

The findings come first; with ``show_layers`` (``--layers``, ``--format full``) the layer table (one
row per module: one called several times shows ``(xN)``) and the gradient-flow profile (80 columns:
log10 gradient RMS per weight with the threshold bands, report/profile.py, ending with the predicted
verdict) follow them instead of the one ``predicted:`` line. The inputs line names every tensor the
model was traced with (``args[1][0]=`` inside a tuple argument, ``context=`` for a keyword) and how
each was chosen.

A finding is one line, ``path:line:col: CODE [severity] module: message``; ``module: `` is left
out when the finding has no module, and `` (probe: confirmed)`` / `` (probe: refuted)`` is added
once the probe has measured it. A finding without a location points at ``source:1:1`` of its model,
as ruff does for file-level diagnostics. The fix follows, indented four spaces, its code lines eight.
Models are separated by a blank line.

On stderr: one line per target that could not be linted (``target: message``), then the summary,
e.g. ``Found 3 findings (1 error, 2 warnings) in 2 models.`` or ``All checks passed: 5 models, no findings.``

Forms: ``text`` (above), ``concise`` (``show_header=False, show_layers=False, show_fix=False``: one
line per finding, for editors and problem matchers) and ``full`` (``show_source=True``: each finding
also shows its source lines with the constructing line underlined, as ruff's full output does).
With ``--probe`` a model's header is followed by the measured verdict, and by the training-steps
result when ``--probe-steps`` ran::

      probe (cpu, seeds 1,2,3): vanishing: min log10 gradient RMS -4.12 at net.0.weight <= -3
      probe steps (150 x sgd lr 0.01, momentum 0.9): trains: loss went from 1.02 to 0.31 in 150 step(s) (×0.304)

Every model's header is also followed by the training check's line (DESIGN §2b)::

      training check (adamw lr 0.001, betas 0.9,0.999, eps 1e-08, weight decay 0.01; the default, no optimizer
      configured: set --optimizer and --lr): trains: the largest predicted update is ...; max lr 0.0036, clip_grad_norm 0.056

Without colour nothing is styled: no ANSI escapes, and user text (messages, module paths) is never
read as rich markup. Finding lines are never wrapped or cut; the layer table folds long cells to the
terminal width, or to 160 columns when the output is not a terminal.
"""

from __future__ import annotations

import math
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gradlint.optimizers import describe
from gradlint.report.paths import display_path
from gradlint.report.precision import precision_lines
from gradlint.report.profile import profile_lines
from gradlint.report.rows import SEVERITY_ORDER, LayerRow, Tally, layer_rows, one_line, probe_outcome, tally
from gradlint.suppress import read_source
from gradlint.types import Finding, ModelGraph, ModelReport, RelatedLocation, Report, Severity, SourceLocation
from gradlint.types.graph import META_NOTE

PIPE_WIDTH = 160
"""Width of the layer table when the output is not a terminal."""

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold cyan"}


class TextReporter:
    """Writes a :class:`Report` for people: findings on ``stdout``, the summary and errors on ``stderr``."""

    def __init__(
        self,
        stdout: Console | IO[str],
        stderr: Console | IO[str],
        *,
        color: bool,
        show_layers: bool = True,
        show_fix: bool = True,
        show_header: bool = True,
        show_source: bool = False,
        show_probe: bool = True,
        show_context: bool = True,
    ) -> None:
        self.color = color
        self.show_context = show_context
        """How the model was built and fed, and the predicted verdict (off with ``--quiet``)."""
        self.show_layers = show_layers
        self.show_fix = show_fix
        self.show_header = show_header
        self.show_source = show_source
        self.show_probe = show_probe
        self.out = _console(stdout, color)
        self.err = _console(stderr, color)
        self._models_rendered = 0

    def render(self, report: Report) -> None:
        """Every model, then the errors and the summary."""
        for model in report.models:
            self.render_model(model)
        self.render_summary(report)

    def render_model(self, model: ModelReport) -> None:
        """One model: header, how it was built and fed, findings, the predicted verdict; the layer table and
        the gradient-flow profile with ``show_layers``. Call it as each model is linted to stream the output."""
        graph = model.graph
        if self.show_header:
            if self._models_rendered:
                self.out.print()
            self._line(self.out, self._header(graph))
            for line in intake_lines(graph) if self.show_context else ():
                self._line(self.out, Text(f"  {line}"))
            for attempt in graph.trace.failed:
                self._line(self.out, Text(f"  {attempt.method} failed: {one_line(attempt.error)}"))
            for line in (*meta_lines(model), *training_lines(model)):
                self._line(self.out, Text(f"  {line}"))
            for line in coverage_lines(model):
                self._line(self.out, Text(f"  {line}"))
            if self.show_probe:
                for line in (*probe_lines(model), *disagreement_lines(model)):
                    self._line(self.out, Text(f"  {line}"))
            for line in precision_lines(model):
                self._line(self.out, Text(f"  {line}"))
        self._models_rendered += 1
        for finding in model.findings:
            self._finding(finding, graph)
        rows = merged_rows(layer_rows(graph)) if self.show_layers else ()
        if rows:
            self.out.print(self._layer_table(rows))
        if self.show_layers and model.estimates is not None:  # the profile ends with the predicted verdict
            for line in profile_lines(model):
                self._line(self.out, Text(f"  {line}"))
        elif self.show_header and self.show_context and model.estimates is not None:
            verdict = model.estimates.verdict
            self._line(self.out, Text(f"  predicted: {verdict.verdict}: {one_line(verdict.reason)}"))

    def render_summary(self, report: Report) -> None:
        """The errors, one line each, then the summary line, on stderr."""
        for error in report.errors:
            # messages name their own file (``path:line: syntax error ...``), like every GradlintError
            report_it = f" {error.how_to_report}" if error.how_to_report else ""
            self._line(self.err, Text(f"gradlint: {one_line(error.message)}{report_it}"))
        for model in report.models:
            if model.probe_error is not None:
                self._line(
                    self.err, Text(f"gradlint: {model.graph.target}: probe failed: {one_line(model.probe_error)}")
                )
        self._line(self.err, Text(summary_line(tally(report))))

    def _header(self, graph: ModelGraph) -> Text:
        return Text.assemble(
            (graph.target, self._style("bold")),
            f" ({graph.name}, {graph.parameter_count:,} parameters, traced with {graph.trace.method})",
        )

    def _finding(self, finding: Finding, graph: ModelGraph) -> None:
        location = finding.location or SourceLocation(graph.source_path, 1)
        severity_style = self._style(_SEVERITY_STYLE[finding.severity])
        text = Text.assemble(
            (f"{display_path(location.path)}:{location.line}:{location.col}", self._style("bold")),
            ": ",
            (finding.code, severity_style),
            " ",
            (f"[{finding.severity.value}]", severity_style),
            " ",
            f"{finding.module}: " if finding.module else "",
            finding.message,
        )
        text.append(probe_outcome(finding), self._style("dim"))
        self._line(self.out, text)
        if self.show_source:
            for line in source_excerpt(location, finding.code):
                self._line(self.out, Text(line, style=severity_style if line.rstrip().endswith(finding.code) else ""))
        if self.show_fix:
            for related in finding.related:
                self._line(self.out, self._related(related, location))
        if self.show_fix and finding.fix is not None:
            first, *rest = finding.fix.description.splitlines() or [""]
            self._line(self.out, Text.assemble("    ", ("fix:", self._style("bold cyan")), " ", first))
            for line in rest:
                self._line(self.out, Text(f"         {line}".rstrip()))
            for line in (finding.fix.code or "").splitlines():
                self._line(self.out, Text(f"        {line}".rstrip()))

    def _related(self, related: RelatedLocation, fallback: SourceLocation) -> Text:
        where = related.location or fallback
        return Text.assemble(
            "    ",
            ("related:", self._style("bold")),
            f" {display_path(where.path)}:{where.line}:{where.col}: {related.code} [{related.severity.value}] ",
            f"{related.module}: " if related.module else "",
            related.message,
        )

    def _layer_table(self, rows: tuple[LayerRow, ...]) -> Table:
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
            header_style=self._style("bold"),
            border_style=self._style("dim"),
        )
        for header, justify in _COLUMNS:
            table.add_column(header, justify=justify, overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell) for cell in _layer_cells(row)))
        return table

    def _line(self, console: Console, text: Text) -> None:
        console.print(text, soft_wrap=True, highlight=False, markup=False, emoji=False)

    def _style(self, style: str) -> str:
        return style if self.color else ""


_COLUMNS = (
    ("layer", "left"),
    ("type", "left"),
    ("output shape", "left"),
    ("params", "right"),
    ("activation", "left"),
    ("init", "left"),
    ("weight std", "right"),
    ("line", "left"),
)

_MISSING = "-"


def _layer_cells(row: LayerRow) -> tuple[str, ...]:
    node, weight = row.node, row.weight
    name = node.module or node.name
    if node.call_count > 1:
        name += f" (x{node.call_count})"
    return (
        name,
        node.module_type or _MISSING,
        f"[{', '.join(map(str, node.shape))}]" if node.shape is not None else _MISSING,
        f"{node.params:,}",
        row.activation or _MISSING,
        weight.init.scheme if weight is not None else _MISSING,
        format_std(weight.std) if weight is not None else _MISSING,
        f"{display_path(node.location.path)}:{node.location.line}" if node.location is not None else _MISSING,
    )


def merged_rows(rows: tuple[LayerRow, ...]) -> tuple[LayerRow, ...]:
    """One row per module: a module called several times (a shared ReLU) keeps its first call's row,
    which shows the count."""
    seen: set[str] = set()
    merged = []
    for row in rows:
        key = row.node.module or row.node.name
        if key not in seen:
            seen.add(key)
            merged.append(row)
    return tuple(merged)


def intake_lines(graph: ModelGraph) -> tuple[str, ...]:
    """How the model was built and which inputs it was traced with, and how they were chosen."""
    lines = [f"built as {graph.built}"] if graph.built is not None else []
    if graph.inputs:
        by_origin: dict[str, list[str]] = {}
        for spec in graph.inputs:
            label = f"{spec.name}=" if spec.name is not None else ""
            by_origin.setdefault(spec.origin, []).append(f"{label}{tuple(spec.shape)} {spec.dtype}")
        described = "; ".join(f"{', '.join(shapes)} ({origin})" for origin, shapes in by_origin.items())
        lines.append(f"inputs: {described}")
    return tuple(lines)


def meta_lines(model: ModelReport) -> tuple[str, ...]:
    """Whether the model was analysed on the meta device, and why, and a probe it skipped; () for real weights."""
    lines = []
    if model.graph.meta is not None:
        lines.append(f"analysed on the meta device: {model.graph.meta}; {META_NOTE}")
    if model.probe_skipped is not None:
        lines.append(f"probe skipped: {model.probe_skipped}")
    return tuple(lines)


def training_lines(model: ModelReport) -> tuple[str, ...]:
    """The training check's one line: optimizer (and whether it is the default), verdict, max lr, clip."""
    check = model.estimates.training if model.estimates is not None else None
    if check is None:
        return ()
    setting = describe(check.optimizer)
    if check.optimizer.default:
        setting += "; the default, no optimizer configured: set --optimizer and --lr"
    numbers = [f"max lr {check.max_lr:.3g}" if check.max_lr is not None else "no lr predicted to train"]
    if check.recommended_clip_grad_norm is not None:
        numbers.append(f"clip_grad_norm {check.recommended_clip_grad_norm:g}")
    uncertain = f" (uncertain: {check.uncertain})" if check.uncertain else ""
    return (f"training check ({setting}): {check.verdict}{uncertain}: {one_line(check.reason)}; {', '.join(numbers)}",)


def coverage_lines(model: ModelReport) -> tuple[str, ...]:
    """What the estimate could not see of one model; () when it covered everything."""
    est = model.estimates
    if est is None or est.coverage.complete:
        return ()
    if est.coverage.low:
        return (
            f"estimate uncertain: it {est.coverage.summary()}; its verdict ({est.verdict.verdict}) rests on guesses",
        )
    return (f"estimate {est.coverage.summary()}",)


MAX_DISAGREEMENT_LINES = 10
"""The most per-weight disagreements the text report lists for one model (the JSON holds all of them)."""


def disagreement_lines(model: ModelReport) -> tuple[str, ...]:
    """Where the probe refutes the estimate, per weight, with the count; () without a probe or when they agree."""
    found = model.agreement
    if found is None or not found.count:
        return ()
    lines = [
        f"probe disagrees with the estimate on {found.count} of {_plural(found.weights, 'weight')} "
        f"(> {found.threshold:g} order apart, or blocked on one side only): the estimate is not to be trusted here"
    ]
    lines += [f"  {d.describe()}" for d in found.disagreements[:MAX_DISAGREEMENT_LINES]]
    if found.count > MAX_DISAGREEMENT_LINES:
        lines.append(f"  ... and {found.count - MAX_DISAGREEMENT_LINES} more")
    return tuple(lines)


def probe_lines(model: ModelReport) -> tuple[str, ...]:
    """The probe's verdict for one model, and the training-steps result when it ran; () without a probe."""
    probe = model.probe
    if model.probe_error is not None:
        return (f"probe failed: {one_line(model.probe_error)}",)
    if probe is None:
        return ()
    seeds = ",".join(str(s) for s in probe.seeds)
    lines = [f"probe ({probe.device}, seeds {seeds}): {probe.verdict}: {one_line(probe.verdict_reason)}"]
    steps = probe.steps
    if steps is not None:
        lines.append(
            f"probe steps ({steps.steps} x {describe(steps.optimizer)}): {steps.verdict}: {one_line(steps.reason)}"
        )
    return tuple(lines)


MAX_EXCERPT_LINES = 6
"""The most source lines the full form shows for one finding (a long constructor call is cut)."""


def source_excerpt(location: SourceLocation, code: str) -> tuple[str, ...]:
    """Ruff's full form: the call at ``location`` (else its statement) with a gutter, the first line underlined.

    ``()`` when the file cannot be read (a pseudo-path, a deleted file).
    """
    source = read_source(location.path)
    if source is None or not 1 <= location.line <= len(source.lines):
        return ()
    first = location.line
    _, last = source.call_span(first)
    last = min(max(last, first), first + MAX_EXCERPT_LINES - 1, len(source.lines))
    width = len(str(last))
    gutter = " " * width
    lines = [f"{gutter} |"]
    for number in range(first, last + 1):
        text = source.lines[number - 1].rstrip().expandtabs()
        lines.append(f"{number:>{width}} | {text}".rstrip())
        if number == first:
            start = max(location.col - 1, len(text) - len(text.lstrip()))
            carets = "^" * max(len(text) - start, 1)
            lines.append(f"{gutter} | {' ' * start}{carets} {code}")
    lines.append(f"{gutter} |")
    return tuple(lines)


def statistics_rows(report: Report) -> tuple[tuple[int, str, str, Severity], ...]:
    """``(count, code, name, most severe severity)`` per code, most frequent first, then by code."""
    rows: dict[str, list[Finding]] = {}
    for finding in report.findings:
        rows.setdefault(finding.code, []).append(finding)
    table = [
        (len(found), code, found[0].name, min((f.severity for f in found), key=SEVERITY_ORDER.index))
        for code, found in rows.items()
    ]
    return tuple(sorted(table, key=lambda row: (-row[0], row[1])))


def statistics_lines(report: Report) -> tuple[str, ...]:
    """``--statistics`` in text: ``  3  GL101  [error] vanishing-gradient`` per code, counts aligned."""
    rows = statistics_rows(report)
    if not rows:
        return ()
    count_width = max(len(str(n)) for n, *_ in rows)
    code_width = max(len(code) for _, code, _, _ in rows)
    return tuple(
        f"{n:>{count_width}}  {code:<{code_width}}  [{severity.value}] {name}" for n, code, name, severity in rows
    )


def format_std(value: float) -> str:
    """A weight statistic with 4 significant digits; ``nan``, ``inf``, ``-inf`` when not finite."""
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def summary_line(counts: Tally) -> str:
    """``Found 3 findings (1 error, 2 warnings) in 2 models.``, ``All checks passed: 5 models, no findings.`` ..."""
    failed = f" {_plural(counts.errors, 'target')} could not be checked." if counts.errors else ""
    if counts.findings:
        by_severity = ", ".join(
            _plural(n, severity.value, invariant=severity is Severity.INFO)
            for severity, n in counts.by_severity.items()
            if n
        )
        models = (
            _plural(counts.models, "model")
            if counts.models_with_findings == counts.models
            else f"{counts.models_with_findings} of {_plural(counts.models, 'model')}"
        )
        return f"Found {_plural(counts.findings, 'finding')} ({by_severity}) in {models}.{failed}{_uncertain(counts)}"
    if counts.errors and not counts.models:
        return f"No models checked.{failed}"
    if counts.errors:
        return f"No findings in {_plural(counts.models, 'model')}.{failed}{_uncertain(counts)}"
    if counts.models_uncertain:
        # a clean report the estimate mostly could not see is not a pass (DESIGN §2c)
        return f"No findings in {_plural(counts.models, 'model')}.{_uncertain(counts)}"
    return f"All checks passed: {_plural(counts.models, 'model')}, no findings."


def _uncertain(counts: Tally) -> str:
    if not counts.models_uncertain:
        return ""
    which = "it" if counts.models == 1 else _plural(counts.models_uncertain, "model")
    return f" The estimate is uncertain for {which}: it could not see most of the weights."


def _plural(n: int, noun: str, *, invariant: bool = False) -> str:
    return f"{n:,} {noun}" if n == 1 or invariant else f"{n:,} {noun}s"


def _console(stream: Console | IO[str], color: bool) -> Console:
    if isinstance(stream, Console):
        return stream
    return Console(
        file=stream,
        color_system="auto" if color else None,
        force_terminal=color,
        force_jupyter=False,
        width=None if _isatty(stream) else PIPE_WIDTH,
        highlight=False,
        markup=False,
        emoji=False,
    )


def _isatty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
