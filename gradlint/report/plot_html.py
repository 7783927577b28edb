"""The gradient-flow picture as HTML with hand-written inline SVG: no script, no network, no dependency.

One ``<section>`` per model, stacked: a title, the verdicts, the chart, and the findings listed under it.
The chart has two panels sharing the x axis (the weights in forward order): log10 gradient RMS
(threshold zones shaded, the prediction with its band, the measurement when the probe ran, findings
marked above their weights) and the forward activation RMS of each weight's module. Every weight
is labelled on the x axis, and hovering anywhere over its column shows all its numbers (an SVG
``<title>``). The SVG is as wide as the model needs and scrolls sideways in a narrow window.
Elements carry classes (``mark pred``, ``mark probe``, ``zone explode`` ...) and ``data-weight``
so tests and user stylesheets can find them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence

from gradlint.report.flow import (
    BACKGROUND,
    BAND_COLOR,
    BLOCKED_COLOR,
    EXPLODE_COLOR,
    FORWARD_COLOR,
    HIGHLIGHT_COLOR,
    MUTED_TEXT,
    PREDICTED_COLOR,
    PROBED_COLOR,
    REASON_COLOR,
    SEVERITY_COLOR,
    TEXT_COLOR,
    VANISH_COLOR,
    FindingMark,
    FlowChart,
    Reason,
    WeightPoint,
)

_STYLE_TEMPLATE = """
.gradlint-flow { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: {TEXT}; background: {BACKGROUND}; color-scheme: light; padding: 12px 16px; border-radius: 6px;
  max-width: 100%; box-sizing: border-box; }
.gradlint-flow section { margin: 0 0 2.5em 0; }
.gradlint-flow .reason { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; }
.gradlint-flow .caption, .gradlint-flow .left-out { color: {MUTED}; font-size: 0.85em; }
.gradlint-flow .chart { display: flex; align-items: flex-start; }
.gradlint-flow .chart .yaxis { flex: none; }
.gradlint-flow .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.85em; margin: 6px 0; }
.gradlint-flow .legend span { white-space: nowrap; }
.gradlint-flow .legend svg { display: inline-block; vertical-align: middle; margin-right: 4px; }
.gradlint-flow table.summary { border-collapse: collapse; margin: 0 0 1.5em 0; font-size: 0.9em; }
.gradlint-flow table.summary th, .gradlint-flow table.summary td { border-bottom: 1px solid #ddd;
  padding: 2px 10px; text-align: left; }
