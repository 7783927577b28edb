"""What the gradient-flow chart shows, shared by the HTML/SVG writer, the matplotlib writer and the profile.

One :class:`FlowChart` per model. The x axis is the weights in forward order (``graph.weights``);
the y axis is log10 gradient RMS: the prediction (a line with a marker per weight and its
finite-width band), the probe's measurement when it ran, the verdict's threshold bands shaded
(exploding at or above ``explode_max``, vanishing at or below ``vanish_min``) and the findings
marked on the weights of their module. A second panel shows the forward activation RMS (log10)
of each weight's module, predicted and, with the probe, measured. ``gradlint.report.plot`` writes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradlint.report.paths import display_path
from gradlint.types import (
    Estimates,
    Finding,
    ModelGraph,
    ModelReport,
    ProbeResult,
    Report,
    Severity,
    Verdict,
    VerdictThresholds,
)

# Okabe & Ito's colour-blind-safe palette for the lines and marks; the zones are pale tints of two of its hues.
# Every colour is drawn on the chart's own white background, so it reads the same in a light or a dark page.
SEVERITY_COLOR = {Severity.ERROR: "#b2182b", Severity.WARNING: "#a05a00", Severity.INFO: "#00728f"}
PREDICTED_COLOR = "#0072b2"
PROBED_COLOR = "#d55e00"
FORWARD_COLOR = "#009e73"
BAND_COLOR = "#9ecae1"
EXPLODE_COLOR = "#fbe3d6"
VANISH_COLOR = "#e3e9f4"
BLOCKED_COLOR = "#555555"
REASON_COLOR = "#cc79a7"
"""The verdict's reason (the span bracket, the threshold crossed): a hue no zone or series uses."""
HIGHLIGHT_COLOR = "#e6c800"
"""Columns of a finding: its own hue, not the exploding zone's."""
BACKGROUND = "#ffffff"
TEXT_COLOR = "#222222"
MUTED_TEXT = "#555555"


@dataclass(frozen=True)
class FindingMark:
    code: str
    severity: Severity
    message: str
    module: str | None


@dataclass(frozen=True)
class WeightPoint:
    """One weight, one x position."""

    index: int
    name: str
    module: str
    module_type: str
    shape: tuple[int, ...]
    predicted: float | None
    """Predicted log10 gradient RMS; None when no gradient reaches the weight (blocked) or no estimate ran."""
    band: tuple[float, float] | None
    """Finite-width band of the prediction (log10)."""
    probed: float | None
    """Measured log10 gradient RMS (NaN when non-finite); None without a probe or when blocked."""
    probed_blocked: bool
    probed_nonfinite: bool
    forward: float | None
    """Predicted log10 RMS of the output of the weight's module (its first call)."""
    probed_forward: float | None
    """Measured log10 RMS of the same output."""
    findings: tuple[FindingMark, ...]

    short_name: str = ""
    """The name without the prefix every weight of the chart shares (empty: the full name)."""

    @property
    def label(self) -> str:
        return short_label(self.short_name or self.name)

    @property
    def worst(self) -> FindingMark | None:
        """The most severe finding on this weight (the first of them), if any."""
        return max(self.findings, key=lambda m: m.severity.rank, default=None)

    @property
    def badge(self) -> str:
        """What the chart writes above a flagged weight: every code, the most severe first (``GL201, GL301``)."""
        worst = self.worst
        if worst is None:
            return ""
        return ", ".join(codes_of([worst, *self.findings]))

    def tooltip(self) -> str:
        """Every number about this weight, one per line: the hover text of the HTML chart."""
        shape = "x".join(str(d) for d in self.shape)
        lines = [f"#{self.index}  {self.name}", f"{self.module_type} [{shape}]"]
        lines.append(f"predicted: {fmt_log10(self.predicted)}")
        if self.band is not None and self.band[0] != self.band[1]:
            lines.append(f"finite-width band: {self.band[0]:.2f} .. {self.band[1]:.2f}")
        if self.probed is not None or self.probed_blocked or self.probed_nonfinite:
            lines.append(
                f"measured: {fmt_log10(self.probed, blocked=self.probed_blocked, nonfinite=self.probed_nonfinite)}"
            )
        if self.forward is not None:
            lines.append(f"forward RMS (predicted): 10^{self.forward:.2f}")
        if self.probed_forward is not None and math.isfinite(self.probed_forward):
            lines.append(f"forward RMS (measured): 10^{self.probed_forward:.2f}")
        lines.extend(f"{f.code} [{f.severity.value}] {f.message}" for f in self.findings)
        return "\n".join(lines)


