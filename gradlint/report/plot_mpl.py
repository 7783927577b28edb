"""The gradient-flow picture through matplotlib: ``.png`` and ``.svg``, one file per model.

matplotlib is an optional extra (``pip install 'gradlint[plot]'``), imported only here and only when a
picture is asked for; without it :func:`require_matplotlib` raises a usage error that says how to get it.
No pyplot: a bare ``Figure`` renders without a GUI backend and leaves no global state behind.

The figure is :func:`figure_size` inches at :data:`DPI` dots per inch, never cropped, so a PNG is
exactly ``round(width * DPI) x round(height * DPI)`` pixels. It widens with the number of weights
(every weight gets a tick; past :data:`MAX_LABELS` only every k-th weight and the flagged ones are labelled).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradlint.errors import UsageError
from gradlint.report.flow import (
    BACKGROUND,
    BAND_COLOR,
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
    FlowChart,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 200
"""Dots per inch of the PNG: sharp on HiDPI screens (the SVG is resolution-free)."""
MAX_LABELS = 80
FONTS = ["DejaVu Sans", "Liberation Sans", "Helvetica", "Arial", "sans-serif"]
"""The font list the files name: whichever the viewer has, ending in the generic family."""
_FORWARD_COLOR = FORWARD_COLOR


def require_matplotlib(path: str | os.PathLike[str]) -> None:
    """A usage error naming the extra when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        raise UsageError(f"--plot {os.fspath(path)} needs matplotlib: pip install 'gradlint[plot]'") from None


def label_font_size(n: int) -> float:
    return 8.0 if n <= 40 else 7.0 if n <= 70 else 6.0


def figure_size(chart: FlowChart) -> tuple[float, float]:
    """(width, height) in inches: wider with more weights, taller with longer weight names."""
    n = len(chart.points)
    width = min(max(3.2 + 0.22 * n, 9.0), 26.0)
    label_chars = max((len(p.label) for p in _labelled(chart)), default=4)
    label_in = label_chars * label_font_size(n) * 0.62 / 72
    height = 7.2 + label_in + 0.16 * len(chart.reasons)
    return round(width, 2), round(height, 2)


def pixel_size(chart: FlowChart) -> tuple[int, int]:
    """The size of the chart's PNG in pixels."""
    w, h = figure_size(chart)
    return round(w * DPI), round(h * DPI)


def _labelled(chart: FlowChart) -> list[Any]:
    n = len(chart.points)
    every = max(1, math.ceil(n / MAX_LABELS))
    return [p for p in chart.points if p.index % every == 0 or p.findings or p.index == n - 1]


def save_chart(chart: FlowChart, path: str | os.PathLike[str]) -> None:
    """Render ``chart`` to ``path`` (``.png`` or ``.svg``, by its extension)."""
    require_matplotlib(path)
    import matplotlib
    from matplotlib.figure import Figure

    fmt = Path(path).suffix.lower().lstrip(".")
    style = {
        "svg.hashsalt": "gradlint",
        "svg.fonttype": "none",
        "font.size": 9,
        "font.family": "sans-serif",
        "font.sans-serif": FONTS,
        "text.color": TEXT_COLOR,
        "axes.labelcolor": TEXT_COLOR,
        "xtick.color": TEXT_COLOR,
        "ytick.color": TEXT_COLOR,
    }
    with matplotlib.rc_context(style):
        # An opaque white figure: a transparent one shows dark-grey text on a dark notebook or viewer.
        fig = Figure(figsize=figure_size(chart), dpi=DPI, layout="constrained", facecolor=BACKGROUND)
        draw_chart(chart, fig)
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        if fmt == "svg":
            import io

            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", dpi=DPI, metadata=metadata, facecolor=BACKGROUND)
            Path(path).write_text(_with_hover(buffer.getvalue(), chart), encoding="utf-8")
        else:
            fig.savefig(path, format=fmt, dpi=DPI, metadata=metadata, facecolor=BACKGROUND)


