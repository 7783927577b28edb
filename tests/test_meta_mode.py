"""Meta mode end to end: ``--meta``, the automatic switch for models too large for memory, and its report."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import torch
from torch import nn

from gradlint import api
from gradlint.cli import main
from gradlint.config import parse_config
from gradlint.estimate import estimate
from gradlint.load import ConstructionRecorder
from gradlint.load import meta as meta_module
from gradlint.load.construction import MemoryBudgetExceeded
from gradlint.load.zoo import load_zoo
from gradlint.report import load_schema
from gradlint.trace import trace_model

DEEP_MLP = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.Tanh()) for _ in range(6)])
            self.head = nn.Linear(64, 10)
            nn.init.xavier_normal_(self.head.weight)

        def forward(self, x):
            return self.head(self.body(x))
"""


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_meta_flag_builds_on_the_meta_device_and_says_so(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_file(DEEP_MLP))
    code, out, err = _run([path, "--meta", "--format", "json", "--exit-zero"], capsys)
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, load_schema())
    (model,) = document["models"]
    assert model["meta"]["reason"] == "meta mode was asked for (--meta)"
    assert "random-matrix estimates" in model["meta"]["note"]
    code, out, _ = _run([path, "--meta", "--no-color", "--exit-zero"], capsys)
    assert "analysed on the meta device: meta mode was asked for (--meta)" in out
    code, out, _ = _run([path, "--format", "json", "--exit-zero"], capsys)
    assert "meta" not in json.loads(out)["models"][0]  # small enough: real weights


def test_meta_predictions_of_a_file_match_the_real_build(model_file) -> None:
    path = str(model_file(DEEP_MLP))
    real = api.lint_paths([path], api.LintOptions(meta=False)).models[0]
    on_meta = api.lint_paths([path], api.LintOptions(meta=True)).models[0]
    assert real.graph.meta is None and on_meta.graph.meta is not None
    assert real.estimates is not None and on_meta.estimates is not None
    pairs = zip(real.estimates.weights, on_meta.estimates.weights, strict=True)
    for r, m in pairs:
        assert r.log10_grad_rms is not None and m.log10_grad_rms is not None
        assert abs(r.log10_grad_rms - m.log10_grad_rms) <= 0.1, r.name
    assert on_meta.graph.params["head.weight"].spectral_source == "random-matrix estimate"
    assert real.graph.params["head.weight"].spectral_source == "exact"