@dataclass(frozen=True)
class AnchoredMark:
    """A finding on a module with no plotted weight (a LayerNorm, an activation), placed where it runs."""

    position: float
    """x position in weight units: between the last weight that ran before the module and the next one."""
    mark: FindingMark


@dataclass(frozen=True)
class Reason:
    """What decided a verdict, in a form a chart can draw."""

    verdict: str
    text: str
    """The verdict's reason line, as the text report prints it."""
    rule: str
    """``span`` (first-last span), ``max``/``min`` (a threshold crossed), ``nonfinite`` or ``none``."""
    series: str
    """``predicted`` or ``measured``."""
    first: int | None = None
    """Index of the first weight of the span (``span``)."""
    last: int | None = None
    """Index of the last weight of the span (``span``)."""
    at: int | None = None
    """Index of the weight that crossed the threshold (``max``/``min``)."""
    threshold: float | None = None
    """The threshold (log10) the rule compared with."""


@dataclass(frozen=True)
class FlowChart:
    """The chart of one model."""

    title: str
    """The target, as the text report's header names it."""
    name: str
    """The model's class name."""
    subtitle: str
    """Class name, the predicted verdict and, with the probe, the measured one."""
    points: tuple[WeightPoint, ...]
    thresholds: VerdictThresholds
    predicted_verdict: str | None
    probed_verdict: str | None
    other_findings: tuple[FindingMark, ...]
    """Findings that name no weight of the chart (model-level, or on a module without weights)."""
    has_probe: bool
    reasons: tuple[Reason, ...] = ()
    """Why each verdict is what it is: the prediction's first, then the measurement's."""
    anchored: tuple[AnchoredMark, ...] = ()
    common_prefix: str = ""
    """The dotted prefix every weight name shares, left out of the labels (hover shows the full name)."""
    caption: str = ""
    """What the values are: the protocol, and the probe's seeds when it ran."""
    left_out: str = ""
    """What the chart does not plot, and why (embedding tables); empty when nothing is left out."""

    @property
    def y_range(self) -> tuple[float, float]:
        """Whole decades that hold every value, the bands and both thresholds, with half a decade to spare."""
        values = [self.thresholds.explode_max, self.thresholds.vanish_min]
        for p in self.points:
            values.extend(v for v in (p.predicted, p.probed) if v is not None and math.isfinite(v))
            if p.band is not None:
                values.extend(v for v in p.band if math.isfinite(v))
        lo, hi = max(min(values), -60.0), min(max(values), 60.0)
        return math.floor(lo - 0.5), math.ceil(hi + 0.5)

    @property
    def forward_range(self) -> tuple[float, float] | None:
        values = [v for p in self.points for v in (p.forward, p.probed_forward) if v is not None and math.isfinite(v)]
        if not values:
            return None
        lo, hi = max(min(values), -60.0), min(max(values), 60.0)
        lo, hi = math.floor(lo - 0.25), math.ceil(hi + 0.25)
        return (lo, hi) if hi > lo else (lo - 1, hi + 1)

    @property
    def flagged(self) -> tuple[WeightPoint, ...]:
        return tuple(p for p in self.points if p.findings)


MIN_PREFIX = 8
"""A shared name prefix shorter than this stays in the labels."""


def codes_of(marks: list[FindingMark] | tuple[FindingMark, ...]) -> list[str]:
    """Distinct codes in first-seen order."""
    return list(dict.fromkeys(m.code for m in marks))


def common_prefix(names: list[str]) -> str:
    """The longest dotted prefix (ending in ``.``) shared by every name, kept short of any whole name."""
    if len(names) < 2:
        return ""
    split = [n.split(".") for n in names]
    shared: list[str] = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    shared = shared[: min(len(p) for p in split) - 1]  # never the whole of a name
    return ".".join(shared) + "." if shared else ""


def fmt_log10(value: float | None, *, blocked: bool = False, nonfinite: bool = False) -> str:
    if nonfinite or (value is not None and not math.isfinite(value)):
        return "non-finite"
    if value is None:
        return "blocked (exactly zero)" if blocked else "blocked (no gradient reaches it)"
    return f"10^{value:.2f}"


