"""benchmarks/speed.py still runs: one model, no probe, no weightwatcher, no 70B (off by default: ``pytest -m benchmark``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.benchmark, pytest.mark.slow]


def test_speed_benchmark_measures_one_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    spec = importlib.util.spec_from_file_location("speed", ROOT / "benchmarks" / "speed.py")
    assert spec is not None and spec.loader is not None
    speed = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "speed", speed)  # dataclasses look their module up there
    spec.loader.exec_module(speed)
    out = tmp_path / "speed.json"
    args = [
        "--models",
        "gpt2",
        "--skip-probe",
        "--skip-weightwatcher",
        "--skip-70b",
        "--skip-scaling",
        "--json",
        str(out),
    ]
    assert speed.main(args) == 0
    (row,) = json.loads(out.read_text(encoding="utf-8"))["models"]
    assert row["model"] == "gpt2" and row["parameters"] > 100_000_000
    assert 0 < row["lint_after_build_s"] < row["lint_s"] and row["build_s"] > 0 and row["analysis_s"] > 0
    assert row["probe_s"] is None and row["weightwatcher_s"] is None
    table = capsys.readouterr().out
    assert "| gpt2 | 124.4 M |" in table
