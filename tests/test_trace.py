"""The trace stage: which method, what each node carries, and where it came from."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradlint.api import LintOptions
from gradlint.load import load_target, parse_target
from gradlint.trace import trace_model
from gradlint.types import ModelGraph

from .conftest import EXAMPLES


def trace_file(path, methods=None) -> ModelGraph:
    (loaded,) = load_target(parse_target(str(path)))
    return trace_model(loaded, methods)


def layer(graph: ModelGraph, module: str):
    return next(n for n in graph.nodes if n.op == "call_module" and n.module == module)


FUNCTIONAL = """
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Linear(8, 8)
            self.c = nn.Linear(8, 8)
            self.d = nn.Linear(8, 8)
            self.e = nn.Linear(8, 8)

        def forward(self, x):
            h = F.relu(self.a(x))
            h = torch.tanh(self.b(h))
            h = self.c(h).sigmoid()
            h = F.gelu(self.d(h)) + h
            return F.leaky_relu(self.e(h), 0.2)

    EXAMPLE_INPUTS = (torch.randn(4, 8),)
"""


@pytest.mark.parametrize("method", ["fx", "export", "hooks"])
def test_functional_activations_and_residual_in_every_method(model_file, method: str) -> None:
    graph = trace_file(model_file(FUNCTIONAL), [method])
    assert graph.trace.method == method
    assert [layer(graph, m).feeds_activation for m in "abcde"] == ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"]
    adds = [n for n in graph.nodes if n.role in ("add", "residual-add")]
    assert [n.role for n in adds] == ["residual-add"]
    assert adds[0].location is not None and adds[0].location.line == 18  # the line of the add in forward
    assert layer(graph, "e").shape == (4, 8)
    assert [w.name for w in graph.weights] == [f"{m}.weight" for m in "abcde"]


def test_construction_lines_and_fallback_report(model_file) -> None:
    graph = trace_file(EXAMPLES / "dynamic_control_flow.py")
    assert graph.trace.method == "hooks"
    assert [a.method for a in graph.trace.failed] == ["fx", "export"]
    assert all(a.error for a in graph.trace.failed)
    assert layer(graph, "inp").location.line == 14
    assert layer(graph, "small.0").location.line == 15
    ran = {n.module for n in graph.nodes if n.op == "call_module"}
    assert "large.0" not in ran  # the branch that did not run
    assert graph.weights[-1].name == "large.0.weight"  # the branch that did not run sorts last


def test_transformer_falls_back_to_hooks_and_sees_inside_torch_layers() -> None:
    graph = trace_file(EXAMPLES / "post_ln_transformer.py")
    assert graph.trace.method == "hooks"  # fx stops at the encoder's fast-path checks
    roles = {n.role for n in graph.nodes}
    assert {"attention", "normalization", "residual-add", "embedding", "linear"} <= roles
    residuals = [n for n in graph.nodes if n.role == "residual-add"]
    assert len(residuals) == 24  # two per encoder layer
    attention = layer(graph, "encoder.layers.0.self_attn")
    assert attention.attrs["num_heads"] == 4 and attention.attrs["embed_dim"] == 128
    in_proj = next(w for w in graph.weights if w.name == "encoder.layers.0.self_attn.in_proj_weight")
    assert in_proj.init.scheme == "xavier_uniform(gain=1)" and in_proj.init.source == "recorded"
    # out_proj runs inside MultiheadAttention without being called: it keeps the attention's place in order
    names = [w.name for w in graph.weights]
    assert (
        names.index("encoder.layers.0.self_attn.out_proj.weight")
        == names.index("encoder.layers.0.self_attn.in_proj_weight") + 1
    )


LOOP = """
    import torch
    from torch import nn

    class LoopRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.Linear(16, 16)
            self.head = nn.Linear(16, 2)

        def forward(self, x):
            h = x
            for _ in range(6):
                h = torch.tanh(self.cell(h))
            return self.head(h)

    EXAMPLE_INPUTS = (torch.randn(4, 16),)
