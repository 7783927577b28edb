"""A report as a notebook shows it: a rich table in a terminal, an HTML table in Jupyter.

``Report.__rich__`` and ``Report._repr_html_`` call these. Both show, per model, one header line
(target, parameters, trace method, the probe's verdict when it ran) and a table of findings
(location, code, severity, module, message, probe), then the summary line. User text is escaped:
rich markup in a message is printed as written, HTML in it is shown, never interpreted.
"""

from __future__ import annotations

import html

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradlint.report.flow import flow_charts
from gradlint.report.paths import display_path
from gradlint.report.plot_html import html_fragment
from gradlint.report.rows import one_line, tally
from gradlint.report.text import probe_lines, summary_line
from gradlint.types import Finding, ModelReport, Report, Severity

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold cyan"}
_SEVERITY_COLOR = {Severity.ERROR: "#c62828", Severity.WARNING: "#b26a00", Severity.INFO: "#00838f"}
_COLUMNS = ("location", "code", "severity", "module", "message", "probe")


def _location(finding: Finding, model: ModelReport) -> str:
    """``file:line`` of the finding; a finding with no source line (a model built in memory, a model-level
    finding) says so instead of pointing at line 1 of a file that may not exist."""
    if finding.location is None:
        return "(no source line)"
    return f"{display_path(finding.location.path)}:{finding.location.line}"


def _probe(finding: Finding) -> str:
    return "" if finding.confirmed is None else ("confirmed" if finding.confirmed else "refuted")


def _header(model: ModelReport) -> str:
    graph = model.graph
    return f"{graph.target} ({graph.name}, {graph.parameter_count:,} parameters, traced with {graph.trace.method})"


def rich_report(report: Report) -> RenderableType:
    """Headers, finding tables and the summary as one rich renderable."""
    parts: list[RenderableType] = []
    for model in report.models:
        parts.append(Text(_header(model), style="bold"))
        parts.extend(Text(f"  {line}") for line in probe_lines(model))
        if model.findings:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold")
            for column in _COLUMNS:
                table.add_column(column, overflow="fold")
            for finding in model.findings:
                table.add_row(
                    Text(_location(finding, model)),
                    Text(finding.code, style=_SEVERITY_STYLE[finding.severity]),
                    Text(finding.severity.value, style=_SEVERITY_STYLE[finding.severity]),
                    Text(finding.module or ""),
                    Text(finding.message),
                    Text(_probe(finding)),
                )
            parts.append(table)
        else:
            parts.append(Text("  no findings", style="dim"))
    for error in report.errors:
        parts.append(Text(f"gradlint: {one_line(error.message)}", style="red"))
    parts.append(Text(summary_line(tally(report))))
    return Group(*parts)


def html_report(report: Report) -> str:
    """The same content as an HTML fragment (every user string escaped)."""
    e = html.escape
    out = ['<div class="gradlint-report">']
    for model in report.models:
        out.append(f"<p><strong>{e(_header(model))}</strong></p>")
        for line in probe_lines(model):
            out.append(f"<p><code>{e(line)}</code></p>")
        if not model.findings:
            out.append("<p><em>no findings</em></p>")
            continue
        out.append("<table>")
        out.append("<thead><tr>" + "".join(f"<th>{c}</th>" for c in _COLUMNS) + "</tr></thead><tbody>")
        for f in model.findings:
            color = _SEVERITY_COLOR[f.severity]
            cells = (
                f"<td><code>{e(_location(f, model))}</code></td>",
                f'<td style="color:{color}"><strong>{e(f.code)}</strong></td>',
                f'<td style="color:{color}">{e(f.severity.value)}</td>',
                f"<td><code>{e(f.module or '')}</code></td>",
                f"<td>{e(f.message)}" + (f"<br><em>fix: {e(f.fix.description)}</em>" if f.fix else "") + "</td>",
                f"<td>{e(_probe(f))}</td>",
            )
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
    for error in report.errors:
        out.append(f'<p style="color:#c62828">gradlint: {e(one_line(error.message))}</p>')
    out.append(f"<p>{e(summary_line(tally(report)))}</p>")
    out.append("</div>")
    if any(model.graph.weights for model in report.models):
        out.append(html_fragment(flow_charts(report)))  # the chart, under the table, as report.plot() shows it
    return "\n".join(out)