def short_label(name: str, width: int = 44) -> str:
    """``name`` without a trailing ``.weight``, cut in the middle to ``width`` (first part … last parts)."""
    label = name.removesuffix(".weight")
    if len(label) <= width:
        return label
    head, *rest = label.split(".")
    tail = ""
    for part in reversed(rest):
        candidate = f"{part}.{tail}" if tail else part
        if len(head) + 1 + len(candidate) > width:
            break
        tail = candidate
    if not tail:
        return label[: width - 1] + "…"
    return f"{head}…{tail}"


def flow_charts(report: Report) -> tuple[FlowChart, ...]:
    """One chart per model of ``report``, in report order."""
    return tuple(flow_chart(model) for model in report.models)


def flow_chart(model: ModelReport) -> FlowChart:
    graph, estimates, probe = model.graph, model.estimates, model.probe
    marks = [_mark(f) for f in model.findings]
    forward = _predicted_forward(graph, estimates)
    probed_forward = _probed_forward(probe)
    points = []
    placed: set[int] = set()
    prefix = common_prefix([w.name for w in graph.weights])
    if len(prefix) < MIN_PREFIX:
        prefix = ""  # "net." saves little and leaves bare numbers
    for index, weight in enumerate(graph.weights):
        predicted = band = None
        if estimates is not None:
            try:
                estimate_ = estimates.weight(weight.name)
            except KeyError:
                pass
            else:
                predicted, band = estimate_.log10_grad_rms, estimate_.band
        probed, probed_blocked, probed_nonfinite = None, False, False
        if probe is not None:
            try:
                measured = probe.weight(weight.name)
            except KeyError:
                pass
            else:
                probed, probed_blocked, probed_nonfinite = measured.log10_grad_rms, measured.blocked, measured.nonfinite
        own = [k for k, f in enumerate(model.findings) if _covers(f.module, weight.module)]
        placed.update(own)
        points.append(
            WeightPoint(
                index=index,
                name=weight.name,
                module=weight.module,
                module_type=weight.module_type,
                shape=weight.shape,
                predicted=predicted,
                band=band,
                probed=probed,
                probed_blocked=probed_blocked,
                probed_nonfinite=probed_nonfinite,
                forward=_nearest(weight.module, forward),
                probed_forward=_nearest(weight.module, probed_forward),
                findings=tuple(marks[k] for k in own),
                short_name=weight.name[len(prefix) :],
            )
        )
    predicted_verdict = estimates.verdict.verdict if estimates is not None else None
    probed_verdict = probe.verdict if probe is not None else None
    parts = [graph.name, f"{len(points)} weights"]
    if predicted_verdict is not None:
        parts.append(f"predicted: {predicted_verdict}")
    if probe is not None:
        parts.append(f"measured ({probe.device}): {probe.verdict}")
    thresholds = _thresholds(estimates, probe)
    index_of = {p.name: p.index for p in points}
    reasons = []
    if estimates is not None:
        reasons.append(_reason(estimates.verdict, "predicted", thresholds, index_of))
    if probe is not None and probe.verdict_details is not None:
        reasons.append(_reason(probe.verdict_details, "measured", thresholds, index_of))
    unplaced = [k for k in range(len(marks)) if k not in placed]
    local = _anchors(graph, [marks[k] for k in unplaced])
    anchors = {unplaced[i]: position for i, position in local.items()}
    return FlowChart(
        title=_title(graph),
        name=graph.name,
        subtitle=", ".join(parts),
        points=tuple(points),
        thresholds=thresholds,
        predicted_verdict=predicted_verdict,
        probed_verdict=probed_verdict,
        other_findings=tuple(marks[k] for k in unplaced if k not in anchors),
        has_probe=probe is not None,
        reasons=tuple(reasons),
        anchored=tuple(AnchoredMark(position, marks[k]) for k, position in sorted(anchors.items())),
        common_prefix=prefix,
        caption=_caption(probe),
        left_out=_left_out(graph),
    )


PROTOCOL = (
    "gradient RMS = ‖∂L/∂W‖/√numel under gradlint's reference protocol: the model as built in train() mode, "
    "floating inputs N(0, 1), loss sum(y·v)/batch with v ~ N(0, 1); forward RMS = RMS of the output of each "
    "weight's module"
)


def _caption(probe: ProbeResult | None) -> str:
    if probe is None:
        return PROTOCOL + "; predicted statically, no probe run"
    seeds = ", ".join(str(s) for s in probe.seeds)
    return PROTOCOL + f"; measured by the probe on {probe.device}, median over seeds {seeds}"


