"""The wild corpus (issues #14 and #15): real model files from PyPI packages, each linted by the one command
line a user would type (``tests/wild/manifest.toml``).

The provenance checks run by default: every file is listed in ``tests/wild/sources.toml`` with its
distribution, licence and the sha256 of the original, and is that original below its header. Linting
the corpus is marked ``wild`` (off by default, a few minutes: ``pytest -m wild``; ``.ci/run`` runs it).
An entry with a ``known`` reason is ``xfail(strict=True)``: when a fix makes it work the test fails
until the manifest drops the reason, so the list stays honest. ``benchmarks/wild.py`` prints the table.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from gradlint.cli import main

ROOT = Path(__file__).resolve().parent.parent
WILD = ROOT / "tests" / "wild"
HEADER_LINES = 3
MIN_ENTRIES = 30
PERMISSIVE = {"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0"}


def _toml(name: str) -> dict[str, Any]:
    with (WILD / name).open("rb") as handle:
        return tomllib.load(handle)


MANIFEST = _toml("manifest.toml")["model"]
SOURCES = _toml("sources.toml")["dist"]
LISTED = {path: (dist, digest) for dist in SOURCES for path, digest in dist["files"].items()}


def test_the_manifest_has_enough_distinct_real_files() -> None:
    files = [entry["file"] for entry in MANIFEST]
    assert len(files) >= MIN_ENTRIES
    assert len(set(files)) == len(files)
    for entry in MANIFEST:
        assert entry["expect"] in ("report", "error")
        assert (ROOT / entry["file"]).is_file(), entry["file"]
        assert entry["file"].removeprefix("tests/wild/") in LISTED, f"{entry['file']} has no provenance"
        # the command names the file itself (PATH or PATH:EXPR), as a user would type it
        assert entry["args"][0] == entry["file"] or entry["args"][0].startswith(entry["file"] + ":")


def test_every_file_is_listed_with_a_permissive_licence_and_its_text() -> None:
    on_disk = {p.relative_to(WILD).as_posix() for p in WILD.rglob("*.py") if "__pycache__" not in p.parts}
    assert on_disk == set(LISTED)
    for dist in SOURCES:
        assert dist["licence"] in PERMISSIVE, dist["name"]
        text = (WILD / dist["licence_file"]).read_text(encoding="utf-8")
        assert ("MIT License" in text) or ("Apache License" in text) or ("BSD" in text), dist["licence_file"]


@pytest.mark.parametrize("path", sorted(LISTED))
def test_each_file_is_the_original_below_its_header(path: str) -> None:
    dist, digest = LISTED[path]
    raw = (WILD / path).read_bytes()
    lines = raw.split(b"\n", HEADER_LINES)
    header = b"\n".join(lines[:HEADER_LINES]).decode("utf-8")
    assert f"{dist['name']}=={dist['version']}" in header
    assert dist["licence"] in header and f"LICENSES/{dist['name']}.txt" in header
    assert hashlib.sha256(lines[HEADER_LINES]).hexdigest() == digest, f"{path} differs from the published file"


def _params() -> list[Any]:
    params = []
    for entry in MANIFEST:
        marks = [pytest.mark.wild]
        if entry.get("known"):
            marks.append(pytest.mark.xfail(reason=entry["known"], strict=True))
        params.append(pytest.param(entry, id=entry["file"].removeprefix("tests/wild/"), marks=marks))
    return params


@pytest.mark.parametrize("entry", _params())
def test_the_one_command_line_lints_it(
    entry: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    code = main([*entry["args"], "--format", "json", "--no-color"])
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" not in err
    assert "internal error" not in err, err
    said = [line for line in err.splitlines() if line.startswith("gradlint:")]
    if entry["expect"] == "error":
        assert code == 2, err
        assert len(said) == 1, err  # one clear line
        return
    assert code in (0, 1), err
    report = json.loads(out)
    assert report["models"], err
    assert not report["errors"], report["errors"]
