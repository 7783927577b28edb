"""The gradient-flow picture in files and in Jupyter: :func:`write_plot`, :class:`FlowPlot`.

What the chart shows is ``gradlint.report.flow``. Files by extension (:func:`write_plot`): ``.html`` is
one self-contained page (inline SVG, no script, no network) with every model stacked; ``.svg`` and
``.png`` go through matplotlib (the ``gradlint[plot]`` extra), one file per model: ``PATH`` itself
for a single model, else ``STEM-<model name>.png`` beside it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from gradlint.errors import UsageError
from gradlint.report.flow import FlowChart, flow_chart, flow_charts, short_label
from gradlint.types import Report

__all__ = ["FlowPlot", "check_plot_path", "flow_chart", "flow_charts", "plot_report", "short_label", "write_plot"]

HTML_SUFFIXES = (".html", ".htm")
MPL_SUFFIXES = (".png", ".svg")


# ---------------------------------------------------------------------------------------------
# Files


def check_plot_path(path: str | os.PathLike[str]) -> str:
    """The kind of file ``path`` asks for (``html``, ``png`` or ``svg``); a usage error otherwise.

    Checked before any model is linted, so a typo or a missing matplotlib fails fast.
    """
    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in MPL_SUFFIXES:
        from gradlint.report.plot_mpl import require_matplotlib

        require_matplotlib(path)
        return suffix[1:]
    raise UsageError(
        f"--plot {os.fspath(path)}: unknown picture format {suffix or '(no extension)'!r}; use .html, .svg or .png"
    )


def write_plot(
    report: Report, path: str | os.PathLike[str], charts: tuple[FlowChart, ...] | None = None
) -> tuple[Path, ...]:
    """Write the gradient-flow picture of every model in ``report``; returns the files written."""
    kind = check_plot_path(path)
    target = Path(path)
    charts = flow_charts(report) if charts is None else charts
    if kind == "html":
        from gradlint.report.plot_html import html_page

        _write_text(target, html_page(charts))
        return (target,)
    from gradlint.report.plot_mpl import save_chart

    paths = model_paths(target, charts)
    for chart, file in zip(charts, paths):
        try:
            save_chart(chart, file)
        except OSError as exc:
            raise UsageError(f"--plot {file}: {exc.strerror or exc}") from None
    return paths


def model_paths(path: Path, charts: Sequence[FlowChart]) -> tuple[Path, ...]:
    """``path`` for one chart; ``STEM-<model name>SUFFIX`` per chart for several (``-2``, ``-3`` on repeats)."""
    if len(charts) == 1:
        return (path,)
    seen: dict[str, int] = {}
    paths = []
    for chart in charts:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", chart.name).strip("_.") or "model"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}-{seen[name]}"
        paths.append(path.with_name(f"{path.stem}-{name}{path.suffix}"))
    return tuple(paths)


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--plot {path}: {exc.strerror or exc}") from None


class FlowPlot:
    """What ``Report.plot()`` returns: shown inline by Jupyter (inline SVG), with the files it wrote."""

    def __init__(self, charts: tuple[FlowChart, ...], paths: tuple[Path, ...] = ()) -> None:
        self.charts = charts
        self.paths = paths
        """The files written by ``report.plot(path)``; empty without a path."""

    def html(self) -> str:
        """One self-contained HTML page."""
        from gradlint.report.plot_html import html_page

        return html_page(self.charts)

    def _repr_html_(self) -> str:
        from gradlint.report.plot_html import html_fragment

        return html_fragment(self.charts)

    def __repr__(self) -> str:
        written = f", wrote {', '.join(str(p) for p in self.paths)}" if self.paths else ""
        return f"<gradient-flow picture of {len(self.charts)} model(s){written}>"


def plot_report(report: Report, path: str | os.PathLike[str] | None = None) -> FlowPlot:
    """``Report.plot``: write ``path`` when given (by extension), and return the inline chart."""
    charts = flow_charts(report)
    paths = write_plot(report, path, charts) if path is not None else ()
    return FlowPlot(charts, paths)
