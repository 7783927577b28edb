"""The text report's gradient-flow profile: one row per weight, input first, readable in 80 columns.

::

    gradient flow: log10 gradient RMS per weight, input first
    o predicted  - its finite-width band  x measured  * both  . vanishing <= -3 or exploding >= 3
    weight           -9       -6        -3       0        3         pred   meas
    net.0.weight   ...o......................|                 |...  -8.83  -8.72  GL102
    ...
    predicted: vanishing: min log10 gradient RMS -8.83 at net.0.weight <= -3

Plain ASCII, no colour needed: the shaded dots are the verdict's threshold bands, ``|`` their edges.
A blocked weight (no gradient reaches it) shows ``blocked`` and no marker; a non-finite measurement
``nan`` and a ``!`` at the right edge. Long models keep the first, last, extreme and flagged
weights and elide runs of the rest (``... 7 more``).
"""

from __future__ import annotations

import math

from gradlint.report.flow import FlowChart, WeightPoint, flow_chart, short_label
from gradlint.types import ModelReport

WIDTH = 78
"""80 columns less the text report's two-space indent."""
MAX_ROWS = 60
"""Weights shown before the profile elides the unremarkable ones."""

_NAME_MIN, _NAME_MAX = 12, 30
_BAR_MIN = 24
_NUM = 7  # " -12.34"


def profile_lines(model: ModelReport, *, width: int = WIDTH, max_rows: int = MAX_ROWS) -> tuple[str, ...]:
    """The profile of one model, unindented lines of at most ``width`` columns; ``()`` without estimates or weights."""
    if model.estimates is None or not model.graph.weights:
        return ()
    chart = flow_chart(model)
    return _render(chart, width, max_rows, model.estimates.verdict.reason)


def _render(chart: FlowChart, width: int, max_rows: int, reason: str) -> tuple[str, ...]:
    t = chart.thresholds
    probe = chart.has_probe
    flags = {p.index: p.badge for p in chart.points}  # the most severe code, +N for the others
    flag_w = max((len(f) for f in flags.values()), default=0)
    numbers = 2 if probe else 1
    labels = {p.index: short_label(p.name) for p in chart.points}  # the full names: a profile has room
    name_w = min(max(_NAME_MIN, max(len(label) for label in labels.values())), _NAME_MAX)
    fixed = name_w + 1 + _NUM * numbers + (2 + flag_w if flag_w else 0)
    bar_w = width - fixed
    if bar_w < _BAR_MIN:
        name_w = max(_NAME_MIN, name_w - (_BAR_MIN - bar_w))
        bar_w = max(_BAR_MIN, width - (name_w + 1 + _NUM * numbers + (2 + flag_w if flag_w else 0)))
    lo, hi = chart.y_range
    scale = _Scale(lo, hi, bar_w)

    legend = "o predicted  - its finite-width band" + ("  x measured  * both" if probe else "")
    zones = f". vanishing (<= {t.vanish_min:g}) and exploding (>= {t.explode_max:g}) zones, | their edges"
    lines = ["gradient flow: log10 gradient RMS per weight, input first", legend, zones]
    head = "weight".ljust(name_w) + " " + scale.ticks() + "pred".rjust(_NUM) + ("meas".rjust(_NUM) if probe else "")
    lines.append(head.rstrip())
    shown = _rows_to_show(chart.points, max_rows)
    previous = -1
    for point in chart.points:
        if point.index not in shown:
            continue
        if point.index > previous + 1:
            lines.append(f"{'':{name_w}} ... {point.index - previous - 1} more")
        previous = point.index
        label = labels[point.index]
        if len(label) > name_w:
            label = label[: name_w - 1] + "~"
        row = f"{label:<{name_w}} {scale.row(point, t.vanish_min, t.explode_max)}"
        row += _number(point.predicted, blocked=True)
        if probe:
            row += _number(point.probed, blocked=point.probed_blocked, nonfinite=point.probed_nonfinite)
        if flags[point.index]:
            row += "  " + flags[point.index]
        lines.append(row.rstrip())
    if previous < len(chart.points) - 1:
        lines.append(f"{'':{name_w}} ... {len(chart.points) - 1 - previous} more")
    lines.append(f"predicted: {chart.predicted_verdict}: {reason}")
    return tuple(lines)


