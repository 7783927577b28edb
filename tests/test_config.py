"""``[tool.gradlint]``: discovery (closest file wins, ``--config``, ``--isolated``), every key, and errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gradlint.cli import main
from gradlint.config import Overrides, Settings, parse_config
from gradlint.errors import UsageError
from gradlint.load import TargetSpec
from gradlint.verdict import VerdictThresholds

from .fakes import CLEAN_MODEL, NAN_MODEL, fake_rule  # noqa: F401 - fixture


def project(root: Path, config: str | None, *, model: str = NAN_MODEL, name: str = "net.py") -> Path:
    """``root`` with a ``pyproject.toml`` (``config`` is its body) and a model file; returns the model."""
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "pyproject.toml").write_text(textwrap.dedent(config).lstrip(), encoding="utf-8")
    path = root / name
    path.write_text(textwrap.dedent(model).lstrip("\n"), encoding="utf-8")
    return path


WATCHED = {"GL001", "GL950"}
"""The codes these tests count: the catalogue grows, and other rules may fire on the same models."""


def codes(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """Exit code and the sorted codes of the findings (JSON output), GL001 and GL950 only."""
    code = main([*args, "--format", "json"])
    out = capsys.readouterr().out
    findings = [f["code"] for m in json.loads(out)["models"] for f in m["findings"]] if out else []
    return code, sorted(c for c in findings if c in WATCHED)


def error_of(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


# --- selection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, ["GL001", "GL950", "GL950"]),
        ('select = ["GL950"]', ["GL950", "GL950"]),
        ('select = ["GL9"]', ["GL950", "GL950"]),  # prefix selection
        ('select = ["fake-linear-warning"]', ["GL950", "GL950"]),  # a rule name
        ('ignore = ["GL0"]', ["GL950", "GL950"]),
        ('select = ["GL001"]\nextend-select = ["GL950"]', ["GL001", "GL950", "GL950"]),
        ('select = ["ALL"]\nignore = ["GL950"]', ["GL001"]),
        ('select = "GL001"', ["GL001"]),  # one string is a list of one
    ],
)
def test_selection_keys(config: str | None, expected: list[str], tmp_path, fake_rule, capsys) -> None:
    model = project(tmp_path, f"[tool.gradlint]\n{config}\n" if config else None)
    assert codes(capsys, str(model))[1] == expected


@pytest.mark.parametrize(
    ("config", "args", "expected"),
    [
        ('ignore = ["GL001"]', ["--select", "GL001"], ["GL001"]),  # --select starts afresh, as in ruff
        ('select = ["GL950"]', ["--extend-select", "GL001"], ["GL001", "GL950", "GL950"]),
        ('select = ["ALL"]', ["--ignore", "GL9"], ["GL001"]),
        ('select = ["GL001"]', ["--select", "GL950", "--ignore", "GL950"], []),
    ],
)
def test_command_line_over_config(config, args, expected, tmp_path, fake_rule, capsys) -> None:
    model = project(tmp_path, f"[tool.gradlint]\n{config}\n")
    assert codes(capsys, str(model), *args)[1] == expected


# --- errors: never silence -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('select = ["GL999"]', "[tool.gradlint] select: unknown rule code or prefix 'GL999'"),
        ('ignore = ["XYZ"]', "[tool.gradlint] ignore: unknown rule code or prefix 'XYZ'"),
        ('extend-select = ["GL9"]', "extend-select: unknown rule code"),
        ('[tool.gradlint.per-file-ignores]\n"*.py" = ["GL777"]', "per-file-ignores.'*.py': unknown rule code"),
        ("fail_on = 'error'", "fail_on: unknown key (did you mean 'fail-on'?)"),
        ("colour = true", "colour: unknown key; known keys:"),
        ('fail-on = "fatal"', "fail-on: expected one of info, warning, error"),
        ('output-format = "xml"', "output-format: expected one of text"),
        ("select = [1]", "select: expected a list of rule codes"),
        ("probe = 'yes'", "probe: expected true or false"),
        ("probe-steps = -1", "probe-steps: must be 0 or more"),
        ("lr = 0", "lr: must be a positive number"),
        ('optimizer = "lbfgs"', "optimizer: expected one of sgd, adam, adamw, rmsprop"),
        ("betas = [0.9]", "betas: expected two numbers"),
        ("clip-grad-norm = 0", "clip-grad-norm: must be a positive number"),
        ("weight-decay = -1", "weight-decay: must be 0 or more"),
        ('device = "tpu"', "device: expected one of auto, cpu, cuda"),
        ("probe-seeds = []", "probe-seeds: expected a non-empty list of integers"),
        ("probe-timeout = -5", "probe-timeout: must be a positive number"),
        (
            "[tool.gradlint.thresholds]\nexplode_max = 2",
            "thresholds.explode_max: unknown key (did you mean 'explode-max'?)",
        ),
        ("[tool.gradlint.thresholds]\nexplode-max = 'big'", "thresholds.explode-max: expected a number"),
        ('[tool.gradlint.input-shapes]\n"net.py" = [[8, -1]]', "expected a shape of positive integers"),
        ('[tool.gradlint.input-shapes]\n"net.py" = { shapes = [[8, 16]], dtype = "float99" }', "dtype"),
        ("select = [", "invalid TOML"),
    ],
)
def test_bad_config_is_a_usage_error(config: str, message: str, tmp_path: Path, capsys) -> None:
    model = project(tmp_path, f"[tool.gradlint]\n{config}\n")
    code, err = error_of(capsys, str(model))
    assert code == 2
    assert message in err
    assert "pyproject.toml" in err and "Traceback" not in err


def test_unknown_code_fails_before_the_model_is_imported(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "imported"
    model = project(
        tmp_path,
        '[tool.gradlint]\nselect = ["GL999"]\n',
        model=f"import torch\nopen({str(marker)!r}, 'w').close()\nmodel = torch.nn.Linear(2, 2)\n",
    )
    assert error_of(capsys, str(model))[0] == 2
    assert not marker.exists()


# --- which file ------------------------------------------------------------------------------------


def test_closest_file_wins(tmp_path: Path, fake_rule, capsys) -> None:
    project(tmp_path, '[tool.gradlint]\nselect = ["GL001"]\n', name="top.py")
    nested = project(tmp_path / "sub", '[tool.gradlint]\nselect = ["GL950"]\n')
    plain = project(tmp_path / "plain", '[project]\nname = "x"\n')  # no [tool.gradlint]: passed over
    assert codes(capsys, str(tmp_path / "top.py"))[1] == ["GL001"]
    assert codes(capsys, str(nested))[1] == ["GL950", "GL950"]
    assert codes(capsys, str(plain))[1] == ["GL001"]
    # a directory run: each file under its own closest configuration
    assert codes(capsys, str(tmp_path))[1] == ["GL001", "GL001", "GL950", "GL950"]


def test_config_file_and_isolated(tmp_path: Path, fake_rule, capsys) -> None:
    model = project(tmp_path / "p", '[tool.gradlint]\nselect = ["GL950"]\n')
    other = tmp_path / "gradlint.toml"
    other.write_text('select = ["GL001"]\n')  # top-level keys in a file named by --config
    assert codes(capsys, str(model), "--config", str(other))[1] == ["GL001"]
    assert codes(capsys, str(model), "--config", str(tmp_path / "p" / "pyproject.toml"))[1] == ["GL950", "GL950"]
    assert codes(capsys, str(model), "--isolated")[1] == ["GL001", "GL950", "GL950"]
    code, err = error_of(capsys, str(model), "--config", str(other), "--isolated")
    assert code == 2 and "cannot be used together" in err
    code, err = error_of(capsys, str(model), "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "no such file" in err


def test_run_settings_come_from_the_working_directory(tmp_path: Path, monkeypatch, capsys) -> None:
    project(tmp_path, '[tool.gradlint]\nfail-on = "error"\noutput-format = "concise"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["net.py", "--no-color"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("net.py:8:1: GL001")  # concise: no header, no table
    assert "layer" not in out


def test_fail_on_from_config(tmp_path: Path, fake_rule, monkeypatch, capsys) -> None:
    model = project(tmp_path, '[tool.gradlint]\nfail-on = "error"\nselect = ["GL950"]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["net.py", "-q"]) == 0  # warnings only, fail-on error
    assert main(["net.py", "-q", "--fail-on", "warning"]) == 1  # the flag wins
    assert main([str(model), "-q", "--isolated", "--select", "GL950"]) == 1  # default fail-on: info
    capsys.readouterr()


# --- per-file ignores ------------------------------------------------------------------------------


def test_per_file_ignores_relative_to_the_config(tmp_path: Path, fake_rule, monkeypatch, capsys) -> None:
    config = '[tool.gradlint]\n[tool.gradlint.per-file-ignores]\n"legacy/*.py" = ["GL0"]\n"*.py" = ["GL950"]\n'
    project(tmp_path, config)
    legacy = project(tmp_path / "legacy", None)
    monkeypatch.chdir(tmp_path / "legacy")  # globs are relative to the file's folder, not the cwd
    assert codes(capsys, "net.py")[1] == []
    assert codes(capsys, str(tmp_path / "net.py"))[1] == ["GL001"]
    assert codes(capsys, str(legacy), "--isolated")[1] == ["GL001", "GL950", "GL950"]


# --- thresholds, input shapes, probe settings -------------------------------------------------------


def test_thresholds_reach_the_options(tmp_path: Path) -> None:
    project(tmp_path, "[tool.gradlint.thresholds]\nexplode-max = 2\nvanish-span = -1.5\n")
    options = Settings().options_for(TargetSpec(str(tmp_path / "net.py")))
    assert options.thresholds == VerdictThresholds(explode_max=2.0, vanish_span=-1.5)
    assert Settings(isolated=True).options_for(TargetSpec(str(tmp_path / "net.py"))).thresholds == VerdictThresholds()


def test_thresholds_reach_the_probe(tmp_path: Path, capsys) -> None:
    model = project(
        tmp_path,
        "[tool.gradlint]\nprobe = true\ndevice = 'cpu'\nprobe-seeds = [1]\n"
        "[tool.gradlint.thresholds]\nexplode-max = -5\n",
        model=CLEAN_MODEL,
    )
    main([str(model), "--format", "json"])
    (document,) = json.loads(capsys.readouterr().out)["models"]
    assert document["probe"]["thresholds"]["explode_max"] == -5
    assert document["probe"]["seeds"] == [1]
    assert document["probe_verdict"] == "exploding"  # every gradient is above 10^-5
    main([str(model), "--format", "json", "--no-probe"])
    assert "probe" not in json.loads(capsys.readouterr().out)["models"][0]


def test_input_shapes(tmp_path: Path, capsys) -> None:
    config = """
        [tool.gradlint.input-shapes]
        "net.py" = [[4, 16]]
        "flat.py" = [2, 16]
        "text.py" = "3,16"
        "named.py:Net" = { shapes = [[5, 16]], dtype = "float64" }
    """
    for name in ("net.py", "flat.py", "text.py", "named.py"):
        project(tmp_path, config, model=CLEAN_MODEL, name=name)

    def shape(*args: str) -> tuple[list[int], str]:
        main([*args, "--format", "json"])
        (model,) = json.loads(capsys.readouterr().out)["models"]
        return model["inputs"][0]["shape"], model["inputs"][0]["dtype"]

    assert shape(str(tmp_path / "net.py")) == ([4, 16], "float32")
    assert shape(str(tmp_path / "flat.py")) == ([2, 16], "float32")
    assert shape(str(tmp_path / "text.py")) == ([3, 16], "float32")
    assert shape(str(tmp_path / "named.py") + ":Net") == ([5, 16], "float64")
    assert shape(str(tmp_path / "named.py")) == ([8, 16], "float32")  # ATTR keys apply when named
    assert shape(str(tmp_path / "net.py"), "--input-shape", "6,16") == ([6, 16], "float32")


def test_probe_keys_and_flags(tmp_path: Path) -> None:
    project(
        tmp_path,
        """
        [tool.gradlint]
        probe = true
        device = "cpu"
        probe-seeds = "4,5"
        probe-steps = 3
        lr = 0.5
        optimizer = "adam"
        probe-timeout = 30
    """,
    )
    spec = TargetSpec(str(tmp_path / "net.py"))
    options = Settings().options_for(spec)
    assert (options.probe, options.device, options.probe_seeds, options.probe_steps) == (True, "cpu", (4, 5), 3)
    assert (options.lr, options.optimizer, options.probe_timeout_s) == (0.5, "adam", 30.0)
    flags = Overrides(probe_steps=0, lr=0.1, optimizer="sgd", probe_seeds=(1,))
    options = Settings(flags).options_for(spec)
    assert (options.probe, options.probe_steps, options.lr, options.optimizer, options.probe_seeds) == (
        True,
        0,
        0.1,
        "sgd",
        (1,),
    )
    defaults = Settings(isolated=True).options_for(spec)
    assert (defaults.probe, defaults.device, defaults.probe_seeds, defaults.probe_timeout_s) == (
        False,
        "auto",
        (1, 2, 3),
        None,
    )


def test_parse_config_directly(tmp_path: Path) -> None:
    path = str(tmp_path / "pyproject.toml")
    config = parse_config({"select": ["GL0"], "baseline": "b.json", "output-format": "SARIF"}, path)
    assert config.select == ("GL0",)
    assert config.baseline == str(tmp_path / "b.json")
    assert config.output_format == "sarif"
    with pytest.raises(UsageError, match="per-file-ignores: expected a table"):
        parse_config({"per-file-ignores": ["x"]}, path)
