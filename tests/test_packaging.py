"""The wheel carries the top-level rules/ folder as gradlint.rules, and the JSON schema."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_wheel_contains_rules_and_schema(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = tmp_path.glob("gradlint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    rule_files = {p.name for p in (ROOT / "rules").glob("*.py")}
    assert {f"gradlint/rules/{name}" for name in rule_files} <= names
    assert "gradlint/schema/report-v1.json" in names
    assert "gradlint/cli.py" in names
    # every subpackage of the source tree ships (a package missing from pyproject's list would not)
    for init in (ROOT / "gradlint").glob("*/__init__.py"):
        package = init.parent.name
        modules = {f"gradlint/{package}/{p.name}" for p in init.parent.glob("*.py")}
        assert modules <= names, sorted(modules - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gradlint = gradlint.cli:entry_point" in zipfile.ZipFile(wheel).read(entry_points).decode()
