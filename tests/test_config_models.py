"""``[[tool.gradlint.models]]``: models declared once for CI; ``gradlint`` with no target lints them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradlint.cli import main
from gradlint.config import Settings, parse_config
from gradlint.errors import UsageError
from gradlint.load import TargetSpec

RNN = (Path(__file__).parents[1] / "docs" / "intake" / "rnn_lm.py").read_text()

PYPROJECT = """
[tool.gradlint]
select = ["ALL"]

[[tool.gradlint.models]]
target = "models/rnn.py:RNNModel(50, 8, 8, 1)"
inputs = "(torch.randint(0, 50, (12, 4)), model.init_hidden(4))"
ignore = ["GL1"]

[[tool.gradlint.models]]
target = "models/mlp.py"
input-shapes = [[2, 5]]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "rnn.py").write_text(RNN)
    (tmp_path / "models" / "mlp.py").write_text("from torch import nn\nmodel = nn.Sequential(nn.Linear(5, 3))\n")
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_target_lints_the_configured_models(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--format", "json"]) in (0, 1)
    import json

    document = json.loads(capsys.readouterr().out)
    assert [m["target"] for m in document["models"]] == ["models/rnn.py:RNNModel(50, 8, 8, 1)", "models/mlp.py:model"]
    rnn, mlp = document["models"]
    assert [(i["shape"], i.get("name")) for i in rnn["inputs"]] == [
        ([12, 4], None),
        ([1, 4, 8], "args[1][0]"),
        ([1, 4, 8], "args[1][1]"),
    ]
    assert rnn["built"] == "RNNModel(50, 8, 8, 1)"
    assert mlp["inputs"][0]["shape"] == [2, 5] and mlp["inputs"][0]["origin"] == "--input-shape"
    assert not any(f["code"].startswith("GL1") for f in rnn["findings"])  # the entry's own ignore


def test_entry_settings_apply_to_that_model_only(project: Path) -> None:
    settings = Settings()
    rnn = settings.options_for(TargetSpec("models/rnn.py", "RNNModel(50, 8, 8, 1)"))
    mlp = settings.options_for(TargetSpec("models/mlp.py"))
    other = settings.options_for(TargetSpec("models/rnn.py", "RNNModel(10, 2, 2, 1)"))
    assert rnn.inputs == "(torch.randint(0, 50, (12, 4)), model.init_hidden(4))"
    assert not any(rule.code.startswith("GL1") for rule in rnn.rules)
    assert any(rule.code.startswith("GL1") for rule in mlp.rules) and mlp.input_shapes == ((2, 5),)
    assert other.inputs is None and other.rules == mlp.rules


def test_the_command_line_wins_over_an_entry(project: Path) -> None:
    from gradlint.cli import check_command, overrides_from

    ctx = check_command.make_context("check", ["--inputs", "torch.zeros(1)", "--select", "GL1"])
    options = Settings(overrides_from(ctx.params)).options_for(TargetSpec("models/rnn.py", "RNNModel(50, 8, 8, 1)"))
    assert options.inputs == "torch.zeros(1)"
    assert {rule.code[:3] for rule in options.rules} == {"GL1"}


def test_without_models_no_target_lints_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "net.py").write_text("from torch import nn\nmodel = nn.Linear(3, 2)\n")
    (tmp_path / "notes.py").write_text("X = 1\n")  # imports no torch: not a candidate
    monkeypatch.chdir(tmp_path)
    assert main(["--isolated", "-q", "--format", "concise"]) == 0
    assert Settings(isolated=True).default_targets() == (".",)


def test_entry_targets_are_relative_to_the_config_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "models")
    config = parse_config({"models": [{"target": "models/mlp.py:model"}]}, str(project / "pyproject.toml"))
    [entry] = config.models
    assert entry.target == "mlp.py:model" and entry.path == str((project / "models" / "mlp.py").resolve())


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"target": "a.py"}, r"models: expected a list of tables, one \[\[tool.gradlint.models\]\] per model"),
        ([{"inputs": "x"}], r"models\[0\]: needs `target`"),
        ([{"target": "a.py", "output-format": "json"}], r"models\[0\]\.output-format: unknown key"),
        ([{"target": "a.py", "inputs": 3}], r"models\[0\]\.inputs: expected a string, got 3"),
        ([{"target": "a.py", "select": ["GL999"]}], r"models\[0\]\.select: unknown rule code or prefix 'GL999'"),
        ([{"target": "a.py", "input-shapes": [[0]]}], r"models\[0\]\.input-shapes: expected a shape of positive"),
    ],
)
def test_bad_entries_are_usage_errors(models: object, message: str) -> None:
    with pytest.raises(UsageError, match=r"^p/pyproject\.toml: \[tool\.gradlint\] " + message):
        parse_config({"models": models}, "p/pyproject.toml")
