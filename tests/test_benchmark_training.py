"""benchmarks/training.py: the thresholds in the code are the ones its fit finds on the kept rows, and the
agreement it reports is what the README says (off by default: ``pytest -m benchmark``)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from gradlint.estimate import training

from .conftest import ROOT

pytestmark = [pytest.mark.benchmark]


def test_code_thresholds_are_the_fit_on_the_kept_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numpy")
    spec = importlib.util.spec_from_file_location("training_benchmark", ROOT / "benchmarks" / "training.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "training_benchmark", bench)
    spec.loader.exec_module(bench)
    rows = json.loads((ROOT / "benchmarks" / "training_rows.json").read_text(encoding="utf-8"))
    score, diverge, stall = bench.fit(rows, 150)
    assert diverge["sgd"] == pytest.approx(training.DIVERGE_STEP["sgd"], rel=0.01)
    assert diverge["adaptive"] == pytest.approx(training.DIVERGE_STEP["adaptive"], rel=0.01)
    assert stall == pytest.approx(training.STALL_MOVE, rel=0.01)
    predicted = [training.judge(*bench._features(r), 150, bench._family(r)) for r in rows]
    in_code = bench.balanced_accuracy(rows, predicted)
    assert in_code == pytest.approx(score, abs=1e-3)
    assert round(in_code, 3) == 0.661  # the README's figure
    assert bench.balanced_accuracy(rows, ["trains"] * len(rows)) == pytest.approx(1 / 3)