def _with_hover(svg: str, chart: FlowChart) -> str:
    """The SVG with each weight's numbers as the ``<title>`` of its column (what the HTML chart shows on hover),
    and a font list with fallbacks where matplotlib names one font."""
    import html
    import re

    for p in chart.points:
        svg = svg.replace(
            f'<g id="column-{p.index}">', f'<g id="column-{p.index}">\n  <title>{html.escape(p.tooltip())}</title>', 1
        )
    fallback = ", ".join(f"'{f}'" if " " in f else f for f in FONTS)
    return re.sub(
        r"font-family: ?([^;\"]+)", lambda m: f"font-family: {fallback}" if "," not in m.group(1) else m.group(0), svg
    )


def draw_chart(chart: FlowChart, fig: Any) -> None:
    """Draw the two panels of ``chart`` on a matplotlib ``Figure``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    has_forward = chart.forward_range is not None
    grid = fig.add_gridspec(2 if has_forward else 1, 1, height_ratios=[3.0, 1.0] if has_forward else [1.0])
    ax = fig.add_subplot(grid[0])
    ax_fwd = fig.add_subplot(grid[1], sharex=ax) if has_forward else None
    n = len(chart.points)
    xs = list(range(n))
    power = FuncFormatter(lambda v, _pos: f"$10^{{{v:g}}}$")

    lo, hi = chart.y_range
    t = chart.thresholds
    ax.set_xlim(-0.6, max(n - 0.4, 0.6))
    ax.set_ylim(lo, hi)
    ax.axhspan(
        t.explode_max,
        hi,
        color=EXPLODE_COLOR,
        zorder=0,
        lw=0,
        gid="zone-explode",
        label=f"exploding (≥ $10^{{{t.explode_max:g}}}$)",
    )
    ax.axhspan(
        lo,
        t.vanish_min,
        color=VANISH_COLOR,
        zorder=0,
        lw=0,
        gid="zone-vanish",
        label=f"vanishing (≤ $10^{{{t.vanish_min:g}}}$)",
    )
    for value in (t.explode_max, t.vanish_min):
        ax.axhline(value, color="#888", ls=(0, (4, 3)), lw=0.9, zorder=1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    ax.yaxis.set_major_formatter(power)
    ax.grid(axis="y", color="#000", alpha=0.08)
    ax.set_ylabel("gradient RMS per weight")

    nan = float("nan")
    predicted = [p.predicted if _finite(p.predicted) else nan for p in chart.points]
    band_lo = [p.band[0] if p.band is not None and _finite(p.predicted) else nan for p in chart.points]
    band_hi = [p.band[1] if p.band is not None and _finite(p.predicted) else nan for p in chart.points]
    ax.fill_between(
        xs, band_lo, band_hi, color=BAND_COLOR, alpha=0.55, lw=0, zorder=2, gid="band", label="finite-width band"
    )
    ax.plot(xs, predicted, "-o", color=PREDICTED_COLOR, ms=4.5, lw=1.8, zorder=4, gid="predicted", label="predicted")
    blocked = [p.index for p in chart.points if not _finite(p.predicted)]
    if blocked:
        ax.plot(
            blocked,
            [-0.03] * len(blocked),
            "x",
            color=PREDICTED_COLOR,
            mew=1.6,
            ms=5,
            clip_on=False,
            transform=ax.get_xaxis_transform(),
            zorder=4,
            gid="predicted-blocked",
            label="blocked: gradient exactly zero (predicted)",
        )
    if chart.has_probe:
        probed = [p.probed if _finite(p.probed) else nan for p in chart.points]
        ax.plot(xs, probed, "--D", color=PROBED_COLOR, ms=4, lw=1.4, zorder=5, gid="probed", label="measured (probe)")
        nonfinite = [
            p.index
            for p in chart.points
            if p.probed_nonfinite or (p.probed is not None and not math.isfinite(p.probed))
        ]
        if nonfinite:
            ax.plot(
                nonfinite,
                [0.97] * len(nonfinite),
                "^",
                color=PROBED_COLOR,
                ms=7,
                transform=ax.get_xaxis_transform(),
                zorder=5,
                gid="probed-nonfinite",
                label="measured: non-finite",
            )
        unmeasured = [p.index for p in chart.points if p.probed is None and not p.probed_nonfinite]
        if unmeasured:
            ax.plot(
                unmeasured,
                [-0.03] * len(unmeasured),
                "x",
                color=PROBED_COLOR,
                mew=1.6,
                ms=5,
                clip_on=False,
                transform=ax.get_xaxis_transform(),
                zorder=5,
                gid="probed-blocked",
                label="blocked: gradient exactly zero (measured)",
            )
    _mark_findings(ax, chart)

    reasons = "\n".join(f"{r.series}: {r.verdict}, because {r.text}" for r in chart.reasons)
    title = chart.subtitle + (f"\n{reasons}" if reasons else "")
    ax.set_title(title, loc="left", fontsize=9, pad=16 if chart.flagged or chart.anchored else 6)
    _draw_reasons(ax, chart)
    _mark_anchored(ax, chart)
    for p in chart.points:  # one invisible column per weight: the SVG's hover text hangs on it
        ax.axvspan(p.index - 0.5, p.index + 0.5, alpha=0.0, lw=0, zorder=0, gid=f"column-{p.index}")
    fig.suptitle(chart.title, x=0.01, ha="left", fontweight="bold", fontsize=11)

    bottom = ax
    if ax_fwd is not None:
        bottom = ax_fwd
        flo, fhi = chart.forward_range  # type: ignore[misc]
        ax_fwd.set_ylim(flo, fhi)
        forward = [p.forward if _finite(p.forward) else nan for p in chart.points]
        ax_fwd.plot(xs, forward, "-o", color=_FORWARD_COLOR, ms=3, lw=1.4, label="forward RMS (predicted)")
        if chart.has_probe:
            measured = [p.probed_forward if _finite(p.probed_forward) else nan for p in chart.points]
            ax_fwd.plot(xs, measured, "--o", color=PROBED_COLOR, ms=2.5, lw=1.2, label="forward RMS (measured)")
        ax_fwd.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        ax_fwd.yaxis.set_major_formatter(power)
        ax_fwd.grid(axis="y", color="#000", alpha=0.08)
        ax_fwd.set_ylabel("forward RMS")
        ax.tick_params(axis="x", labelbottom=False)

    labelled = _labelled(chart)
    bottom.xaxis.set_major_locator(FixedLocator([p.index for p in labelled]))
    bottom.set_xticklabels([p.label for p in labelled], rotation=90, fontsize=label_font_size(n), family="monospace")
    for tick, p in zip(bottom.get_xticklabels(), labelled):
        if p.findings:
            tick.set_color(SEVERITY_COLOR[p.worst.severity])
    if len(labelled) < n:
        bottom.xaxis.set_minor_locator(FixedLocator(xs))
    notes = [chart.caption]
    if chart.common_prefix:
        notes.append(f"weight names under {chart.common_prefix}")
    if chart.left_out:
        notes.append(chart.left_out)
    caption = "\n".join(_wrap(n, figure_size(chart)[0]) for n in notes if n)
    bottom.set_xlabel("weights in forward order (input → output)\n" + caption, fontsize=7.5, color=MUTED_TEXT)

    handles, labels = [], []
    for axis in (ax, ax_fwd):
        if axis is not None:
            h, lab = axis.get_legend_handles_labels()
            handles += h
            labels += lab
    columns = max(2, min(len(labels), int(figure_size(chart)[0] / 1.9)))
    fig.legend(handles, labels, loc="outside lower center", ncol=columns, fontsize=8, frameon=False)


def _wrap(text: str, width_in: float) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=max(40, int(width_in * 17))))


def _draw_reasons(ax: Axes, chart: FlowChart) -> None:
    """The verdict's reason on the chart: the first-last span as a bracket, or the crossed threshold."""
    for reason in chart.reasons:
        attr = "predicted" if reason.series == "predicted" else "probed"
        if reason.rule == "span" and reason.first is not None and reason.last is not None:
            g0, g1 = getattr(chart.points[reason.first], attr), getattr(chart.points[reason.last], attr)
            if not (_finite(g0) and _finite(g1)):
                continue
            xm = reason.last + 0.35
            ax.plot([reason.first, xm], [g0, g0], color=REASON_COLOR, lw=1.2, ls=(0, (2, 2)), zorder=6)
            ax.plot([reason.last, xm], [g1, g1], color=REASON_COLOR, lw=1.2, zorder=6)
            ax.plot(
                [xm, xm],
                [g0, g1],
                color=REASON_COLOR,
                lw=2.0,
                zorder=6,
                gid=f"span-bracket-{reason.series}",
                label="first-last span" if reason is _first(chart, "span") else None,
            )
            ax.text(
                xm - 0.1,
                (g0 + g1) / 2,
                f"span {g0 - g1:+.2f}",
                color=REASON_COLOR,
                ha="right",
                va="center",
                fontweight="bold",
                fontsize=8,
            )
        elif reason.rule in ("max", "min") and reason.at is not None and reason.threshold is not None:
            value = getattr(chart.points[reason.at], attr)
            if not _finite(value):
                continue
            ax.axhline(
                reason.threshold,
                color=REASON_COLOR,
                lw=2.0,
                zorder=3,
                gid=f"threshold-crossed-{reason.series}",
                label="threshold crossed" if reason is _first(chart, "max", "min") else None,
            )
            ax.plot([reason.at], [value], "o", ms=13, mfc="none", mec=REASON_COLOR, mew=2.0, zorder=6)


