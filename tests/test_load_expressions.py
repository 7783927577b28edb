"""Target expressions (``PATH:EXPR``), ``--inputs`` / ``--input-kwargs`` and keyword inputs through every tracer and the probe."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from gradlint.api import LintOptions, lint, lint_paths
from gradlint.errors import InputError, LoadError, UsageError
from gradlint.load import TargetSpec, load_target
from gradlint.trace import trace_model

GPT = """
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class GPTConfig:
    n_layer: int = 12
    n_embd: int = 768
    vocab_size: int = 50


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.h = nn.Sequential(*[nn.Linear(config.n_embd, config.n_embd) for _ in range(config.n_layer)])

    def forward(self, idx):
        return self.h(self.wte(idx))
"""

RNN = (Path(__file__).parents[1] / "docs" / "intake" / "rnn_lm.py").read_text()

DIFFUSION = """
import torch
from torch import nn


class TinyUNet(nn.Module):
    def __init__(self, channels=4, context=6):
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)
        self.time = nn.Linear(1, 8)
        self.context = nn.Linear(context, 8)
        self.out = nn.Conv2d(8, channels, 3, padding=1)

    def forward(self, x, t, *, context=None, extra=None):
        h = self.conv(x) + self.time(t[:, None].float())[:, :, None, None]
        if context is not None:
            h = h + self.context(context).mean(1)[:, :, None, None]
        return self.out(h)