def test_probe_with_meta_is_one_line_usage_error(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([str(model_file(DEEP_MLP)), "--meta", "--probe"], capsys)
    assert code == 2
    assert out == ""
    assert err.strip() == "gradlint: --probe needs real weights and cannot run with --meta; drop one of them"


def test_file_over_the_memory_budget_is_rebuilt_on_meta_and_skips_the_probe(model_file, monkeypatch) -> None:
    path = str(model_file(DEEP_MLP))
    monkeypatch.setattr(meta_module, "memory_budget", lambda: 20_000)  # the model's weights take ~110 kB
    report = api.lint_paths([path], api.LintOptions(probe=True))
    assert not report.errors, report.errors
    (model,) = report.models
    assert model.graph.meta is not None and "more than the 0.0 GiB budget" in model.graph.meta
    assert model.probe is None and model.probe_skipped is not None and "meta device" in model.probe_skipped
    # --no-meta never switches
    real = api.lint_paths([path], api.LintOptions(meta=False)).models[0]
    assert real.graph.meta is None


def test_recorder_stops_construction_at_the_budget() -> None:
    with pytest.raises(MemoryBudgetExceeded), ConstructionRecorder(memory_budget=50_000) as recorder:
        layers = [nn.Linear(100, 100) for _ in range(3)]  # 40 kB of weight each
    assert recorder.over_budget and recorder.allocated > 50_000
    assert "layers" not in locals()
    with ConstructionRecorder(memory_budget=10**9) as recorder:
        layer = nn.Linear(100, 100)
        with torch.no_grad():
            layer.weight.view(-1).mul_(2)  # views and in-place ops allocate nothing new
    assert not recorder.over_budget and 40_000 <= recorder.allocated < 60_000


def test_meta_key_in_config(tmp_path: Path) -> None:
    assert parse_config({"meta": True}, str(tmp_path / "pyproject.toml")).meta is True
    with pytest.raises(Exception, match="meta: expected true or false"):
        parse_config({"meta": "yes"}, str(tmp_path / "pyproject.toml"))


def test_lint_of_a_meta_model_object_skips_the_probe_with_a_reason() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    report = api.lint(model, torch.empty(4, 8, device="meta"), probe=True)
    (result,) = report.models
    assert result.graph.meta == "its weights are on the meta device"
    assert result.probe_skipped is not None


# -- real architectures: meta against real within 0.1 log10 -----------------------------------


def _meta_against_real(target: str) -> None:
    results = {}
    for meta in (False, True):
        loaded = load_zoo(target, meta=meta)
        assert (loaded.meta is not None) == meta
        results[meta] = {w.name: w.log10_grad_rms for w in estimate(trace_model(loaded)).weights}
    real, on_meta = results[False], results[True]
    assert real.keys() == on_meta.keys() and real
    compared = 0
    for name, value in real.items():
        if value is None:
            continue
        assert on_meta[name] is not None, name
        assert abs(value - on_meta[name]) <= 0.1, (name, value, on_meta[name])
        compared += 1
    assert compared >= 0.9 * len(real)


@pytest.mark.real
def test_gpt2_meta_matches_real(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    config = {"model_type": "gpt2", "n_layer": 4, "n_embd": 256, "n_head": 4, "vocab_size": 1000,
              "n_positions": 128, "bos_token_id": 0, "eos_token_id": 0}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    _meta_against_real(f"hf:{tmp_path / 'config.json'}")


@pytest.mark.real
def test_resnet50_meta_matches_real() -> None:
    pytest.importorskip("torchvision")
    _meta_against_real("torchvision:resnet50")


@pytest.mark.real
def test_library_model_over_the_budget_is_never_built_for_real(monkeypatch) -> None:
    pytest.importorskip("torchvision")
    monkeypatch.setattr(meta_module, "memory_budget", lambda: 2**20)
    loaded = load_zoo("torchvision:resnet18")
    assert all(p.is_meta for p in loaded.model.parameters())
    assert loaded.meta is not None and "11,689,512 parameters" in loaded.meta
    assert all(x.is_meta for x in loaded.example_inputs)


READS_BACK = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            widths = (torch.arange(1, 4) * 16).tolist()  # reads tensor values back, as RegNet does
            self.body = nn.Sequential(*[nn.Linear(a, b) for a, b in zip([8, *widths[:-1]], widths)])

        def forward(self, x):
            return self.body(x)
"""


def test_a_constructor_reading_tensor_values_builds_with_only_its_weights_on_meta(model_file) -> None:
    path = model_file(READS_BACK)
    report = api.lint_paths([f"{path}:Net"], api.LintOptions(meta=True))
    assert report.errors == ()
    (model,) = report.models
    assert model.graph.meta == "meta mode was asked for (--meta)"
    assert [w.shape for w in model.graph.weights] == [(16, 8), (32, 16), (48, 32)]
    assert {w.init.scheme for w in model.graph.weights} == {"pytorch-default"}  # init calls seen on the meta weights
    real = api.lint_paths([f"{path}:Net"], api.LintOptions(meta=False)).models[0]
    on_meta = {w.name: w.log10_grad_rms for w in model.estimates.weights}
    for_real = {w.name: w.log10_grad_rms for w in real.estimates.weights}
    assert max(abs(on_meta[k] - for_real[k]) for k in on_meta) < 0.1


@pytest.mark.real
def test_torchvision_regnet_builds_on_meta() -> None:
    pytest.importorskip("torchvision")
    report = api.lint_paths(["torchvision:regnet_x_400mf"], api.LintOptions(meta=True))
    assert report.errors == ()
    assert report.models[0].graph.meta is not None