"""


def test_a_module_applied_in_a_loop_is_recurrence(model_file) -> None:
    graph = trace_file(model_file(LOOP))
    calls = [n for n in graph.nodes if n.module == "cell" and n.op == "call_module"]
    assert len(calls) == 6
    assert {n.call_count for n in calls} == {6}
    assert [n.call_index for n in calls] == list(range(6))
    assert layer(graph, "head").call_count == 1


def test_rnn_attrs_and_recurrent_role() -> None:
    graph = trace_file(EXAMPLES / "exploding_rnn.py")
    rnn = layer(graph, "rnn")
    assert rnn.role == "recurrent"
    assert rnn.attrs["hidden_size"] == 128 and rnn.attrs["batch_first"] is True
    assert rnn.shape == (8, 64, 128)
    hh = next(w for w in graph.weights if w.name == "rnn.weight_hh_l0")
    assert hh.init.scheme == "normal(std=0.2652)" and hh.init.source == "recorded"
    ih = next(w for w in graph.weights if w.name == "rnn.weight_ih_l0")
    assert ih.init.scheme == "pytorch-default"


def test_residual_detection_ignores_position_embeddings(model_file) -> None:
    path = model_file(
        """
        import torch
        from torch import nn

        class Emb(nn.Module):
            def __init__(self):
                super().__init__()
                self.tok = nn.Embedding(100, 16)
                self.pos = nn.Embedding(32, 16)
                self.fc = nn.Linear(16, 16)

            def forward(self, ids):
                positions = torch.arange(ids.size(1))
                h = self.tok(ids) + self.pos(positions)
                return self.fc(h) + h
        """
    )
    graph = trace_file(path)
    adds = [n.role for n in graph.nodes if n.role in ("add", "residual-add")]
    assert adds == ["add", "residual-add"]


def test_hf_style_conv1d_is_a_linear_layer(model_file) -> None:
    path = model_file(
        """
        import torch
        from torch import nn

        class Conv1D(nn.Module):
            # weight stored (in, out), as transformers' GPT-2 does
            def __init__(self, nf, nx):
                super().__init__()
                self.nf, self.nx = nf, nx
                self.weight = nn.Parameter(torch.empty(nx, nf))
                self.bias = nn.Parameter(torch.zeros(nf))
                nn.init.normal_(self.weight, std=0.02)

            def forward(self, x):
                return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(*x.shape[:-1], self.nf)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = Conv1D(32, 16)

            def forward(self, x):
                return self.proj(x)

        EXAMPLE_INPUTS = (torch.randn(4, 16),)
        """
    )
    graph = trace_file(path)
    proj = layer(graph, "proj")
    assert proj.role == "linear"
    assert proj.attrs["in_features"] == 16 and proj.attrs["out_features"] == 32
    assert proj.attrs["weight_layout"] == "in_out"
    (weight,) = graph.weights
    assert weight.init.scheme == "normal(std=0.02)"


def test_tracing_leaves_the_model_untouched() -> None:
    from .test_no_mutation import _equal, snapshot

    (loaded,) = load_target(parse_target(str(EXAMPLES / "healthy_cnn.py")))
    before = snapshot(loaded.model)
    for method in ("fx", "export", "hooks"):
        trace_model(loaded, [method])
        assert _equal(snapshot(loaded.model), before), method


def test_lint_options_restrict_methods() -> None:
    assert LintOptions(trace_methods=("hooks",)).trace_methods == ("hooks",)


def test_fx_keeps_a_tensor_constant_made_in_forward() -> None:
    """A tensor a forward builds from Python values (Swin's relative-position index) is a tensor constant
    fx stores on the module it traced; shapes must propagate on that module, so fx is still the tracer."""
    import gradlint

    class WithConstant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            index = torch.tensor([3, 2, 1, 0])
            return self.fc(x)[:, index]

    model = WithConstant()
    before = set(vars(model))
    report = gradlint.lint(model, torch.randn(2, 4))
    assert report.models[0].graph.trace.method == "fx", report.models[0].graph.trace
    assert set(vars(model)) == before  # the constant lives on the traced copy, never on the user's model