"""


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# -- target expressions ----------------------------------------------------------------------------


def test_config_class_expression(tmp_path: Path) -> None:
    write(tmp_path, "model.py", GPT)
    [loaded] = load_target(TargetSpec("model.py", "GPT(GPTConfig(n_layer=2, n_embd=16))"))
    assert loaded.target == "model.py:GPT(GPTConfig(n_layer=2, n_embd=16))"
    assert loaded.built == "GPT(GPTConfig(n_layer=2, n_embd=16))"
    assert len(loaded.model.h) == 2 and loaded.inputs[0].shape == (8, 32)
    assert loaded.construction_sites["h.0"].line == 19  # the recorder saw the expression's construction


def test_method_chain_expression(tmp_path: Path) -> None:
    write(
        tmp_path,
        "train.py",
        "from torch import nn\n\nclass Sequence(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.lin = nn.Linear(3, 2)\n",
    )
    [loaded] = load_target(TargetSpec("train.py", "Sequence().double()"))
    assert loaded.model.lin.weight.dtype == torch.float64
    assert loaded.inputs[0].dtype == "float64"


def test_named_class_and_factory_say_how_they_were_built(tmp_path: Path) -> None:
    write(
        tmp_path,
        "m.py",
        "from torch import nn\n\nnet = nn.Linear(2, 2)\n\ndef build_model():\n    return nn.Linear(2, 2)\n",
    )
    [named] = load_target(TargetSpec("m.py", "build_model"))
    [instance] = load_target(TargetSpec("m.py", "net"))
    assert (named.built, instance.built) == ("build_model()", None)


def test_expression_without_package_init_uses_relative_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        "unet/unet_parts.py",
        "from torch import nn\n\ndef double(i, o):\n    return nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU())\n",
    )
    write(
        tmp_path,
        "unet/unet_model.py",
        "from torch import nn\nfrom .unet_parts import double\n\n"
        "class UNet(nn.Module):\n    def __init__(self, n_channels, n_classes):\n        super().__init__()\n"
        "        self.inc = double(n_channels, 4)\n        self.out = nn.Conv2d(4, n_classes, 1)\n"
        "    def forward(self, x):\n        return self.out(self.inc(x))\n",
    )
    [loaded] = load_target(TargetSpec("unet/unet_model.py", "UNet(3, 2)"))
    assert loaded.model.out.out_channels == 2 and loaded.inputs[0].shape == (8, 3, 32, 32)


def test_package_file_imports_its_neighbours_by_absolute_name(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/parts.py", "from torch import nn\nWIDTH = 5\n")
    write(tmp_path, "pkg/model.py", "from torch import nn\nfrom parts import WIDTH\n\nmodel = nn.Linear(WIDTH, 2)\n")
    [loaded] = load_target(TargetSpec("pkg/model.py"))
    assert loaded.model.in_features == 5


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("GPT(GPTConfig(n_layr=2))", r"^model\.py:GPT\(GPTConfig\(n_layr=2\)\): building the model raised TypeError: "),
        ("GPT(Missing())", r"^model\.py:GPT\(Missing\(\)\): building the model raised NameError: name 'Missing'"),
        ("GPTConfig()", r"^model\.py:GPTConfig\(\) is a GPTConfig, not an nn\.Module"),
        ("GPT(GPTConfig(n_embd=-1))", r"raised RuntimeError: .* \(at model\.py:18\)$"),
    ],
)
def test_expression_errors_are_one_line(tmp_path: Path, expression: str, message: str) -> None:
    write(tmp_path, "model.py", GPT)
    with pytest.raises(LoadError, match=message) as info:
        load_target(TargetSpec("model.py", expression))
    assert "\n" not in str(info.value)


def test_bad_expression_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gradlint.cli import main

    write(tmp_path, "model.py", GPT)
    assert main(["model.py:GPT(GPTConfig(", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "gradlint: model.py:GPT(GPTConfig(: bad model expression: '(' was never closed at column 14"


# -- --inputs and --input-kwargs -------------------------------------------------------------------


def test_inputs_expression_with_a_hidden_state(tmp_path: Path) -> None:
    write(tmp_path, "rnn.py", RNN)
    [loaded] = load_target(
        TargetSpec("rnn.py", "RNNModel(100, 16, 16, 1)"),
        inputs="(torch.randint(0, 100, (35, 8)), model.init_hidden(8))",
    )
    tokens, (h, c) = loaded.example_inputs
    assert tokens.shape == (35, 8) and h.shape == c.shape == (1, 8, 16)
    assert [(s.name, s.shape, s.origin) for s in loaded.inputs] == [
        (None, (35, 8), "--inputs"),
        ("args[1][0]", (1, 8, 16), "--inputs"),
        ("args[1][1]", (1, 8, 16), "--inputs"),
    ]
    graph = trace_model(loaded)
    assert graph.trace.method in ("fx", "hooks", "export")
    assert {n.module for n in graph.layer_nodes()} >= {"encoder", "rnn", "decoder"}


def test_inputs_that_are_not_a_tuple_are_one_argument(tmp_path: Path) -> None:
    write(tmp_path, "lin.py", "import torch\nfrom torch import nn\nmodel = nn.Linear(3, 2)\nSIZE = 4\n")
    [loaded] = load_target(TargetSpec("lin.py"), inputs="torch.zeros(SIZE, model.in_features)")
    assert len(loaded.example_inputs) == 1 and loaded.inputs[0].shape == (4, 3)


def test_input_kwargs_reach_every_tracer(tmp_path: Path) -> None:
    write(tmp_path, "diff.py", DIFFUSION)
    [loaded] = load_target(
        TargetSpec("diff.py", "TinyUNet()"),
        inputs="(torch.randn(2, 4, 8, 8), torch.tensor([1, 2]))",
        input_kwargs="{'context': torch.randn(2, 5, 6), 'extra': {'scale': 1.0, 'tag': 'x', 'skip': None}}",
    )
    assert [(s.name, s.shape) for s in loaded.inputs] == [(None, (2, 4, 8, 8)), (None, (2,)), ("context", (2, 5, 6))]
    assert loaded.inputs[2].origin == "--input-kwargs"
    for method in ("fx", "hooks", "export"):
        graph = trace_model(loaded, (method,))
        assert graph.trace.method == method
        assert "context" in {n.module for n in graph.layer_nodes()}, method


def test_probe_passes_keyword_inputs(tmp_path: Path) -> None:
    write(tmp_path, "diff.py", DIFFUSION)
    report = lint_paths(
        ["diff.py:TinyUNet()"],
        LintOptions(probe=True, probe_seeds=(1,), device="cpu"),
        options_for=lambda spec: LintOptions(
            probe=True,
            probe_seeds=(1,),
            device="cpu",
            inputs="(torch.randn(2, 4, 8, 8), torch.tensor([1, 2]))",
            input_kwargs="{'context': torch.randn(2, 5, 6)}",
        ),
    )
    assert not report.errors, report.errors
    [model] = report.models
    measured = {w.name for w in model.probe.weights if w.log10_grad_rms is not None}
    assert "context.weight" in measured  # only reached through the keyword input


def test_lint_api_takes_example_kwargs() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor, *, y: torch.Tensor | None = None) -> torch.Tensor:
            return self.a(x) + (self.b(y) if y is not None else 0)

    report = lint(Net(), (torch.randn(2, 3),), example_kwargs={"y": torch.randn(2, 3)})
    [model] = report.models
    assert {n.module for n in model.graph.layer_nodes()} == {"a", "b"}
    assert [s.name for s in model.graph.inputs] == [None, "y"]


def test_input_kwargs_alone_give_no_positional_argument(tmp_path: Path) -> None:
    write(tmp_path, "kw.py", "import torch\nfrom torch import nn\nmodel = nn.Linear(3, 2)\n")
    [loaded] = load_target(TargetSpec("kw.py"), input_kwargs="{'input': torch.zeros(2, 3)}")
    assert loaded.example_inputs == () and set(loaded.example_kwargs) == {"input"}
    assert trace_model(loaded).nodes


def test_example_kwargs_in_the_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "file_kw.py",
        DIFFUSION
        + "\nmodel = TinyUNet()\n\ndef example_inputs():\n    return torch.randn(2, 4, 8, 8), torch.tensor([1, 2])\n"
        + "\ndef example_kwargs(model):\n    return {'context': torch.randn(2, 3, model.context.in_features)}\n",
    )
    [loaded] = load_target(TargetSpec("file_kw.py"))
    assert loaded.inputs[2].origin == "example_kwargs() in file_kw.py" and loaded.inputs[2].shape == (2, 3, 6)
    [overridden] = load_target(TargetSpec("file_kw.py"), input_kwargs="{}")
    assert not overridden.example_kwargs  # --input-kwargs wins over the file


@pytest.mark.parametrize(
    ("inputs", "kwargs", "error", "message"),
    [
        (
            "torch.zeros(2,",
            None,
            InputError,
            r"^--inputs 'torch\.zeros\(2,': not a Python expression: '\(' was never closed$",
        ),
        ("torch.zeros(-1)", None, InputError, r"^--inputs 'torch\.zeros\(-1\)': evaluating it raised RuntimeError: "),
        ("(object(),)", None, InputError, r"^--inputs holds an object; inputs are tensors"),
        (None, "[torch.zeros(2, 3)]", InputError, r"^--input-kwargs gave a list; keyword inputs are a dict"),
        (
            None,
            "{1: torch.zeros(2, 3)}",
            InputError,
            r"^--input-kwargs gave a dict; keyword inputs are a dict of names",
        ),
        ("(1, 'a')", None, InputError, r"^lin\.py:model: the inputs from --inputs hold no tensor"),
    ],
)
def test_bad_inputs_expressions(
    tmp_path: Path, inputs: str | None, kwargs: str | None, error: type[Exception], message: str
) -> None:
    write(tmp_path, "lin.py", "import torch\nfrom torch import nn\nmodel = nn.Linear(3, 2)\n")
    with pytest.raises(error, match=message) as info:
        load_target(TargetSpec("lin.py"), inputs=inputs, input_kwargs=kwargs)
    assert "\n" not in str(info.value)


def test_inputs_and_input_shape_together_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "lin.py", "import torch\nfrom torch import nn\nmodel = nn.Linear(3, 2)\n")
    with pytest.raises(UsageError, match="--inputs and --input-shape both give the positional inputs"):
        load_target(TargetSpec("lin.py"), inputs="torch.zeros(2, 3)", input_shapes=[(2, 3)])


def test_meta_build_moves_nested_and_keyword_inputs(tmp_path: Path) -> None:
    write(tmp_path, "diff.py", DIFFUSION)
    [loaded] = load_target(
        TargetSpec("diff.py", "TinyUNet()"),
        inputs="(torch.randn(2, 4, 8, 8), torch.tensor([1, 2]))",
        input_kwargs="{'context': [torch.randn(2, 5, 6)]}",
        meta=True,
    )
    assert all(t.is_meta for t in loaded.example_inputs) and loaded.example_kwargs["context"][0].is_meta