def _left_out(graph: ModelGraph) -> str:
    tables = sorted({n.module for n in graph.nodes if n.module_type == "Embedding" and n.module})
    if not tables:
        return ""
    return (
        f"{len(tables)} embedding table(s) not plotted ({', '.join(tables[:3])}{', ...' if len(tables) > 3 else ''}): "
        "a lookup's gradient reaches only the rows used, so the protocol leaves embeddings out of the verdict"
    )


def _reason(verdict_: Verdict, series: str, t: VerdictThresholds, index_of: dict[str, int]) -> Reason:
    """Which rule of DESIGN §2 decided ``verdict_`` (checked in the verdict's own order) and where."""
    base = {"verdict": verdict_.verdict, "text": verdict_.reason, "series": series}
    if verdict_.nonfinite:
        return Reason(rule="nonfinite", at=index_of.get(verdict_.nonfinite[0]), **base)
    if verdict_.max_value is None or verdict_.min_value is None or verdict_.span is None:
        return Reason(rule="none", **base)
    span = {"first": index_of.get(verdict_.first_weight or ""), "last": index_of.get(verdict_.last_weight or "")}
    if verdict_.max_value >= t.explode_max:
        return Reason(rule="max", at=index_of.get(verdict_.max_weight or ""), threshold=t.explode_max, **base)
    if verdict_.span >= t.explode_span:
        return Reason(rule="span", threshold=t.explode_span, **span, **base)
    if verdict_.min_value <= t.vanish_min:
        return Reason(rule="min", at=index_of.get(verdict_.min_weight or ""), threshold=t.vanish_min, **base)
    if verdict_.span <= t.vanish_span:
        return Reason(rule="span", threshold=t.vanish_span, **span, **base)
    return Reason(rule="none", **span, **base)


def _anchors(graph: ModelGraph, marks: list[FindingMark]) -> dict[int, float]:
    """Position of each unplaced finding (by its index in ``marks``) whose module runs in the graph."""
    weight_index: dict[str, int] = {}
    for index, weight in enumerate(graph.weights):
        weight_index.setdefault(weight.module, index)
    positions: dict[int, float] = {}
    last = -1
    for node in graph.nodes:
        module = node.module or ""
        if module in weight_index:
            last = max(last, weight_index[module])
        for k, mark in enumerate(marks):
            if k not in positions and _covers(mark.module, module):
                positions[k] = min(last + 0.5, max(len(graph.weights) - 0.5, 0.0))
    return positions


def _title(graph: ModelGraph) -> str:
    path, sep, attr = graph.target.rpartition(":")
    if sep and path.endswith(".py"):
        return f"{display_path(path)}:{attr}"
    return display_path(graph.target) if graph.target.endswith(".py") else graph.target


def _mark(finding: Finding) -> FindingMark:
    return FindingMark(finding.code, finding.severity, finding.message, finding.module)


def _covers(module: str | None, weight_module: str) -> bool:
    """A finding on ``module`` marks the weights of that module and of its submodules."""
    if module is None:
        return False
    if module == "":
        return False  # the whole model: listed beside the chart, not on every weight
    return weight_module == module or weight_module.startswith(module + ".")


def _thresholds(estimates: Estimates | None, probe: ProbeResult | None) -> VerdictThresholds:
    # The estimate does not keep its thresholds; the probe does, and both use the same ones (api).
    if probe is not None:
        return probe.thresholds
    return VerdictThresholds()


def _predicted_forward(graph: ModelGraph, estimates: Estimates | None) -> dict[str, float]:
    """Module path -> predicted log10 RMS of its first call's output."""
    if estimates is None:
        return {}
    out: dict[str, float] = {}
    for node in graph.nodes:
        if node.op != "call_module" or node.module is None or node.module in out:
            continue
        estimate_ = estimates.nodes_by_name.get(node.name)
        if estimate_ is not None and estimate_.forward_rms > 0 and math.isfinite(estimate_.forward_rms):
            out[node.module] = math.log10(estimate_.forward_rms)
    return out


def _nearest(module: str, values: dict[str, float]) -> float | None:
    """The value of ``module``, or of its nearest ancestor that has one (``out_proj`` runs inside its attention)."""
    while True:
        if module in values:
            return values[module]
        if not module:
            return None
        module = module.rpartition(".")[0]


def _probed_forward(probe: ProbeResult | None) -> dict[str, float]:
    if probe is None:
        return {}
    return {a.module: a.log10_rms for a in probe.activations if a.log10_rms is not None}