def _first(chart: FlowChart, *rules: str) -> object:
    """The first reason drawn with one of ``rules``: the one that gets the legend entry."""
    return next((r for r in chart.reasons if r.rule in rules), None)


def _mark_anchored(ax: Axes, chart: FlowChart) -> None:
    """Findings on a layer with no plotted weight: a dashed line where the layer runs, its code above."""
    for k, anchored in enumerate(chart.anchored):
        color = SEVERITY_COLOR[anchored.mark.severity]
        ax.axvline(anchored.position, color=color, lw=1.4, ls=(0, (3, 3)), zorder=5, gid=f"unplotted-finding-{k}")
        ax.text(
            anchored.position,
            1.02,
            anchored.mark.code,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            color=color,
            fontsize=8,
            clip_on=False,
        )


def _mark_findings(ax: Axes, chart: FlowChart) -> None:
    rows = [-1e9, -1e9, -1e9]
    n = max(len(chart.points), 1)
    inches_per_weight = max(figure_size(chart)[0] - 1.6, 1.0) / n
    for p in chart.flagged:
        worst = p.worst
        assert worst is not None
        color = SEVERITY_COLOR[worst.severity]
        ax.axvspan(p.index - 0.5, p.index + 0.5, color=HIGHLIGHT_COLOR, alpha=0.10, lw=0, zorder=1)
        ax.plot(
            [p.index],
            [1.0],
            "v",
            color=color,
            ms=7,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=6,
            gid=f"finding-{p.index}",
        )
        half = len(p.badge) * 0.075 / 2 / inches_per_weight  # an 8pt bold character is ~0.075 in wide
        row = next((r for r, end in enumerate(rows) if p.index - half > end + 0.1 / inches_per_weight), None)
        if row is None:  # every row is taken here: the label still shows, over the lowest row's end
            row = min(range(len(rows)), key=lambda r: rows[r])
        rows[row] = p.index + half
        ax.text(
            p.index,
            1.02 + 0.05 * row,
            p.badge,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            color=color,
            fontsize=8,
            fontweight="bold",
            clip_on=False,
        )


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
