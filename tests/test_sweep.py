"""benchmarks/sweep.py: its sample, budget and counts (fast), and one real run (``pytest -m benchmark``)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from torch import nn

from gradlint.load.zoo import _input_embeddings

from .conftest import ROOT


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("sweep", ROOT / "benchmarks" / "sweep.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "sweep", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_sample_spreads_over_the_list(sweep: ModuleType) -> None:
    items = [f"m{i:02d}" for i in range(10)]
    assert sweep.sample(items, 3) == ["m00", "m03", "m06"]
    assert sweep.sample(items, None) == items
    assert sweep.sample(items, 50) == items


def test_the_budget_stops_a_model_and_counts_it(sweep: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradlint.api

    def slow(*args: object, **kwargs: object) -> None:
        time.sleep(5)

    monkeypatch.setattr(gradlint.api, "lint_paths", slow)
    start = time.perf_counter()
    row = sweep.lint_one("torchvision:alexnet", "torchvision", 0.2)
    assert row.status == "timeout" and time.perf_counter() - start < 2


def test_internal_errors_and_missing_ops_are_counted(sweep: ModuleType, model_file, tmp_path: Path) -> None:
    path = model_file(
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 8)

            def forward(self, x):
                return torch.special.erfcx(self.fc(x))
        """
    )
    row = sweep.lint_one(str(path), "torchvision", 60)
    assert row.status == "ok" and row.missing == {"special_erfcx": 1}
    rows = [row, sweep.Row("timm:x", "timm", "internal", 1.0, stage="estimate", message="boom")]
    args = sweep.argparse.Namespace(top=5, budget=30.0)
    table = sweep.markdown(rows, ["torchvision", "timm"], {"torchvision": 80, "timm": 1000}, args)
    assert "| timm | 1000 | 1 | 0 | 1 | 0 | 0 |" in table
    assert "| `special_erfcx` | 1 | 1 |" in table
    assert "| `timm:x` | internal | estimate | boom |" in table


def test_a_model_whose_embedding_lookup_raises_gets_none() -> None:
    class Vision(nn.Module):
        def get_input_embeddings(self) -> nn.Module:
            raise NotImplementedError("not auto-handled")

    assert _input_embeddings(Vision()) is None
    assert _input_embeddings(nn.Linear(2, 2)) is None


@pytest.mark.benchmark
@pytest.mark.slow
def test_the_sweep_runs_on_one_model_per_family(sweep: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("timm")
    out, rows = tmp_path / "sweep.md", tmp_path / "sweep.json"
    sweep.main(
        ["--families", "torchvision,timm", "--limit", "1", "--budget", "120", "--out", str(out), "--json", str(rows)]
    )
    assert [r["status"] for r in json.loads(rows.read_text())] == ["ok", "ok"]
    assert out.read_text().startswith("| family |")
