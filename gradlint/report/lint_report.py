"""``LintReport``: a run's report as the public API hands it out, with its presentations.

The record itself (``gradlint.types.Report``) is plain data; this subclass adds the views a notebook
or a script asks for: JSON text, a rich renderable, Jupyter's HTML and the gradient-flow picture.
``lint()`` and ``lint_paths()`` return it, and ``gradlint.Report`` names it.
"""

from __future__ import annotations

import os
from typing import Any

from gradlint.report.json_format import format_json
from gradlint.report.notebook import html_report, rich_report
from gradlint.report.plot import FlowPlot, plot_report
from gradlint.types import Report


class LintReport(Report):
    """A :class:`gradlint.types.Report` (``models``, ``errors``, ``findings``) that can show itself."""

    def to_json(self, *, indent: int | None = 2) -> str:
        """The JSON document of ``--format json`` (``docs/json-report.md``)."""
        return format_json(self, indent=indent)

    def __rich__(self) -> Any:
        """A rich renderable: per model a header and a findings table, then the summary."""
        return rich_report(self)

    def _repr_html_(self) -> str:
        """Jupyter's rendering: the same content as an HTML table."""
        return html_report(self)

    def plot(self, path: str | os.PathLike[str] | None = None) -> FlowPlot:
        """The gradient-flow picture: per weight, predicted (and probed) log10 gradient RMS with the threshold bands.

        ``path`` by extension: ``.html`` (one self-contained page), ``.png`` / ``.svg`` (matplotlib, the
        ``gradlint[plot]`` extra; one file per model, suffixed with the model's name when there are several).
        The returned object shows inline in Jupyter and lists the files written in ``.paths``.
        """
        return plot_report(self, path)
