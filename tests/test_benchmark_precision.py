"""benchmarks/precision.py still runs: two corpus models in both dtypes (off by default: ``pytest -m benchmark``)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.benchmark]


def test_precision_benchmark_on_two_models(tmp_path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("precision_benchmark", ROOT / "benchmarks" / "precision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    corpus = ROOT / "benchmarks" / "corpus"
    out = tmp_path / "precision.json"
    files = [str(corpus / "mlp_relu_default_d10.py"), str(corpus / "mlp_relu_default_d3.py")]
    assert module.main([*files, "--json", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    float16, bfloat16 = document["summaries"]
    assert float16["models"] == bfloat16["models"] == 2
    assert float16["underflow"]["true_positive"] == 1 and bfloat16["underflow"]["true_positive"] == 0
    assert "tail model" in capsys.readouterr().out
