"""One target's internal error is that target's error entry: every other target's result stays, the exit code is 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import gradlint.api
from gradlint.cli import main
from gradlint.errors import HOW_TO_REPORT
from gradlint.report import load_schema

from .conftest import EXAMPLES

BROKEN = "deep_relu_mlp.py"
KEPT = "healthy_cnn.py"


@pytest.fixture
def estimator_fails_on(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The estimator raises a plain bug (not a GradlintError) for graphs loaded from one file."""

    def install(filename: str) -> None:
        real = gradlint.api.estimate

        def estimate(graph: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(graph.source_path).name == filename:
                raise ZeroDivisionError("float division by zero")
            return real(graph, *args, **kwargs)

        monkeypatch.setattr(gradlint.api, "estimate", estimate)

    return install


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_json(out: str) -> dict[str, Any]:
    document = json.loads(out)
    jsonschema.validate(document, load_schema())
    (error,) = document["errors"]
    assert error["stage"] == "estimate"
    assert error["internal"] is True
    assert error["how_to_report"] == HOW_TO_REPORT
    assert BROKEN in error["target"]
    assert "ZeroDivisionError: float division by zero" in error["message"]
    assert document["summary"]["errors"] == 1
    return document


def test_multi_target_run_keeps_the_other_targets(estimator_fails_on: Any, capsys: pytest.CaptureFixture[str]) -> None:
    estimator_fails_on(BROKEN)
    targets = [str(EXAMPLES / BROKEN), str(EXAMPLES / KEPT), str(EXAMPLES / "exploding_rnn.py")]
    code, out, _ = run([*targets, "--format", "json"], capsys)
    assert code == 2
    document = _check_json(out)
    kept = sorted(Path(m["source"]).name for m in document["models"])
    assert kept == ["exploding_rnn.py", KEPT]
    rnn = next(m for m in document["models"] if m["source"].endswith("exploding_rnn.py"))
    assert rnn["findings"], "the other targets' findings stay in the report"

    code, out, err = run(targets, capsys)
    assert code == 2
    assert "exploding_rnn.py" in out and KEPT in out  # their reports, findings included
    assert any(f["code"] in out for f in rnn["findings"])
    lines = [line for line in err.splitlines() if "internal error" in line]
    assert len(lines) == 1, err
    assert BROKEN in lines[0] and "while estimating gradient scales" in lines[0] and "please report it" in lines[0]
    assert "Traceback" not in err


def test_directory_run_keeps_the_other_files(
    estimator_fails_on: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (BROKEN, KEPT, "exploding_rnn.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    estimator_fails_on(BROKEN)
    code, out, _ = run([str(tmp_path), "--format", "json"], capsys)
    assert code == 2
    document = _check_json(out)
    assert sorted(Path(m["source"]).name for m in document["models"]) == ["exploding_rnn.py", KEPT]
    assert any(m["findings"] for m in document["models"])


def test_one_model_of_a_file_fails_alone(monkeypatch: pytest.MonkeyPatch, model_file: Any) -> None:
    path = model_file(
        """
        import torch.nn as nn

        class First(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 8)

            def forward(self, x):
                return self.fc(x)

        class Second(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                return self.fc(x)
        """
    )
    real = gradlint.api.run_rules

    def run_rules(graph: Any, *args: Any) -> Any:
        if graph.name == "Second":
            raise KeyError("fc.weight")
        return real(graph, *args)

    monkeypatch.setattr(gradlint.api, "run_rules", run_rules)
    report = gradlint.api.lint_paths([str(path)])
    assert [m.graph.name for m in report.models] == ["First"]
    (error,) = report.errors
    assert error.target.endswith(":Second") and error.stage == "rules" and error.internal
    assert isinstance(error.exception, KeyError)


def test_user_errors_are_not_internal(model_file: Any) -> None:
    path = model_file("import torch\nraise RuntimeError('boom')\n")
    (error,) = gradlint.api.lint_paths([str(path)]).errors
    assert error.stage == "load" and not error.internal and error.how_to_report is None


def test_the_api_for_one_model_raises_the_bug_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch import nn

    def estimate(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(gradlint.api, "estimate", estimate)
    with pytest.raises(ZeroDivisionError):
        gradlint.lint(nn.Linear(4, 4))
