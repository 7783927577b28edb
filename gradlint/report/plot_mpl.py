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
    BAND_COLOR,
    EXPLODE_COLOR,
    PREDICTED_COLOR,
    PROBED_COLOR,
    SEVERITY_COLOR,
    VANISH_COLOR,
    FlowChart,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 100
MAX_LABELS = 80
_FORWARD_COLOR = "#2b8a3e"


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
    height = 6.5 + label_in
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
    with matplotlib.rc_context({"svg.hashsalt": "gradlint", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=figure_size(chart), dpi=DPI, layout="constrained")
        draw_chart(chart, fig)
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, format=fmt, dpi=DPI, metadata=metadata)


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
            [0.025] * len(blocked),
            "o",
            mfc="white",
            mec=PREDICTED_COLOR,
            ms=5,
            transform=ax.get_xaxis_transform(),
            zorder=4,
            gid="predicted-blocked",
            label="predicted: blocked",
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
                [0.025] * len(unmeasured),
                "D",
                mfc="white",
                mec=PROBED_COLOR,
                ms=4,
                transform=ax.get_xaxis_transform(),
                zorder=5,
                gid="probed-blocked",
                label="measured: blocked",
            )
    _mark_findings(ax, chart)

    ax.set_title(chart.subtitle, loc="left", fontsize=9, pad=16 if chart.flagged else 6)
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
    bottom.set_xlabel("weights in forward order (input → output)")

    handles, labels = [], []
    for axis in (ax, ax_fwd):
        if axis is not None:
            h, lab = axis.get_legend_handles_labels()
            handles += h
            labels += lab
    columns = max(2, min(len(labels), int(figure_size(chart)[0] / 1.9)))
    fig.legend(handles, labels, loc="outside lower center", ncol=columns, fontsize=8, frameon=False)


def _mark_findings(ax: Axes, chart: FlowChart) -> None:
    last_text = -1e9
    n = max(len(chart.points), 1)
    inches_per_weight = max(figure_size(chart)[0] - 1.6, 1.0) / n
    for p in chart.flagged:
        worst = p.worst
        assert worst is not None
        color = SEVERITY_COLOR[worst.severity]
        ax.axvspan(p.index - 0.5, p.index + 0.5, color=color, alpha=0.10, lw=0, zorder=1)
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
        if p.index - half > last_text + 0.1 / inches_per_weight:
            ax.text(
                p.index,
                1.02,
                p.badge,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                color=color,
                fontsize=8,
                fontweight="bold",
                clip_on=False,
            )
            last_text = p.index + half


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
