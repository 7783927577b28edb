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
    BAND_COLOR,
    EXPLODE_COLOR,
    PREDICTED_COLOR,
    PROBED_COLOR,
    SEVERITY_COLOR,
    VANISH_COLOR,
    FindingMark,
    FlowChart,
    WeightPoint,
)

_STYLE = """
.gradlint-flow { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
.gradlint-flow section { margin: 0 0 2.5em 0; }
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

_FORWARD_COLOR = "#2b8a3e"
_ML, _MR, _MT = 64, 24, 64
_MAIN_H, _GAP, _FWD_H = 300, 26, 110
_STEP_MIN, _PLOT_MIN = 16, 560
_CHAR_W = 6.2
_TEXT_W = 7.0  # an 11px character, generously


def html_page(charts: Sequence[FlowChart]) -> str:
    """A complete, self-contained HTML document: every chart stacked."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>gradlint: gradient flow</title>\n</head>\n<body>\n"
        f"{html_fragment(charts)}\n</body>\n</html>\n"
    )


def html_fragment(charts: Sequence[FlowChart]) -> str:
    """The charts as one ``<div>`` with its own scoped style: what Jupyter shows inline."""
    parts = ['<div class="gradlint-flow">', f"<style>{_STYLE}</style>"]
    if not charts:
        parts.append("<p><em>no models</em></p>")
    parts.extend(_section(chart) for chart in charts)
    parts.append("</div>")
    return "\n".join(parts)


