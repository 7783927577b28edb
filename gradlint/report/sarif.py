"""SARIF 2.1.0, as GitHub code scanning reads it.

- ``tool.driver.rules``: every rule gradlint knows, sorted by code, so a ``ruleId`` and its
  ``ruleIndex`` never change between runs; each with ``shortDescription`` (the summary),
  ``fullDescription`` (*What it does*), ``help`` (the whole rule documentation, text and
  markdown), ``defaultConfiguration.level`` and ``properties.tags``.
- ``results``: one per finding, ``level`` ``error`` / ``warning`` / ``note`` (for ``info``), a
  ``message`` with the module path and the fix, one location whose ``uri`` is relative to the
  repository root (``uriBaseId`` ``%SRCROOT%``, declared in ``originalUriBaseIds``), a ``region``,
  and ``partialFingerprints`` built from file + model + code + module path — not from the line —
  so an alert keeps its identity when lines move (the same key as ``--baseline``).
- ``invocations[0]``: ``executionSuccessful`` is false when a target could not be linted; each
  such target is a ``toolExecutionNotifications`` entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gradlint._version import __version__
from gradlint.errors import ISSUE_URL
from gradlint.report.json_format import json_value
from gradlint.report.repo import repo_relative, repo_root
from gradlint.report.rows import probe_outcome
from gradlint.types import Finding, ModelGraph, RelatedLocation, Report, Severity, TargetError
from gradlint.types.report import finding_file, model_label

if TYPE_CHECKING:
    from gradlint.registry import Rule

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "gradlintFindingHash/v1"
INFORMATION_URI = ISSUE_URL.removesuffix("/issues")

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# GitHub sorts and filters alerts by this property.
_PROBLEM_SEVERITY = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "recommendation"}


def format_sarif(report: Report, rules: Sequence[Rule] | None = None, *, root: str | None = None) -> str:
    """The report as a SARIF 2.1.0 log (no trailing newline)."""
    return json.dumps(sarif_log(report, rules, root=root), indent=2, allow_nan=False)


def sarif_log(report: Report, rules: Sequence[Rule] | None = None, *, root: str | None = None) -> dict[str, Any]:
    if rules is None:
        from gradlint.registry import all_rules

        rules = all_rules()
    root = root or repo_root()
    descriptors = [_rule(rule) for rule in sorted(rules, key=lambda r: r.code)]
    known = {d["id"] for d in descriptors}
    for finding in report.findings:  # a rule outside the catalogue (a plugin, a test double)
        if finding.code not in known:
            known.add(finding.code)
            descriptors.append(_ad_hoc_rule(finding))
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    results = []
    seen: Counter[str] = Counter()
    for model in report.models:
        for finding in model.findings:
            results.append(_result(finding, model.graph, index, root, seen))
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gradlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": _directory_uri(root)}},
                "invocations": [_invocation(report.errors, root)],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _section(rule.doc, "What it does") or rule.summary},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": ["gradients", rule.kind],
            "problem.severity": _PROBLEM_SEVERITY[rule.severity],
        },
    }


def _ad_hoc_rule(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.code,
        "name": finding.name,
        "shortDescription": {"text": finding.name},
        "fullDescription": {"text": finding.name},
        "help": {"text": finding.name},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
        "properties": {"tags": ["gradients", finding.kind]},
    }


def _section(doc: str, title: str) -> str:
    """The text of ``## title`` in a rule docstring, joined into one paragraph."""
    _, found, rest = doc.partition(f"## {title}")
    if not found:
        return ""
    body = rest.split("\n## ", 1)[0]
    return " ".join(line.strip() for line in body.strip().splitlines() if line.strip())


def _result(
    finding: Finding, graph: ModelGraph, index: dict[str, int], root: str, seen: Counter[str]
) -> dict[str, Any]:
    path = finding_file(finding, graph)
    line, col = (finding.location.line, finding.location.col) if finding.location is not None else (1, 1)
    relative = repo_relative(path, root)
    key = "\0".join((relative or os.path.abspath(path), model_label(graph), finding.code, finding.module or ""))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    seen[digest] += 1
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": index[finding.code],
        "level": LEVELS[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact(path, relative),
                    "region": {"startLine": max(line, 1), "startColumn": max(col, 1)},
                },
                **(
                    {
                        "logicalLocations": [
                            {"name": finding.module, "fullyQualifiedName": f"{graph.name}.{finding.module}"}
                        ]
                    }
                    if finding.module
                    else {}
                ),
            }
        ],
        # the occurrence number keeps two findings with one key (weight and bias of a layer) apart
        "partialFingerprints": {FINGERPRINT_KEY: f"{digest}:{seen[digest]}"},
        "properties": {
            "severity": finding.severity.value,
            "kind": finding.kind,
            "model": graph.target,
            "module": finding.module,
            "confirmed": finding.confirmed,
            "evidence": {str(k): json_value(v) for k, v in finding.evidence.items()},
        },
    }
    if finding.related:
        result["relatedLocations"] = [
            _related(number, related, path, root) for number, related in enumerate(finding.related, 1)
        ]
    return result


def _related(number: int, related: RelatedLocation, path: str, root: str) -> dict[str, Any]:
    """A finding merged into this one (the same root cause), as SARIF's relatedLocations show it."""
    if related.location is not None and related.location.path:
        path = related.location.path
    relative = repo_relative(path, root)
    line, col = (related.location.line, related.location.col) if related.location is not None else (1, 1)
    module = f"{related.module}: " if related.module else ""
    return {
        "id": number,
        "physicalLocation": {
            "artifactLocation": _artifact(path, relative),
            "region": {"startLine": max(line, 1), "startColumn": max(col, 1)},
        },
        "message": {"text": f"{related.code} [{related.severity.value}] {module}{related.message}"},
    }


def _message(finding: Finding) -> str:
    text = f"{finding.module}: {finding.message}" if finding.module else finding.message
    text += probe_outcome(finding)
    if finding.fix is not None:
        text += f"\n\nFix: {finding.fix.description}"
        if finding.fix.code:
            text += f"\n\n{finding.fix.code}"
    return text


def _artifact(path: str, relative: str | None) -> dict[str, Any]:
    if relative is not None:
        return {"uri": _quote(relative), "uriBaseId": SRCROOT}
    if path.startswith("<"):
        return {"uri": _quote(path.strip("<>"))}
    return {"uri": _file_uri(os.path.abspath(path))}


def _quote(relative: str) -> str:
    from urllib.parse import quote

    return quote(relative, safe="/")


def _file_uri(path: str) -> str:
    from pathlib import Path

    return Path(path).as_uri()


def _directory_uri(root: str) -> str:
    uri = _file_uri(os.path.abspath(root))
    return uri if uri.endswith("/") else uri + "/"


def _invocation(errors: Sequence[TargetError], root: str) -> dict[str, Any]:
    notifications = []
    for error in errors:
        notification: dict[str, Any] = {"level": "error", "message": {"text": error.message}}
        path = error.file
        relative = repo_relative(path, root) if os.path.exists(path) else None
        if relative is not None:
            notification["locations"] = [{"physicalLocation": {"artifactLocation": _artifact(path, relative)}}]
        notifications.append(notification)
    return {"executionSuccessful": not errors, "toolExecutionNotifications": notifications}
