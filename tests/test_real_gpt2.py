"""Hugging Face GPT-2 from a default config (no download): traced by fallback, every weight listed with its init."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.real

transformers = pytest.importorskip("transformers")


GPT2_FILE = """
import torch
from transformers import GPT2Config, GPT2LMHeadModel

def build_model():
    return GPT2LMHeadModel(GPT2Config())

def example_inputs():
    return (torch.randint(0, 50257, (2, 32)),)
"""


def test_gpt2_default_config_traced_by_fallback(model_file) -> None:
    from gradlint.api import lint_paths

    path = model_file(GPT2_FILE)
    report = lint_paths([str(path)])
    assert not report.errors, report.errors
    (model,) = report.models
    graph = model.graph
    assert graph.trace.method == "hooks"
    assert [a.method for a in graph.trace.failed] == ["fx"]

    from torch import nn

    built = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    modules = dict(built.named_modules())
    expected = [
        name
        for name, p in built.named_parameters()
        if p.dim() >= 2 and not isinstance(modules[name.rpartition(".")[0]], nn.Embedding)
    ]
    assert sorted(w.name for w in graph.weights) == sorted(expected)
    assert len(graph.weights) == 48  # 4 Conv1D weights per block, 12 blocks; lm_head is tied to wte
    by_name = {w.name: w for w in graph.weights}
    assert by_name["transformer.h.0.attn.c_attn.weight"].init.scheme == "normal(std=0.02)"
    assert by_name["transformer.h.0.attn.c_attn.weight"].init.source == "recorded"
    # GPT-2 scales residual projections by 1/sqrt(2 * n_layer)
    assert by_name["transformer.h.0.mlp.c_proj.weight"].init.scheme == "normal(std=0.004082)"
    assert all(w.init.scheme != "unknown" for w in graph.weights)
    c_attn = next(n for n in graph.nodes if n.module == "transformer.h.0.attn.c_attn")
    assert c_attn.role == "linear" and c_attn.attrs["in_features"] == 768 and c_attn.attrs["out_features"] == 2304
    assert c_attn.location is not None and c_attn.location.path.endswith("modeling_gpt2.py")
    assert sum(1 for n in graph.nodes if n.role == "residual-add") == 24
