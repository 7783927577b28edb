"""Baselines: record today's findings once, then report only new ones.

A finding is keyed by **file + model + code + module path**, never by line number, so a baseline
survives edits that move a layer up or down. ``file`` is relative to the baseline file's folder
(POSIX separators), so the baseline works from any working directory and on any machine;
``model`` is the name after ``:`` in the model's target (``build_model``, ``Net``).
Each key carries a count: a second finding with the same key (e.g. NaN in a layer's bias as well
as its weight) is new.

The file::

    {
      "gradlint_baseline": 1,
      "findings": [
        {"file": "models/mlp.py", "model": "build_model", "code": "GL101", "module": "net.0",
         "count": 1, "message": "gradient RMS falls 10^-6.8 ..."}
      ]
    }

``message`` is for the reader only; it is not part of the key.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gradlint.errors import UsageError
from gradlint.types import Finding, ModelGraph, Report
from gradlint.types.report import finding_file, model_label

BASELINE_VERSION = 1

#: ``(file, model, code, module)``; module is ``""`` for a finding without one.
BaselineKey = tuple[str, str, str, str]


def relative_file(path: str, root: str) -> str:
    """``path`` relative to ``root`` with ``/`` separators; pseudo-paths (``<model>``) unchanged."""
    if not path or path.startswith("<"):
        return path
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


def finding_key(finding: Finding, graph: ModelGraph, root: str) -> BaselineKey:
    return (relative_file(finding_file(finding, graph), root), model_label(graph), finding.code, finding.module or "")


@dataclass(frozen=True)
class Baseline:
    """Known findings, loaded from a baseline file."""

    path: str
    counts: Mapping[BaselineKey, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def root(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    @classmethod
    def load(cls, path: str) -> Baseline:
        """Read a baseline file; a missing or malformed one is a usage error (exit 2)."""
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            raise UsageError(f"--baseline {path}: no such file; create it with --write-baseline {path}") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"--baseline {path}: cannot read it: {exc}") from None
        if not isinstance(document, dict) or document.get("gradlint_baseline") != BASELINE_VERSION:
            raise UsageError(f"--baseline {path}: not a gradlint baseline (version {BASELINE_VERSION})")
        counts: Counter[BaselineKey] = Counter()
        for entry in document.get("findings", []):
            try:
                key = (str(entry["file"]), str(entry["model"]), str(entry["code"]), str(entry.get("module") or ""))
                counts[key] += int(entry.get("count", 1))
            except (KeyError, TypeError, ValueError):
                raise UsageError(f"--baseline {path}: malformed entry {entry!r}") from None
        return cls(path, MappingProxyType(dict(counts)))

    def new_findings(self, findings: Sequence[Finding], graph: ModelGraph) -> tuple[Finding, ...]:
        """The findings of one model that the baseline does not account for, in their order."""
        budget = Counter(self.counts)
        kept = []
        for finding in findings:
            key = finding_key(finding, graph, self.root)
            if budget[key] > 0:
                budget[key] -= 1
            else:
                kept.append(finding)
        return tuple(kept)


def baseline_document(report: Report, root: str) -> dict[str, Any]:
    """The baseline of ``report``'s findings, paths relative to ``root``; entries sorted by key."""
    counts: Counter[BaselineKey] = Counter()
    messages: dict[BaselineKey, str] = {}
    for model in report.models:
        for finding in model.findings:
            key = finding_key(finding, model.graph, root)
            counts[key] += 1
            messages.setdefault(key, finding.message)
    return {
        "gradlint_baseline": BASELINE_VERSION,
        "findings": [
            {
                "file": f,
                "model": m,
                "code": c,
                "module": mod or None,
                "count": counts[(f, m, c, mod)],
                "message": messages[(f, m, c, mod)],
            }
            for f, m, c, mod in sorted(counts)
        ],
    }


def write_baseline(path: str, report: Report) -> int:
    """Write ``report``'s findings to ``path``; returns how many findings it holds."""
    document = baseline_document(report, os.path.dirname(os.path.abspath(path)))
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
    except OSError as exc:
        raise UsageError(f"--write-baseline {path}: cannot write it: {exc}") from None
    return sum(entry["count"] for entry in document["findings"])
