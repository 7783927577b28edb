"""``--meta`` on a Llama config with the installed transformers: its masking utilities read values (``.item()``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
import torch

from gradlint.api import LintOptions, _lint_loaded
from gradlint.cli import main
from gradlint.load import load_target, parse_target
from gradlint.report import load_schema

pytestmark = pytest.mark.real

# The README's 70B-shaped config (benchmarks/speed.py LLAMA_70B), shrunk to seconds: same family, GQA included.
SMALL_LLAMA = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}


@pytest.fixture
def llama_config(tmp_path: Path) -> str:
    pytest.importorskip("transformers")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(SMALL_LLAMA), encoding="utf-8")
    return f"hf:{path}"


def _predictions(report: object) -> dict[str, float | None]:
    return {w.name: w.log10_grad_rms for w in report.estimates.weights}  # type: ignore[attr-defined]


def test_meta_mode_lints_a_llama_config(llama_config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([llama_config, "--meta", "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    document = json.loads(out)
    jsonschema.validate(document, load_schema())
    assert document["errors"] == []
    (model,) = document["models"]
    assert model["name"] == "LlamaForCausalLM" and "meta" in model
    predicted = [w["pred_log10_grad_rms"] for w in model["weights"]]
    assert len(predicted) == 15 and all(isinstance(v, float) for v in predicted)


def test_a_padding_mask_on_meta_falls_through_to_a_tracer_that_can_follow_it(llama_config: str) -> None:
    (loaded,) = load_target(parse_target(llama_config), meta=True)
    (ids,) = loaded.example_inputs
    mask = torch.ones(ids.shape, dtype=torch.long, device="meta")
    options = LintOptions(meta=True)
    with_mask = _lint_loaded(dataclasses.replace(loaded, example_inputs=(ids, mask)), (), options)
    failed = {a.method: a.error for a in with_mask.graph.trace.failed}
    assert "cannot be called on meta tensors" in failed["hooks"]  # the masking utilities' .item() on a meta mask
    assert with_mask.graph.trace.method == "export"  # fake tensors: transformers takes its tracing branch
    without = _lint_loaded(loaded, (), options)
    assert _predictions(with_mask) == pytest.approx(_predictions(without), abs=0.01)


def test_meta_predictions_match_the_real_weights(llama_config: str) -> None:
    (meta,) = load_target(parse_target(llama_config), meta=True)
    (real,) = load_target(parse_target(llama_config), meta=False)
    on_meta = _predictions(_lint_loaded(meta, (), LintOptions(meta=True)))
    for_real = _predictions(_lint_loaded(real, (), LintOptions()))
    assert on_meta.keys() == for_real.keys()
    assert max(abs(on_meta[k] - for_real[k]) for k in on_meta) < 0.1  # type: ignore[operator]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Tensor.item() cannot be called on meta tensors", True),
        ("The register_meta function for torch.nonzero() raises unimplemented by default", True),
        ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", False),
    ],
)
def test_which_meta_failures_are_a_tracers_not_the_inputs(message: str, expected: bool) -> None:
    from torch import nn

    from gradlint.trace import needs_values
    from gradlint.trace.shapes import ForwardFailure

    failure = ForwardFailure(RuntimeError(message), "")
    with torch.device("meta"):
        on_meta = nn.Linear(2, 2)
    assert needs_values(failure, on_meta) is expected
    assert needs_values(failure, nn.Linear(2, 2)) is False  # real weights: the inputs' fault, as before
