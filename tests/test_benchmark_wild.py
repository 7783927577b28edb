"""benchmarks/wild.py's bookkeeping: what counts as the expected outcome, and the probe comparison per weight."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def wild() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wild_benchmark", ROOT / "benchmarks" / "wild.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wild_benchmark"] = module  # dataclasses look their module up while the classes are made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["wild_benchmark"]
    return module


def test_the_manifest_loads_with_every_field(wild: ModuleType) -> None:
    entries = wild.load_manifest()
    assert len(entries) >= 30
    assert {e.expect for e in entries} <= {"report", "error"}
    assert all(e.args and e.file for e in entries)


def test_probe_agreement_counts_errors_and_blocked_disagreements(wild: ModuleType) -> None:
    model = {
        "weights": [
            {"name": "a", "pred_log10_grad_rms": -1.0, "probe_log10_grad_rms": -1.5},
            {"name": "b", "pred_log10_grad_rms": None, "probe_log10_grad_rms": -2.0},  # predicted blocked
            {"name": "c", "pred_log10_grad_rms": None, "probe_log10_grad_rms": None},  # both blocked
            {"name": "d", "pred_log10_grad_rms": "nan", "probe_log10_grad_rms": -1.0},  # non-finite: left out
            {"name": "e", "pred_log10_grad_rms": -3.0},  # no probe
        ]
    }
    errors, disagree = wild.probe_agreement(model)
    assert errors == (0.5,)
    assert disagree == 1


def _entry(wild: ModuleType, expect: str) -> object:
    return wild.Entry("tests/wild/x.py", "", ("tests/wild/x.py",), expect, None)


def test_a_report_entry_needs_a_model_and_no_error(wild: ModuleType) -> None:
    report = {"models": [{"findings": [{}], "verdict": "ok", "weights": []}], "errors": []}
    row = wild._row(_entry(wild, "report"), 1, 1.0, report, "", 0, [])
    assert row.ok and row.findings == 1 and row.verdict == "ok"
    partial = {**report, "errors": [{"target": "x", "message": "boom"}]}
    assert not wild._row(_entry(wild, "report"), 2, 1.0, partial, "boom", 0, []).ok


def test_an_error_entry_needs_exactly_one_gradlint_line(wild: ModuleType) -> None:
    one = ["gradlint: tests/wild/x.py: importing it raised ModuleNotFoundError: No module named 'gym'"]
    assert wild._row(_entry(wild, "error"), 2, 1.0, None, one[0], 0, one).ok
    assert not wild._row(_entry(wild, "error"), 2, 1.0, None, "", 0, [*one, *one]).ok
    internal = ["gradlint: internal error: KeyError: 'x'. This is a bug in gradlint"]
    assert not wild._row(_entry(wild, "error"), 2, 1.0, None, internal[0], 1, internal).ok