.gradlint-flow h2 { font-size: 1.1em; margin: 0.2em 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
.gradlint-flow p { margin: 0.2em 0; }
.gradlint-flow .scroll { overflow-x: auto; }
.gradlint-flow svg { display: block; }
.gradlint-flow svg text { font-size: 11px; fill: #333; }
.gradlint-flow svg .tick { font-size: 10px; fill: #555; }
.gradlint-flow svg .wlabel { font-size: 10px; font-family: ui-monospace, Menlo, Consolas, monospace; }
.gradlint-flow svg .col:hover rect { fill-opacity: 0.07; }
.gradlint-flow ul.findings { margin: 0.4em 0; padding-left: 1.2em; font-size: 0.92em; }
.gradlint-flow code { font-family: ui-monospace, Menlo, Consolas, monospace; }
"""

_STYLE = (
    _STYLE_TEMPLATE.replace("{TEXT}", TEXT_COLOR).replace("{BACKGROUND}", BACKGROUND).replace("{MUTED}", MUTED_TEXT)
)

_AXIS_W = 64  # the fixed y axis, outside the scrolling plot
_ML, _MR, _MT = 10, 24, 64
_MAIN_H, _GAP, _FWD_H = 300, 30, 110
_LANE = 14  # the blocked lane under the gradient panel
_STEP_MIN, _PLOT_MIN = 16, 560
_CHAR_W = 6.2
_TEXT_W = 7.0  # an 11px character, generously
_BADGE_ROWS = 3


def html_page(charts: Sequence[FlowChart]) -> str:
    """A complete, self-contained HTML document: a summary of the models, then every chart stacked."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>gradlint: gradient flow</title>\n</head>\n<body>\n"
        f"{html_fragment(charts)}\n</body>\n</html>\n"
    )


def html_fragment(charts: Sequence[FlowChart]) -> str:
    """The charts as one ``<div>`` with its own scoped style and background: what Jupyter shows inline."""
    parts = ['<div class="gradlint-flow">', f"<style>{_STYLE}</style>"]
    if not charts:
        parts.append("<p><em>no models</em></p>")
    if len(charts) > 1:
        parts.append(summary_table(charts))
    parts.extend(_section(chart, k) for k, chart in enumerate(charts))
    parts.append("</div>")
    return "\n".join(parts)


def summary_table(charts: Sequence[FlowChart]) -> str:
    """One row per model, linking to its chart: verdicts, weights, findings."""
    e = html.escape
    rows = []
    for k, chart in enumerate(charts):
        findings = {m.code for p in chart.points for m in p.findings} | {m.code for m in chart.other_findings}
        findings |= {a.mark.code for a in chart.anchored}
        measured = e(chart.probed_verdict) if chart.probed_verdict else "—"
        rows.append(
            f'<tr><td><a href="#gradlint-model-{k}"><code>{e(chart.title)}</code></a></td>'
            f"<td>{len(chart.points)}</td><td>{e(chart.predicted_verdict or '—')}</td><td>{measured}</td>"
            f"<td>{e(', '.join(sorted(findings))) or '—'}</td></tr>"
        )
    return (
        '<table class="summary"><thead><tr><th>model</th><th>weights</th><th>predicted</th><th>measured</th>'
        "<th>findings</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _section(chart: FlowChart, k: int = 0) -> str:
    e = html.escape
    out = [f'<section id="gradlint-model-{k}">', f"<h2>{e(chart.title)}</h2>", f"<p>{e(chart.subtitle)}</p>"]
    out.extend(f'<p class="reason">{e(_reason_line(r))}</p>' for r in chart.reasons)
    if chart.points:
        f = _Frame(chart)
        out.append(_legend(chart))
        out.append(f'<div class="chart">{_yaxis(chart, f)}<div class="scroll">{svg_chart(chart, f)}</div></div>')
    else:
        out.append("<p><em>no weights to plot</em></p>")
    if chart.common_prefix:
        out.append(
            f'<p class="caption">weight names under <code>{e(chart.common_prefix)}</code> (hover for the full name)</p>'
        )
    if chart.caption:
        out.append(f'<p class="caption">{e(chart.caption)}</p>')
    if chart.left_out:
        out.append(f'<p class="left-out">{e(chart.left_out)}</p>')
    listed = [(p.name, f) for p in chart.points for f in p.findings]
    seen: set[tuple[str, str | None, str]] = set()
    items = []
    for weight, f in listed:
        key = (f.code, f.module, f.message)
        if key in seen:
            continue
        seen.add(key)
        items.append(_finding_item(f, weight))
    for anchored in chart.anchored:
        key = (anchored.mark.code, anchored.mark.module, anchored.mark.message)
        if key not in seen:
            seen.add(key)
            items.append(_finding_item(anchored.mark, None))
    items.extend(_finding_item(f, None) for f in chart.other_findings)
    if items:
        out.append('<ul class="findings">' + "".join(items) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def _reason_line(reason: Reason) -> str:
    return f"{reason.series}: {reason.verdict}, because {reason.text}"


def _finding_item(f: FindingMark, weight: str | None) -> str:
    e = html.escape
    where = f" <code>{e(f.module)}</code>" if f.module else ""
    return (
        f'<li><strong style="color:{SEVERITY_COLOR[f.severity]}">{e(f.code)} [{e(f.severity.value)}]</strong>'
        f"{where}: {e(f.message)}</li>"
    )


class _Frame:
    """Coordinates of one chart (the plot; the y axis beside it uses the same heights)."""

    def __init__(self, chart: FlowChart) -> None:
        n = len(chart.points)
        self.step = max(_STEP_MIN, _PLOT_MIN / max(n, 1))
        self.plot_w = self.step * n
        self.width = _ML + self.plot_w + _MR
        self.lo, self.hi = chart.y_range
        self.main_top, self.main_bottom = _MT, _MT + _MAIN_H
        self.lane = self.main_bottom + _LANE / 2 + 2
        self.forward = chart.forward_range
        self.fwd_top = self.main_bottom + _GAP
        self.fwd_bottom = self.fwd_top + (_FWD_H if self.forward is not None else 0)
        label_chars = max((len(p.label) for p in chart.points), default=0)
        self.labels_top = self.fwd_bottom + 8
        self.height = self.labels_top + label_chars * _CHAR_W + 28

    def x(self, index: float) -> float:
        return _ML + self.step * (index + 0.5)

    def y(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return self.main_bottom - (value - self.lo) / (self.hi - self.lo) * _MAIN_H

    def yf(self, value: float) -> float:
        assert self.forward is not None
        lo, hi = self.forward
        value = min(max(value, lo), hi)
        return self.fwd_bottom - (value - lo) / (hi - lo) * _FWD_H


def svg_chart(chart: FlowChart, frame: _Frame | None = None) -> str:
    """The plot of one model as an ``<svg>`` element (the y axis and legend sit outside it, fixed)."""
    f = frame or _Frame(chart)
    label = html.escape(f"gradient flow of {chart.title}: {chart.subtitle}", quote=True)
    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{f.width:.0f}" height="{f.height:.0f}" '
        f'viewBox="0 0 {f.width:.0f} {f.height:.0f}" role="img" aria-label="{label}" style="background:{BACKGROUND}">',
        *_zones(chart, f),
        *_grid(f),
        *_band(chart, f),
        *_series(chart, f),
        *_reasons(chart, f),
        *_findings(chart, f),
        *_anchored(chart, f),
        *_forward_panel(chart, f),
        *_labels(chart, f),
        *_hover(chart, f),
        "</svg>",
    ]
    return "\n".join(parts)


def _yaxis(chart: FlowChart, f: _Frame) -> str:
    """The y axes' ticks and titles as their own narrow ``<svg>``: it stays put while the plot scrolls."""
    parts = [
        f'<svg class="yaxis" xmlns="http://www.w3.org/2000/svg" width="{_AXIS_W}" height="{f.height:.0f}" '
        f'viewBox="0 0 {_AXIS_W} {f.height:.0f}" aria-hidden="true" style="background:{BACKGROUND}">'
    ]
    step = _decade_step(f.hi - f.lo, _MAIN_H)
    value = math.ceil(f.lo / step) * step
    while value <= f.hi:
        parts.append(_power_label(_AXIS_W - 4, f.y(value) + 4, value))
        value += step
    mid = (f.main_top + f.main_bottom) / 2
    parts.append(
        f'<text x="14" y="{mid:.1f}" transform="rotate(-90 14 {mid:.1f})" text-anchor="middle">gradient RMS per weight</text>'
    )
    if any(_is_blocked(p) for p in chart.points):
        parts.append(f'<text class="tick" x="{_AXIS_W - 4}" y="{f.lane + 3:.1f}" text-anchor="end">blocked</text>')
    if f.forward is not None:
        lo, hi = f.forward
        step = _decade_step(hi - lo, _FWD_H)
        value = math.ceil(lo / step) * step
        while value <= hi:
            parts.append(_power_label(_AXIS_W - 4, f.yf(value) + 4, value))
            value += step
        mid = (f.fwd_top + f.fwd_bottom) / 2
        parts.append(
            f'<text x="14" y="{mid:.1f}" transform="rotate(-90 14 {mid:.1f})" text-anchor="middle">forward RMS</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _zones(chart: FlowChart, f: _Frame) -> Iterator[str]:
    t = chart.thresholds
    x0, w = _ML, f.plot_w
    top, bottom = f.y(t.explode_max), f.y(t.vanish_min)
    yield (
        f'<rect class="zone explode" x="{x0}" y="{f.main_top}" width="{w:.1f}" height="{top - f.main_top:.1f}" '
        f'fill="{EXPLODE_COLOR}"><title>exploding: gradient RMS at or above 10^{t.explode_max:g}</title></rect>'
    )
    yield (
        f'<rect class="zone vanish" x="{x0}" y="{bottom:.1f}" width="{w:.1f}" height="{f.main_bottom - bottom:.1f}" '
        f'fill="{VANISH_COLOR}"><title>vanishing: gradient RMS at or below 10^{t.vanish_min:g}</title></rect>'
    )
    for value in (t.explode_max, t.vanish_min):
        y = f.y(value)
        yield f'<line class="threshold" x1="{x0}" x2="{x0 + w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#888" stroke-dasharray="4 3"/>'


def _decade_step(span: float, height: float) -> int:
    return next(s for s in (1, 2, 3, 5, 10, 20, 50, 100) if height / (span / s) >= 18)


def _grid(f: _Frame) -> Iterator[str]:
    step = _decade_step(f.hi - f.lo, _MAIN_H)
    value = math.ceil(f.lo / step) * step
    while value <= f.hi:
        y = f.y(value)
        yield f'<line x1="{_ML}" x2="{_ML + f.plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000" stroke-opacity="0.08"/>'
        value += step
    yield f'<rect x="{_ML}" y="{f.main_top}" width="{f.plot_w:.1f}" height="{_MAIN_H}" fill="none" stroke="#999"/>'


def _power_label(x: float, y: float, exponent: float) -> str:
    return (
        f'<text class="tick" x="{x:.1f}" y="{y:.1f}" text-anchor="end">10'
        f'<tspan dy="-4" font-size="8">{exponent:g}</tspan></text>'
    )


def _runs(points: Sequence[WeightPoint], ok: object) -> Iterator[list[WeightPoint]]:
    """Maximal runs of consecutive points for which ``ok(point)`` holds."""
    run: list[WeightPoint] = []
    for p in points:
        if ok(p):  # type: ignore[operator]
            run.append(p)
        elif run:
            yield run
            run = []
    if run:
        yield run


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _is_blocked(p: WeightPoint) -> bool:
    return p.predicted is None or (p.probed is None and p.probed_blocked)


def _band(chart: FlowChart, f: _Frame) -> Iterator[str]:
    def has_band(p: WeightPoint) -> bool:
        return p.band is not None and _finite(p.predicted) and all(math.isfinite(v) for v in p.band)

    for run in _runs(chart.points, has_band):
        if len(run) == 1:
            p = run[0]
            top, bottom = f.y(p.band[1]), f.y(p.band[0])  # type: ignore[index]
            yield (
                f'<rect class="band" x="{f.x(p.index) - 4:.1f}" y="{top:.1f}" width="8" height="{bottom - top:.1f}" '
                f'fill="{BAND_COLOR}" fill-opacity="0.55"/>'
            )
            continue
        upper = [(f.x(p.index), f.y(p.band[1])) for p in run]  # type: ignore[index]
        lower = [(f.x(p.index), f.y(p.band[0])) for p in reversed(run)]  # type: ignore[index]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
        yield f'<polygon class="band" points="{points}" fill="{BAND_COLOR}" fill-opacity="0.55" stroke="none"/>'


def _cross(x: float, y: float, cls: str, name: str, color: str) -> str:
    """The blocked mark: an x in the lane under the panel, never inside the vanishing zone."""
    return (
        f'<path class="{cls}" data-weight="{name}" d="M{x - 3.5:.1f},{y - 3.5:.1f} L{x + 3.5:.1f},{y + 3.5:.1f} '
        f'M{x - 3.5:.1f},{y + 3.5:.1f} L{x + 3.5:.1f},{y - 3.5:.1f}" stroke="{color}" stroke-width="1.6" fill="none"/>'
    )


def _series(chart: FlowChart, f: _Frame) -> Iterator[str]:
    for run in _runs(chart.points, lambda p: _finite(p.predicted)):
        if len(run) > 1:
            points = " ".join(f"{f.x(p.index):.1f},{f.y(p.predicted):.1f}" for p in run)  # type: ignore[arg-type]
            yield f'<polyline class="line pred" points="{points}" fill="none" stroke="{PREDICTED_COLOR}" stroke-width="1.8"/>'
    if chart.has_probe:
        for run in _runs(chart.points, lambda p: _finite(p.probed)):
            if len(run) > 1:
                points = " ".join(f"{f.x(p.index):.1f},{f.y(p.probed):.1f}" for p in run)  # type: ignore[arg-type]
                yield (
                    f'<polyline class="line probe" points="{points}" fill="none" stroke="{PROBED_COLOR}" '
                    'stroke-width="1.5" stroke-dasharray="5 3"/>'
                )
    for p in chart.points:
        x = f.x(p.index)
        name = html.escape(p.name, quote=True)
        if _finite(p.predicted):
            yield (
                f'<circle class="mark pred" data-weight="{name}" cx="{x:.1f}" cy="{f.y(p.predicted):.1f}" r="3.6" '  # type: ignore[arg-type]
                f'fill="{PREDICTED_COLOR}"/>'
            )
        else:
            yield _cross(x - 2, f.lane, "mark pred blocked", name, PREDICTED_COLOR)
        if not chart.has_probe:
            continue
        if p.probed_nonfinite or (p.probed is not None and not math.isfinite(p.probed)):
            y = f.main_top + 2
            yield (
                f'<path class="mark probe nonfinite" data-weight="{name}" d="M{x - 5:.1f},{y + 8:.1f} L{x + 5:.1f},{y + 8:.1f} '
                f'L{x:.1f},{y:.1f} Z" fill="{PROBED_COLOR}"/>'
            )
        elif p.probed is not None:
            y = f.y(p.probed)
            yield (
                f'<rect class="mark probe" data-weight="{name}" x="{x - 3.2:.1f}" y="{y - 3.2:.1f}" width="6.4" height="6.4" '
                f'fill="{PROBED_COLOR}" transform="rotate(45 {x:.1f} {y:.1f})"/>'
            )
        else:
            yield _cross(x + 2, f.lane, "mark probe blocked", name, PROBED_COLOR)


def _reasons(chart: FlowChart, f: _Frame) -> Iterator[str]:
    """The verdict's reason drawn: the first-last span as a bracket, or the crossed threshold and its weight."""
    for reason in chart.reasons:
        attr = "predicted" if reason.series == "predicted" else "probed"
        title = html.escape(_reason_line(reason))
        if reason.rule == "span" and reason.first is not None and reason.last is not None:
            first, last = chart.points[reason.first], chart.points[reason.last]
            g_first, g_last = getattr(first, attr), getattr(last, attr)
            if not (_finite(g_first) and _finite(g_last)):
                continue
            x0, x1 = f.x(first.index), f.x(last.index)
            y0, y1 = f.y(g_first), f.y(g_last)
            xm = x1 + min(f.step * 0.45, 10)
            label = f"span {g_first - g_last:+.2f}"
            yield (
                f'<g class="reason span-bracket" data-series="{reason.series}"><title>{title}</title>'
                f'<line x1="{x0:.1f}" x2="{xm:.1f}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="{REASON_COLOR}" '
                'stroke-width="1.4" stroke-dasharray="2 2"/>'
                f'<line x1="{x1:.1f}" x2="{xm:.1f}" y1="{y1:.1f}" y2="{y1:.1f}" stroke="{REASON_COLOR}" stroke-width="1.4"/>'
                f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" stroke="{REASON_COLOR}" stroke-width="2"/>'
                f'<text x="{xm - 4:.1f}" y="{(y0 + y1) / 2 + 4:.1f}" text-anchor="end" fill="{REASON_COLOR}" '
                f'font-weight="bold">{html.escape(label)}</text></g>'
            )
        elif reason.rule in ("max", "min") and reason.at is not None and reason.threshold is not None:
            point = chart.points[reason.at]
            value = getattr(point, attr)
            if not _finite(value):
                continue
            x, y, yt = f.x(point.index), f.y(value), f.y(reason.threshold)
            yield (
                f'<g class="reason threshold-crossed" data-series="{reason.series}"><title>{title}</title>'
                f'<line x1="{_ML}" x2="{_ML + f.plot_w:.1f}" y1="{yt:.1f}" y2="{yt:.1f}" stroke="{REASON_COLOR}" '
                'stroke-width="2"/>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="none" stroke="{REASON_COLOR}" stroke-width="2"/></g>'
            )


def _flag_runs(chart: FlowChart) -> Iterator[tuple[FindingMark, list[WeightPoint]]]:
    """Each finding with the consecutive weights it marks, one run at a time."""
    seen: dict[tuple[str, str | None, str], list[WeightPoint]] = {}
    marks: dict[tuple[str, str | None, str], FindingMark] = {}
    for p in chart.flagged:
        for m in p.findings:
            key = (m.code, m.module, m.message)
            seen.setdefault(key, []).append(p)
            marks[key] = m
    for key, points in seen.items():
        run: list[WeightPoint] = []
        for p in points:
            if run and p.index != run[-1].index + 1:
                yield marks[key], run
                run = []
            run.append(p)
        if run:
            yield marks[key], run


def _findings(chart: FlowChart, f: _Frame) -> Iterator[str]:
    for mark, run in _flag_runs(chart):
        x0 = f.x(run[0].index) - f.step / 2
        width = f.step * len(run)
        title = html.escape(f"{mark.code} [{mark.severity.value}] {mark.module or ''}: {mark.message}")
        yield (
            f'<rect class="finding-span" x="{x0:.1f}" y="{f.main_top}" width="{width:.1f}" height="{_MAIN_H}" '
            f'fill="{HIGHLIGHT_COLOR}" fill-opacity="0.10"><title>{title}</title></rect>'
        )
    rows: list[float] = [-1e9] * _BADGE_ROWS
    for p in chart.flagged:
        worst = p.worst
        assert worst is not None
        color = SEVERITY_COLOR[worst.severity]
        x = f.x(p.index)
        title = html.escape(
            "\n".join(f"{m.code} [{m.severity.value}] {m.module or ''}: {m.message}" for m in p.findings)
        )
        yield (
            f'<g class="finding" data-weight="{html.escape(p.name, quote=True)}"><title>{title}</title>'
            f'<path d="M{x - 5:.1f},{f.main_top - 10:.1f} L{x + 5:.1f},{f.main_top - 10:.1f} L{x:.1f},{f.main_top - 2:.1f} Z" '
            f'fill="{color}"/>'
        )
        yield from _badge(p.badge, x, color, rows, f)
        yield "</g>"


def _badge(text: str, x: float, color: str, rows: list[float], f: _Frame) -> Iterator[str]:
    """A label above the panel in the first row where it does not overlap the one before; never dropped."""
    width = len(text) * _TEXT_W
    row = next((r for r, end in enumerate(rows) if x - width / 2 > end + 6), None)
    if row is None:  # every row is taken here: the lowest row's end moves on, the label still shows
        row = min(range(len(rows)), key=lambda r: rows[r])
    rows[row] = x + width / 2
    y = f.main_top - 14 - 13 * row
    yield f'<text class="badge" x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="{color}">{html.escape(text)}</text>'


def _anchored(chart: FlowChart, f: _Frame) -> Iterator[str]:
    """Findings on a module with no plotted weight (a LayerNorm): a dashed marker where the module runs."""
    for anchored in chart.anchored:
        mark = anchored.mark
        color = SEVERITY_COLOR[mark.severity]
        x = f.x(anchored.position)
        title = html.escape(f"{mark.code} [{mark.severity.value}] {mark.module or ''}: {mark.message}")
        yield (
            f'<g class="finding unplotted" data-module="{html.escape(mark.module or "", quote=True)}"><title>{title}</title>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{f.main_top}" y2="{f.main_bottom}" stroke="{color}" '
            'stroke-width="1.5" stroke-dasharray="3 3"/>'
            f'<path d="M{x - 5:.1f},{f.main_top - 10:.1f} L{x + 5:.1f},{f.main_top - 10:.1f} L{x:.1f},{f.main_top - 2:.1f} Z" '
            f'fill="none" stroke="{color}" stroke-width="1.4"/>'
            f'<text x="{x:.1f}" y="{f.main_top - 14 - 13 * _BADGE_ROWS:.1f}" text-anchor="middle" fill="{color}">'
            f"{html.escape(mark.code)}</text></g>"
        )


def _forward_panel(chart: FlowChart, f: _Frame) -> Iterator[str]:
    if f.forward is None:
        return
    lo, hi = f.forward
    step = _decade_step(hi - lo, _FWD_H)
    value = math.ceil(lo / step) * step
    while value <= hi:
        y = f.yf(value)
        yield f'<line x1="{_ML}" x2="{_ML + f.plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000" stroke-opacity="0.08"/>'
        value += step
    yield f'<rect x="{_ML}" y="{f.fwd_top}" width="{f.plot_w:.1f}" height="{_FWD_H}" fill="none" stroke="#999"/>'
    for attr, color, cls, dash in (
        ("forward", FORWARD_COLOR, "pred", ""),
        ("probed_forward", PROBED_COLOR, "probe", ' stroke-dasharray="5 3"'),
    ):
        for run in _runs(chart.points, lambda p, a=attr: _finite(getattr(p, a))):
            points = " ".join(f"{f.x(p.index):.1f},{f.yf(getattr(p, attr)):.1f}" for p in run)
            if len(run) > 1:
                yield f'<polyline class="fwd {cls}" points="{points}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>'
            for p in run:
                yield (
                    f'<circle class="fwd-mark {cls}" cx="{f.x(p.index):.1f}" cy="{f.yf(getattr(p, attr)):.1f}" r="2.4" '
                    f'fill="{color}"/>'
                )


def _labels(chart: FlowChart, f: _Frame) -> Iterator[str]:
    y = f.labels_top
    for p in chart.points:
        x = f.x(p.index) + 3.5
        color = SEVERITY_COLOR[p.worst.severity] if p.worst is not None else "#333"
        yield (
            f'<text class="wlabel" x="{x:.1f}" y="{y:.1f}" transform="rotate(-90 {x:.1f} {y:.1f})" text-anchor="end" '
            f'fill="{color}"><title>{html.escape(p.name)}</title>{html.escape(p.label)}</text>'
        )
    yield (
        f'<text x="{_ML}" y="{f.height - 6:.1f}">'
        "weights in forward order (input → output); hover for names and numbers</text>"
    )


def _swatch(svg: str, text: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<span{klass}><svg width="22" height="14" viewBox="-2 -7 22 14" aria-hidden="true">{svg}</svg>'
        f"{html.escape(text)}</span>"
    )


def _legend(chart: FlowChart) -> str:
    """The legend as HTML above the chart: it wraps to the window and never scrolls away."""
    items = [
        _swatch(
            f'<line x1="0" x2="18" y1="0" y2="0" stroke="{PREDICTED_COLOR}" stroke-width="1.8"/>'
            f'<circle cx="9" cy="0" r="3.6" fill="{PREDICTED_COLOR}"/>',
            "predicted",
        ),
        _swatch(
            f'<rect x="0" y="-5" width="18" height="10" fill="{BAND_COLOR}" fill-opacity="0.55"/>', "finite-width band"
        ),
    ]
    if chart.has_probe:
        items.append(
            _swatch(
                f'<line x1="0" x2="18" y1="0" y2="0" stroke="{PROBED_COLOR}" stroke-width="1.5" stroke-dasharray="5 3"/>'
                f'<rect x="5.8" y="-3.2" width="6.4" height="6.4" fill="{PROBED_COLOR}" transform="rotate(45 9 0)"/>',
                "measured (probe)",
            )
        )
    if any(_is_blocked(p) for p in chart.points):
        items.append(
            _swatch(
                f'<path d="M5.5,-3.5 L12.5,3.5 M5.5,3.5 L12.5,-3.5" stroke="{BLOCKED_COLOR}" stroke-width="1.6"/>',
                "blocked: gradient exactly zero (left out of the verdict)",
                "legend-blocked",
            )
        )
    items.append(
        _swatch(f'<line x1="0" x2="18" y1="0" y2="0" stroke="{FORWARD_COLOR}" stroke-width="1.5"/>', "forward RMS")
    )
    if chart.has_probe:
        items.append(
            _swatch(
                f'<line x1="0" x2="18" y1="0" y2="0" stroke="{PROBED_COLOR}" stroke-width="1.5" stroke-dasharray="5 3"/>',
                "forward RMS (measured)",
            )
        )
    if chart.flagged or chart.anchored:
        items.append(
            _swatch(f'<path d="M4,-5 L14,-5 L9,3 Z" fill="{SEVERITY_COLOR[next(iter(SEVERITY_COLOR))]}"/>', "finding")
        )
    if chart.anchored:
        items.append(
            _swatch(
                '<line x1="9" x2="9" y1="-6" y2="6" stroke="#444" stroke-dasharray="3 3"/>',
                "finding on a layer with no plotted weight",
            )
        )
    if any(r.rule == "span" for r in chart.reasons):
        items.append(
            _swatch(f'<line x1="9" x2="9" y1="-6" y2="6" stroke="{REASON_COLOR}" stroke-width="2"/>', "first-last span")
        )
    if any(r.rule in ("max", "min") for r in chart.reasons):
        items.append(
            _swatch(
                f'<line x1="0" x2="18" y1="0" y2="0" stroke="{REASON_COLOR}" stroke-width="2"/>', "threshold crossed"
            )
        )
    t = chart.thresholds
    items.append(
        _swatch(
            f'<rect x="0" y="-6" width="18" height="12" fill="{EXPLODE_COLOR}" stroke="#888" stroke-width="0.5"/>',
            f"exploding (≥ 10^{t.explode_max:g})",
        )
    )
    items.append(
        _swatch(
            f'<rect x="0" y="-6" width="18" height="12" fill="{VANISH_COLOR}" stroke="#888" stroke-width="0.5"/>',
            f"vanishing (≤ 10^{t.vanish_min:g})",
        )
    )
    return '<div class="legend">' + "".join(items) + "</div>"


def _hover(chart: FlowChart, f: _Frame) -> Iterator[str]:
    """A transparent column per weight, on top, whose ``<title>`` names it and gives its numbers."""
    bottom = f.labels_top + max((len(p.label) for p in chart.points), default=0) * _CHAR_W
    for p in chart.points:
        x = f.x(p.index) - f.step / 2
        yield (
            f'<g class="col" data-weight="{html.escape(p.name, quote=True)}"><title>{html.escape(p.tooltip())}</title>'
            f'<rect x="{x:.1f}" y="{f.main_top}" width="{f.step:.1f}" height="{bottom - f.main_top:.1f}" '
            'fill="#000" fill-opacity="0"/></g>'
        )
