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
from gradlint.types import Estimates, Finding, ModelGraph, ModelReport, ProbeResult, Report, Severity, VerdictThresholds

SEVERITY_COLOR = {Severity.ERROR: "#c62828", Severity.WARNING: "#b26a00", Severity.INFO: "#00838f"}
PREDICTED_COLOR = "#1f5fa8"
PROBED_COLOR = "#d9480f"
BAND_COLOR = "#9cc3ea"
EXPLODE_COLOR = "#f8d7d3"
VANISH_COLOR = "#e4ddf2"


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

    @property
    def label(self) -> str:
        return short_label(self.name)

    @property
    def worst(self) -> FindingMark | None:
        """The most severe finding on this weight (the first of them), if any."""
        return max(self.findings, key=lambda m: m.severity.rank, default=None)

    @property
    def badge(self) -> str:
        """What the chart writes above a flagged weight: the most severe code, ``+N`` for the other codes."""
        worst = self.worst
        if worst is None:
            return ""
        others = len({m.code for m in self.findings} - {worst.code})
        return worst.code + (f"+{others}" if others else "")

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
            )
        )
    predicted_verdict = estimates.verdict.verdict if estimates is not None else None
    probed_verdict = probe.verdict if probe is not None else None
    parts = [graph.name, f"{len(points)} weights"]
    if predicted_verdict is not None:
        parts.append(f"predicted: {predicted_verdict}")
    if probe is not None:
        parts.append(f"measured ({probe.device}): {probe.verdict}")
    return FlowChart(
        title=_title(graph),
        name=graph.name,
        subtitle=", ".join(parts),
        points=tuple(points),
        thresholds=_thresholds(estimates, probe),
        predicted_verdict=predicted_verdict,
        probed_verdict=probed_verdict,
        other_findings=tuple(m for k, m in enumerate(marks) if k not in placed),
        has_probe=probe is not None,
    )


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
