"""The command line end to end: exit codes, formats, and one clear line for every error a user can cause."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from gradlint.cli import cli, main
from gradlint.report import load_schema

from .conftest import EXAMPLES, ROOT
from .fakes import CLEAN_MODEL, NAN_MODEL


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="gradlint", standalone_mode=True)
    # main() is what the console script calls; CliRunner exercises the same click command.
    return result.exit_code, result.stdout, result.stderr


def run_main(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_examples_directory_lints_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(str(EXAMPLES), "--format", "json", capsys=capsys)
    document = json.loads(out)
    jsonschema.validate(document, load_schema())
    targets = sorted(Path(m["source"]).name for m in document["models"])
    assert targets == sorted(p.name for p in EXAMPLES.glob("*.py"))
    methods = {Path(m["source"]).name: m["trace"]["method"] for m in document["models"]}
    assert methods["dynamic_control_flow.py"] == "hooks"
    assert methods["deep_relu_mlp.py"] == "fx"
    assert document["errors"] == []
    assert code in (0, 1)
    assert code == (1 if document["summary"]["findings"] else 0)


def test_text_output_leads_with_findings_and_says_how_the_model_was_fed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(str(EXAMPLES / "healthy_cnn.py"), "--no-color", capsys=capsys)
    lines = out.splitlines()
    assert lines[1:3] == [
        "  built as build_model()",
        f"  inputs: (16, 3, 32, 32) float32 (example_inputs() in {EXAMPLES / 'healthy_cnn.py'})",
    ]
    assert lines[-1] == "  predicted: ok: log10 gradient RMS in [-2.84, -0.63], first-last span -1.30"
    assert "block1.conv1" not in out  # the layer table waits for --layers
    assert "All checks passed" in err


@pytest.mark.parametrize("flag", [["--layers"], ["--format", "full"]])
def test_text_output_has_layer_table_and_summary(capsys: pytest.CaptureFixture[str], flag: list[str]) -> None:
    code, out, err = run_main(str(EXAMPLES / "healthy_cnn.py"), "--no-color", *flag, capsys=capsys)
    assert out.count("block1.relu (x2)") == 1  # a module called twice is one row
    assert "block1.conv1" in out and "Conv2d" in out and "kaiming_normal(relu, fan_out)" in out
    assert "healthy_cnn.py:13" in out  # the line that builds block1.conv1
    assert "All checks passed" in err
    assert "\x1b[" not in out + err


def test_findings_exit_1_and_point_at_the_layer(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = model_file(NAN_MODEL)
    code, out, err = run_main(str(path), "--no-color", capsys=capsys)
    assert code == 1
    assert f"{path.name}:8:1: GL001 [error] fc2:" in out.replace(str(path), path.name)
    assert "Found 1 finding" in err


def test_exit_zero_and_fail_on(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_file(NAN_MODEL))
    assert run_main(path, "--exit-zero", "-q", capsys=capsys)[0] == 0
    assert run_main(path, "--fail-on", "error", "-q", capsys=capsys)[0] == 1
    assert run_main(path, "--ignore", "GL001", "-q", capsys=capsys)[0] == 0
    assert run_main(path, "--select", "GL0", "-q", capsys=capsys)[0] == 1


def test_json_findings_match_schema(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = model_file(NAN_MODEL)
    code, out, _ = run_main(str(path), "--format", "json", capsys=capsys)
    document = json.loads(out)
    jsonschema.validate(document, load_schema())
    (finding,) = document["models"][0]["findings"]
    assert finding["code"] == "GL001" and finding["kind"] == "non-finite" and finding["module"] == "fc2"
    assert finding["location"]["line"] == 8
    weights = document["models"][0]["weights"]
    assert [w["name"] for w in weights] == ["fc1.weight", "fc2.weight"]
    assert all(w["init"] == "pytorch-default" for w in weights)


def test_output_file(model_file, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "report.json"
    code, out, _ = run_main(str(model_file(CLEAN_MODEL)), "--format", "json", "-o", str(out_path), capsys=capsys)
    assert code == 0 and out == ""
    assert json.loads(out_path.read_text())["summary"]["findings"] == 0


BAD_INPUTS = {
    "missing path": (None, "no such file or directory"),
    "syntax error": ("def broken(:\n    pass\n", ":1: syntax error"),
    "import error": ("import torch\nimport not_a_real_module_xyz\n", "No module named 'not_a_real_module_xyz'"),
    "no model": ("import torch\nX = 1\n", "no model found"),
    "constructor raises": (
        "import torch\nfrom torch import nn\n\ndef build_model():\n    raise ValueError('bad width')\n",
        "ValueError: bad width",
    ),
    "inputs do not fit": (
        "import torch\nfrom torch import nn\n\nmodel = nn.Sequential(nn.Linear(10, 4))\n"
        "EXAMPLE_INPUTS = (torch.randn(2, 7),)\n",
        "do not fit",
    ),
    "attr not a model": ("import torch\nVALUE = 3\n", "not an nn.Module"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(
    case: str, model_file, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, expected = BAD_INPUTS[case]
    target = str(tmp_path / "missing.py") if source is None else str(model_file(source))
    if case == "attr not a model":
        target += ":VALUE"
    code, out, err = run_main(target, capsys=capsys)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    error_lines = [
        line for line in err.splitlines() if line.strip() and not line.startswith(("No models", "Found", "All"))
    ]
    assert len(error_lines) == 1, err


def test_inputs_that_do_not_fit_name_the_layer(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = model_file(BAD_INPUTS["inputs do not fit"][0])
    _, _, err = run_main(str(path), capsys=capsys)
    assert "in layer 0 (Linear)" in err


def test_debug_shows_the_traceback(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = model_file("import torch\nimport not_a_real_module_xyz\n")
    code, _, err = run_main(str(path), "--debug", capsys=capsys)
    assert code == 2 and "Traceback" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(str(EXAMPLES / "healthy_cnn.py"), "--select", "GL999", capsys=capsys)[0] == 2
    assert run_main(str(EXAMPLES / "healthy_cnn.py"), "--input-shape", "8,x", capsys=capsys)[0] == 2
    assert run_main("--format", "xml", str(EXAMPLES / "healthy_cnn.py"), capsys=capsys)[0] == 2


def test_input_shape_overrides_file_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(
        str(EXAMPLES / "deep_relu_mlp.py"), "--input-shape", "4,784", "--format", "json", capsys=capsys
    )
    model = json.loads(out)["models"][0]
    assert model["inputs"][0]["shape"] == [4, 784]
    assert model["layers"][0]["output_shape"] == [4, 256]


def test_rule_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main("rule", "GL001", capsys=capsys)
    assert code == 0 and "## What it does" in out and "non-finite-tensor" in out
    code, out, _ = run_main("rule", "--all", capsys=capsys)
    assert code == 0 and "GL001" in out
    assert run_main("rule", "GL999", capsys=capsys)[0] == 2


def test_click_runner_and_console_script_agree(model_file) -> None:
    path = str(model_file(NAN_MODEL))
    code, out, _ = run(path, "-q", "--no-color")
    assert code == 1 and "GL001" in out


@pytest.mark.slow
def test_console_script_in_a_subprocess(model_file) -> None:
    path = str(model_file(NAN_MODEL))
    gradlint = Path(sys.executable).parent / "gradlint"
    done = subprocess.run([str(gradlint), path, "-q"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "GL001" in done.stdout
    done = subprocess.run([sys.executable, "-m", "gradlint", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "gradlint" in done.stdout


# --- CI integration flags (issue #6) ----------------------------------------------------------------


def test_statistics_text_and_json(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_file(NAN_MODEL))
    code, out, _ = run_main(path, "--statistics", "--no-color", "--select", "GL001", capsys=capsys)
    assert code == 1
    assert out.splitlines() == ["1  GL001  [error] non-finite-tensor"]
    code, out, _ = run_main(path, "--statistics", "--format", "json", "--select", "GL001", capsys=capsys)
    assert json.loads(out) == [{"code": "GL001", "name": "non-finite-tensor", "severity": "error", "count": 1}]
    assert run_main(path, "--statistics", "--format", "sarif", capsys=capsys)[0] == 2


def test_concise_and_full_forms(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = model_file(NAN_MODEL)
    code, out, err = run_main(str(path), "--format", "concise", "--no-color", "--select", "GL001", capsys=capsys)
    assert code == 1
    (line,) = out.splitlines()
    assert line.endswith("holds 1 NaN of 128 values") and f"{path.name}:8:1: GL001 [error] fc2: " in line
    assert "Found 1 finding" in err
    code, out, _ = run_main(str(path), "--format", "full", "-q", "--no-color", "--select", "GL001", capsys=capsys)
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if ": GL001 [error]" in line)
    assert lines[at + 1 : at + 5] == [
        "  |",
        "8 |         self.fc2 = nn.Linear(32, 4)",
        "  |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^ GL001",
        "  |",
    ]


def test_colour_rules(model_file, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_file(NAN_MODEL))
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in run_main(path, "-q", capsys=capsys)[1]
    assert "\x1b[" not in run_main(path, "-q", "--no-color", capsys=capsys)[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run_main(path, "-q", capsys=capsys)[1]
    monkeypatch.delenv("NO_COLOR")
    for fmt in ("json", "sarif", "github"):  # machine formats: never styled, even with FORCE_COLOR
        assert "\x1b[" not in run_main(path, "--format", fmt, capsys=capsys)[1]


def test_quiet_prints_only_findings(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(str(model_file(NAN_MODEL)), "-q", "--no-color", capsys=capsys)
    assert code == 1 and "GL001" in out
    assert "fix:" not in out and "layer" not in out and err == ""


def test_nothing_to_lint_exits_0(tmp_path: Path, model_file, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_main(str(empty), capsys=capsys)
    assert code == 0 and "nothing to lint" in err and out == ""
    code, out, _ = run_main(str(empty), "--format", "sarif", capsys=capsys)
    assert code == 0 and json.loads(out)["runs"][0]["results"] == []


def test_skip_no_model_for_pre_commit(tmp_path: Path, model_file, capsys: pytest.CaptureFixture[str]) -> None:
    helper = model_file("import os\nX = 1\n", "helper.py")
    constants = model_file("import torch\nSIZE = 3\n", "constants.py")
    script = model_file("#!/usr/bin/env python\nimport torch\n", "run_training")
    nan = model_file(NAN_MODEL, "net.py")
    code, _, err = run_main(str(helper), str(constants), str(script), "--skip-no-model", capsys=capsys)
    assert code == 0 and "nothing to lint" in err
    code, out, _ = run_main(str(helper), str(nan), "--skip-no-model", "-q", capsys=capsys)
    assert code == 1 and "GL001" in out
    assert run_main(str(constants), capsys=capsys)[0] == 2  # named without the flag: still an error
    broken = model_file("import torch\ndef f(:\n", "broken.py")
    assert run_main(str(broken), "--skip-no-model", capsys=capsys)[0] == 2  # a broken model file is not skipped


def test_probe_flags(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(model_file(NAN_MODEL))
    code, out, _ = run_main(
        path,
        "--probe",
        "--device",
        "cpu",
        "--probe-seeds",
        "1,2",
        "--probe-steps",
        "2",
        "--lr",
        "0.01",
        "--optimizer",
        "adam",
        "--probe-timeout",
        "120",
        "--no-color",
        capsys=capsys,
    )
    assert code == 1
    assert "  probe (cpu, seeds 1,2): exploding: non-finite gradient at" in out
    assert "  probe steps (2 x adam lr 0.01, betas 0.9,0.999, eps 1e-08): diverges: " in out
    assert "(probe: confirmed)" in out
    code, out, _ = run_main(path, "--probe", "--device", "cpu", "--probe-seeds", "3", "--format", "json", capsys=capsys)
    model = json.loads(out)["models"][0]
    assert model["probe"]["seeds"] == [3] and model["probe"]["steps"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["--device", "tpu"],
        ["--probe-seeds", "a,b"],
        ["--probe-steps", "-1"],
        ["--lr", "0"],
        ["--optimizer", "lbfgs"],
        ["--probe-timeout", "-1"],
        ["--fail-on", "fatal"],
    ],
)
def test_bad_probe_flags_exit_2(args: list[str], model_file, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(str(model_file(CLEAN_MODEL)), *args, capsys=capsys)[0] == 2


def test_progress_is_silent_off_a_terminal(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run_main(str(model_file(CLEAN_MODEL)), capsys=capsys)
    assert err.strip() == "All checks passed: 1 model, no findings."


def test_progress_on_a_terminal() -> None:
    import io

    from gradlint.report.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with Progress(stream, color=False) as progress:
        assert progress.enabled
        progress.update("tracing [bold]net.py[/bold]:Net")
        progress.pause()
        progress.update("probing net.py:Net")
    assert "tracing [bold]net.py[/bold]:Net" in stream.getvalue()
    assert not Progress(io.StringIO()).enabled


def test_cli_choices_match_the_probe() -> None:
    import importlib

    from gradlint import cli

    probe = importlib.import_module("gradlint.probe")  # the package; `gradlint.probe` the attribute is the function
    assert cli.DEVICE_CHOICES == probe.DEVICE_CHOICES
    assert cli.OPTIMIZERS == probe.OPTIMIZERS


def test_pre_commit_hook_definition() -> None:
    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gradlint" and hook["language"] == "python"
    assert hook["types"] == ["python"] and hook["require_serial"] is True
    assert hook["entry"].split() == ["gradlint", "--skip-no-model"]