def _section(chart: FlowChart) -> str:
    e = html.escape
    out = ["<section>", f"<h2>{e(chart.title)}</h2>", f"<p>{e(chart.subtitle)}</p>"]
    if chart.points:
        out.append(f'<div class="scroll">{svg_chart(chart)}</div>')
    else:
        out.append("<p><em>no weights to plot</em></p>")
    listed = [(p.name, f) for p in chart.points for f in p.findings]
    seen: set[tuple[str, str | None, str]] = set()
    items = []
    for weight, f in listed:
        key = (f.code, f.module, f.message)
        if key in seen:
            continue
        seen.add(key)
        items.append(_finding_item(f, weight))
    items.extend(_finding_item(f, None) for f in chart.other_findings)
    if items:
        out.append('<ul class="findings">' + "".join(items) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def _finding_item(f: FindingMark, weight: str | None) -> str:
    e = html.escape
    where = f" <code>{e(f.module)}</code>" if f.module else ""
    return (
        f'<li><strong style="color:{SEVERITY_COLOR[f.severity]}">{e(f.code)} [{e(f.severity.value)}]</strong>'
        f"{where}: {e(f.message)}</li>"
    )


class _Frame:
    """Coordinates of one chart."""

    def __init__(self, chart: FlowChart) -> None:
        n = len(chart.points)
        self.step = max(_STEP_MIN, _PLOT_MIN / max(n, 1))
        self.plot_w = self.step * n
        self.width = _ML + self.plot_w + _MR
        self.lo, self.hi = chart.y_range
        self.main_top, self.main_bottom = _MT, _MT + _MAIN_H
        self.forward = chart.forward_range
        self.fwd_top = self.main_bottom + _GAP
        self.fwd_bottom = self.fwd_top + (_FWD_H if self.forward is not None else 0)
        label_chars = max((len(p.label) for p in chart.points), default=0)
        self.labels_top = self.fwd_bottom + 8
        self.height = self.labels_top + label_chars * _CHAR_W + 28

    def x(self, index: int) -> float:
        return _ML + self.step * (index + 0.5)

    def y(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return self.main_bottom - (value - self.lo) / (self.hi - self.lo) * _MAIN_H

    def yf(self, value: float) -> float:
        assert self.forward is not None
        lo, hi = self.forward
        value = min(max(value, lo), hi)
        return self.fwd_bottom - (value - lo) / (hi - lo) * _FWD_H


def svg_chart(chart: FlowChart) -> str:
    """The chart of one model as an ``<svg>`` element."""
    f = _Frame(chart)
    label = html.escape(f"gradient flow of {chart.title}: {chart.subtitle}", quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{f.width:.0f}" height="{f.height:.0f}" '
        f'viewBox="0 0 {f.width:.0f} {f.height:.0f}" role="img" aria-label="{label}">',
        *_zones(chart, f),
        *_grid(f),
        *_band(chart, f),
        *_series(chart, f),
        *_findings(chart, f),
        *_forward_panel(chart, f),
        *_labels(chart, f),
        *_legend(chart, f),
        *_hover(chart, f),
        "</svg>",
    ]
    return "\n".join(parts)


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
        yield _power_label(_ML - 6, y + 4, value)
        value += step
    yield f'<rect x="{_ML}" y="{f.main_top}" width="{f.plot_w:.1f}" height="{_MAIN_H}" fill="none" stroke="#999"/>'
    mid = (f.main_top + f.main_bottom) / 2
    yield f'<text x="14" y="{mid:.1f}" transform="rotate(-90 14 {mid:.1f})" text-anchor="middle">gradient RMS per weight</text>'


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
        else:  # blocked, or the estimate did not reach it: a hollow mark on the bottom edge
            yield (
                f'<circle class="mark pred blocked" data-weight="{name}" cx="{x:.1f}" cy="{f.main_bottom - 4:.1f}" '
                f'r="3.6" fill="#fff" stroke="{PREDICTED_COLOR}" stroke-width="1.4"/>'
            )
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
            y = f.main_bottom - 4
            yield (
                f'<rect class="mark probe blocked" data-weight="{name}" x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
                f'fill="#fff" stroke="{PROBED_COLOR}" transform="rotate(45 {x:.1f} {y:.1f})"/>'
            )


def _findings(chart: FlowChart, f: _Frame) -> Iterator[str]:
    last_text = -1e9
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
            f'<rect x="{x - f.step / 2:.1f}" y="{f.main_top}" width="{f.step:.1f}" height="{_MAIN_H}" '
            f'fill="{color}" fill-opacity="0.10"/>'
            f'<path d="M{x - 5:.1f},{f.main_top - 10:.1f} L{x + 5:.1f},{f.main_top - 10:.1f} L{x:.1f},{f.main_top - 2:.1f} Z" '
            f'fill="{color}"/>'
        )
        width = len(p.badge) * _TEXT_W
        if x - width / 2 > last_text + 8:
            yield f'<text x="{x:.1f}" y="{f.main_top - 14:.1f}" text-anchor="middle" fill="{color}">{html.escape(p.badge)}</text>'
            last_text = x + width / 2
        yield "</g>"


def _forward_panel(chart: FlowChart, f: _Frame) -> Iterator[str]:
    if f.forward is None:
        return
    lo, hi = f.forward
    step = _decade_step(hi - lo, _FWD_H)
    value = math.ceil(lo / step) * step
    while value <= hi:
        y = f.yf(value)
        yield f'<line x1="{_ML}" x2="{_ML + f.plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000" stroke-opacity="0.08"/>'
        yield _power_label(_ML - 6, y + 4, value)
        value += step
    yield f'<rect x="{_ML}" y="{f.fwd_top}" width="{f.plot_w:.1f}" height="{_FWD_H}" fill="none" stroke="#999"/>'
    mid = (f.fwd_top + f.fwd_bottom) / 2
    yield f'<text x="14" y="{mid:.1f}" transform="rotate(-90 14 {mid:.1f})" text-anchor="middle">forward RMS</text>'
    for attr, color, cls, dash in (
        ("forward", _FORWARD_COLOR, "pred", ""),
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
            f'fill="{color}">{html.escape(p.label)}</text>'
        )
    yield (
        f'<text x="{_ML}" y="{f.height - 6:.1f}">'
        "weights in forward order (input → output); hover for names and numbers</text>"
    )


def _legend(chart: FlowChart, f: _Frame) -> Iterator[str]:
    x, y = _ML, 16
    items = [
        (
            f'<line x1="0" x2="18" y1="0" y2="0" stroke="{PREDICTED_COLOR}" stroke-width="1.8"/>'
            f'<circle cx="9" cy="0" r="3.6" fill="{PREDICTED_COLOR}"/>',
            "predicted",
        ),
        (f'<rect x="0" y="-5" width="18" height="10" fill="{BAND_COLOR}" fill-opacity="0.55"/>', "finite-width band"),
    ]
    if chart.has_probe:
        items.append(
            (
                f'<line x1="0" x2="18" y1="0" y2="0" stroke="{PROBED_COLOR}" stroke-width="1.5" stroke-dasharray="5 3"/>'
                f'<rect x="5.8" y="-3.2" width="6.4" height="6.4" fill="{PROBED_COLOR}" transform="rotate(45 9 0)"/>',
                "measured (probe)",
            )
        )
    items.append((f'<line x1="0" x2="18" y1="0" y2="0" stroke="{_FORWARD_COLOR}" stroke-width="1.5"/>', "forward RMS"))
    if chart.has_probe:
        items.append(
            (
                f'<line x1="0" x2="18" y1="0" y2="0" stroke="{PROBED_COLOR}" stroke-width="1.5" stroke-dasharray="5 3"/>',
                "forward RMS (measured)",
            )
        )
    if chart.flagged:
        items.append(('<path d="M4,-5 L14,-5 L9,3 Z" fill="#c62828"/>', "finding"))
    t = chart.thresholds
    items.append(
        (
            f'<rect x="0" y="-6" width="18" height="12" fill="{EXPLODE_COLOR}" stroke="#888" stroke-width="0.5"/>',
            f"exploding (≥ 10^{t.explode_max:g})",
        )
    )
    items.append(
        (
            f'<rect x="0" y="-6" width="18" height="12" fill="{VANISH_COLOR}" stroke="#888" stroke-width="0.5"/>',
            f"vanishing (≤ 10^{t.vanish_min:g})",
        )
    )
    yield '<g class="legend">'
    row_end = f.width - _MR
    for swatch, text in items:
        width = 24 + len(text) * _CHAR_W + 18
        if x + width - 18 > row_end and x > _ML:
            x, y = _ML, y + 18
        yield f'<g transform="translate({x:.1f} {y})">{swatch}<text x="24" y="4">{html.escape(text)}</text></g>'
        x += width
    yield "</g>"


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