class _Scale:
    """Maps log10 values in [lo, hi] onto ``width`` character columns."""

    def __init__(self, lo: float, hi: float, width: int) -> None:
        self.lo, self.hi, self.width = lo, hi, width

    def col(self, value: float) -> int:
        value = min(max(value, self.lo), self.hi)
        return round((value - self.lo) / (self.hi - self.lo) * (self.width - 1))

    def value(self, col: int) -> float:
        return self.lo + col * (self.hi - self.lo) / (self.width - 1)

    def ticks(self) -> str:
        """Tick labels over their columns: multiples of a step at least 6 columns apart."""
        per_decade = (self.width - 1) / (self.hi - self.lo)
        step = next((s for s in (1, 3, 6, 9, 15, 30, 60) if s * per_decade >= 6), 120)
        cells = [" "] * (self.width + 4)
        tick = math.ceil(self.lo / step) * step
        while tick <= self.hi:
            text = f"{tick:g}"
            start = self.col(tick) - len(text) // 2 if tick < 0 else self.col(tick) - (len(text) - 1) // 2
            start = max(0, min(start, len(cells) - len(text)))
            if all(c == " " for c in cells[max(0, start - 1) : start + len(text) + 1]):
                cells[start : start + len(text)] = text
            tick += step
        return "".join(cells)[: self.width].ljust(self.width)

    def row(self, point: WeightPoint, vanish_min: float, explode_max: float) -> str:
        cells = [
            "." if self.value(c) < vanish_min - 1e-9 or self.value(c) > explode_max + 1e-9 else " "
            for c in range(self.width)
        ]
        if point.band is not None and point.predicted is not None and all(math.isfinite(v) for v in point.band):
            for c in range(self.col(point.band[0]), self.col(point.band[1]) + 1):
                cells[c] = "-"
        for edge in (vanish_min, explode_max):
            if self.lo <= edge <= self.hi:
                cells[self.col(edge)] = "|"
        marks: dict[int, str] = {}
        if point.predicted is not None:
            marks[self._at(point.predicted)] = "o"
        if point.probed_nonfinite or (point.probed is not None and not math.isfinite(point.probed)):
            marks[self.width - 1] = "!"
        elif point.probed is not None:
            c = self._at(point.probed)
            marks[c] = "*" if marks.get(c) == "o" else "x"
        for c, mark in marks.items():
            cells[c] = mark
        return "".join(cells)

    def _at(self, value: float) -> int:
        if not math.isfinite(value):
            return self.width - 1 if value > 0 else 0
        return self.col(value)


def _number(value: float | None, *, blocked: bool = False, nonfinite: bool = False) -> str:
    if nonfinite or (value is not None and not math.isfinite(value)):
        text = "nan"
    elif value is None:
        text = "blocked" if blocked else "-"
    else:
        text = f"{value:.2f}"
    return " " + text.rjust(_NUM - 1)


def _rows_to_show(points: tuple[WeightPoint, ...], max_rows: int) -> set[int]:
    """Every index when they fit in ``max_rows`` lines; else the first, last, extreme and flagged weights and
    others spread evenly, so that rows and ``... N more`` lines together stay near ``max_rows``."""
    n = len(points)
    if n <= max_rows:
        return set(range(n))
    keep = {0, n - 1}
    keep.update(p.index for p in points if p.findings)
    for attr in ("predicted", "probed"):
        values = [(getattr(p, attr), p.index) for p in points if getattr(p, attr) is not None]
        values = [(v, i) for v, i in values if math.isfinite(v)]
        if values:
            keep.add(min(values)[1])
            keep.add(max(values)[1])
    room = max_rows // 2 - len(keep)
    if room > 0:
        keep.update(round(k * (n - 1) / (room + 1)) for k in range(1, room + 1))
    # a gap of one weight costs a line either way: show the weight
    keep.update(i for i in range(1, n - 1) if i - 1 in keep and i + 1 in keep)
    return keep
