"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding.

GitHub turns each line into an annotation on the pull request's diff::

    ::error file=models/mlp.py,line=14,col=1,title=gradlint GL101 (vanishing-gradient)::models/mlp.py:14:1: GL101 ...

``file`` is relative to the repository root. Values are escaped exactly as the Actions toolkit
(``@actions/core``, ``command.ts``) escapes them: in the message ``%`` ``\\r`` ``\\n`` become
``%25`` ``%0D`` ``%0A``; in a property ``:`` and ``,`` also become ``%3A`` and ``%2C``. A fix
follows the finding on the annotation's next lines. A target that could not be linted is an
``::error`` too.
"""

from __future__ import annotations

from gradlint.report.repo import repo_relative, repo_root
from gradlint.report.rows import probe_outcome
from gradlint.types import Finding, ModelGraph, Report, Severity, TargetError
from gradlint.types.report import finding_file

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """A command's message, as ``escapeData`` of ``@actions/core`` writes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command property's value, as ``escapeProperty`` of ``@actions/core`` writes it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(report: Report, *, root: str | None = None) -> str:
    """Every finding and every target error as a workflow command, one per line (no trailing newline)."""
    root = root or repo_root()
    lines = [_finding(f, m.graph, root) for m in report.models for f in m.findings]
    lines += [_error(e, root) for e in report.errors]
    return "\n".join(lines)


def _command(name: str, properties: dict[str, str | int], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name} {props}::{escape_data(message)}" if props else f"::{name}::{escape_data(message)}"


def _finding(finding: Finding, graph: ModelGraph, root: str) -> str:
    path = finding_file(finding, graph)
    shown = repo_relative(path, root) or path
    line, col = (finding.location.line, finding.location.col) if finding.location is not None else (1, 1)
    message = f"{shown}:{line}:{col}: {finding.code} [{finding.severity.value}] "
    message += f"{finding.module}: {finding.message}" if finding.module else finding.message
    message += probe_outcome(finding)
    if finding.fix is not None:
        message += f"\nfix: {finding.fix.description}"
        if finding.fix.code:
            message += f"\n{finding.fix.code}"
    properties: dict[str, str | int] = {
        "file": shown,
        "line": line,
        "col": col,
        "title": f"gradlint {finding.code} ({finding.name})",
    }
    return _command(COMMANDS[finding.severity], properties, message)


def _error(error: TargetError, root: str) -> str:
    path = error.file
    relative = repo_relative(path, root)
    properties: dict[str, str | int] = {"file": relative} if relative is not None else {}
    properties["title"] = "gradlint: target could not be linted"
    return _command("error", properties, error.message)
