"""The lazy package face: the quick commands import no torch, and the names still resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

import gradlint

_CHECK = """
import sys
from gradlint.cli import main
code = main({args!r})
heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "gradlint.estimate", "gradlint.trace")))
print("HEAVY", heavy)
raise SystemExit(code)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["rule", "GL101"], ["rule", "--all"]])
def test_quick_commands_import_no_torch(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", _CHECK.format(args=args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout[-500:]


def test_import_gradlint_imports_no_torch() -> None:
    code = "import sys, gradlint; print('torch' in sys.modules, gradlint.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", gradlint.__version__], done.stderr


def test_public_names_resolve() -> None:
    from gradlint.api import LintOptions, lint
    from gradlint.probe.api import probe
    from gradlint.report.lint_report import LintReport
    from gradlint.types import Report

    assert gradlint.lint is lint and gradlint.LintOptions is LintOptions and gradlint.Report is LintReport
    assert issubclass(gradlint.Report, Report)  # the record, plus its presentations
    assert set(gradlint.__all__) <= set(dir(gradlint))
    assert gradlint.probe is probe  # the function, even after the subpackage gradlint.probe was imported
    with pytest.raises(AttributeError):
        _ = gradlint.no_such_name


def test_catalogue_matches_the_registry() -> None:
    from gradlint.catalog import rule_docs
    from gradlint.registry import all_rules

    registered = [(r.code, r.name, r.severity.value, r.kind, r.doc) for r in all_rules()]
    assert [(d.code, d.name, d.severity, d.kind, d.doc) for d in rule_docs()] == registered
