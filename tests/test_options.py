"""The option table: each option reachable by its flag, its config key and its keyword, from one row."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from gradlint.api import LintOptions, with_overrides
from gradlint.baseline import write_baseline
from gradlint.cli import check_command, overrides_from
from gradlint.config import Overrides, Settings, parse_config
from gradlint.errors import UsageError
from gradlint.load import TargetSpec
from gradlint.options import OPTION, OPTIONS, TARGET_OPTIONS, split_list
from gradlint.suppress import PerFileIgnore
from gradlint.types import Report


def codes(options: LintOptions) -> set[str]:
    return {rule.code for rule in options.selected_rules()}


def all_codes() -> set[str]:
    return codes(LintOptions())


# name -> (command-line arguments, [tool.gradlint] lines, lint() keywords, what the merged options must show)
SAMPLES: dict[str, tuple[list[str] | None, str | None, dict[str, Any] | None, Any]] = {
    "select": (
        ["--select", "GL1"],
        'select = ["GL1"]',
        {"select": "GL1"},
        lambda o: codes(o) == {c for c in all_codes() if c.startswith("GL1")},
    ),
    "ignore": (
        ["--ignore", "GL1"],
        'ignore = ["GL1"]',
        {"ignore": ["GL1"]},
        lambda o: codes(o) == {c for c in all_codes() if not c.startswith("GL1")},
    ),
    "extend_select": (
        ["--select", "GL0", "--extend-select", "GL1"],
        'select = ["GL0"]\nextend-select = ["GL1"]',
        {"select": "GL0", "extend_select": "GL1"},
        lambda o: codes(o) == {c for c in all_codes() if c.startswith(("GL0", "GL1"))},
    ),
    "input_shapes": (
        ["--input-shape", "8,3"],
        '[tool.gradlint.input-shapes]\n"net.py" = [[8, 3]]',
        {"input_shapes": [[8, 3]]},
        lambda o: o.input_shapes == ((8, 3),),
    ),
    # no key of its own: a dtype comes with an input-shapes entry
    "input_dtype": (["--input-dtype", "int64"], None, {"input_dtype": "int64"}, lambda o: o.input_dtype == "int64"),
    # no top-level key: given per model in [[tool.gradlint.models]] (tests/test_config_models.py)
    "inputs": (
        ["--inputs", "torch.zeros(2, 3)"],
        None,
        {"inputs": "x"},
        lambda o: o.inputs in ("torch.zeros(2, 3)", "x"),
    ),
    "input_kwargs": (
        ["--input-kwargs", "dict(y=1)"],
        None,
        {"input_kwargs": "dict()"},
        lambda o: o.input_kwargs in ("dict(y=1)", "dict()"),
    ),
    "baseline": (["--baseline", "{baseline}"], 'baseline = "baseline.json"', None, lambda o: o.baseline is not None),
    "skip_no_model": (["--skip-no-model"], None, {"skip_no_model": True}, lambda o: o.skip_no_model is True),
    "spectral_norms": (
        ["--spectral-norms"],
        "spectral-norms = true",
        {"spectral_norms": True},
        lambda o: o.spectral_norms is True,
    ),
    "probe": (["--probe"], "probe = true", {"probe": True}, lambda o: o.probe is True),
    "meta": (["--meta"], "meta = true", {"meta": True}, lambda o: o.meta is True),
    "device": (["--device", "CPU"], 'device = "cpu"', {"device": "cpu"}, lambda o: o.device == "cpu"),
    "probe_seeds": (
        ["--probe-seeds", "4,5"],
        "probe-seeds = [4, 5]",
        {"probe_seeds": [4, 5]},
        lambda o: o.probe_seeds == (4, 5),
    ),
    "probe_steps": (["--probe-steps", "7"], "probe-steps = 7", {"probe_steps": 7}, lambda o: o.probe_steps == 7),
    "lr": (["--lr", "0.5"], "lr = 0.5", {"lr": 0.5}, lambda o: o.lr == 0.5),
    "momentum": (["--momentum", "0.9"], "momentum = 0.9", {"momentum": 0.9}, lambda o: o.momentum == 0.9),
    "betas": (
        ["--betas", "0.8,0.99"],
        "betas = [0.8, 0.99]",
        {"betas": [0.8, 0.99]},
        lambda o: o.betas == (0.8, 0.99),
    ),
    "eps": (["--eps", "1e-10"], "eps = 1e-10", {"eps": 1e-10}, lambda o: o.eps == 1e-10),
    "weight_decay": (
        ["--weight-decay", "0.1"],
        "weight-decay = 0.1",
        {"weight_decay": 0.1},
        lambda o: o.weight_decay == 0.1,
    ),
    "clip_grad_norm": (
        ["--clip-grad-norm", "2"],
        "clip-grad-norm = 2.0",
        {"clip_grad_norm": 2.0},
        lambda o: o.clip_grad_norm == 2.0,
    ),
    "precision": (
        ["--precision", "FP16"],
        'precision = "bf16"',
        {"precision": "mixed-bf16"},
        lambda o: o.precision in ("float16", "bfloat16", "mixed-bf16"),
    ),
    "optimizer": (
        ["--optimizer", "ADAM"],
        'optimizer = "adam"',
        {"optimizer": "adam"},
        lambda o: o.optimizer == "adam",
    ),
    "probe_timeout_s": (
        ["--probe-timeout", "9"],
        "probe-timeout = 9",
        {"probe_timeout_s": 9},
        lambda o: o.probe_timeout_s == 9,
    ),
    "thresholds": (
        None,
        "[tool.gradlint.thresholds]\nexplode-max = 2.5",
        {"thresholds": {"explode-max": 2.5}},
        lambda o: o.thresholds.explode_max == 2.5,
    ),
    "per_file_ignores": (
        None,
        '[tool.gradlint.per-file-ignores]\n"net.py" = ["GL1"]',
        {"per_file_ignores": (PerFileIgnore("net.py", ("GL1",), "."),)},
        lambda o: [p.selectors for p in o.per_file_ignores] == [("GL1",)],
    ),
    "trace_methods": (None, None, {"trace_methods": ("fx",)}, lambda o: o.trace_methods == ("fx",)),
    "rules": (None, None, {"rules": ()}, lambda o: o.selected_rules() == ()),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_baseline(str(tmp_path / "baseline.json"), Report((), ()))
    (tmp_path / "net.py").write_text("import torch\n")
    return tmp_path


def test_every_per_target_row_is_sampled_where_it_can_be_given() -> None:
    assert set(SAMPLES) == {row.name for row in TARGET_OPTIONS}
    for row in TARGET_OPTIONS:
        flag, toml, keywords, _ = SAMPLES[row.name]
        assert (flag is not None) == (row.flag is not None), row.name
        assert (toml is not None) == (row.key is not None), row.name
        assert keywords is not None or row.name == "baseline", row.name  # a loaded Baseline object as keyword


def test_lint_options_fields_are_the_rows() -> None:
    assert [f.name for f in fields(LintOptions)] == [row.name for row in TARGET_OPTIONS]
    assert LintOptions().thresholds == OPTION["thresholds"].default


@pytest.mark.parametrize("name", [row.name for row in TARGET_OPTIONS if row.flag])
def test_reachable_by_flag(name: str, project: Path) -> None:
    args, _, _, check = SAMPLES[name]
    args = [a.format(baseline=project / "baseline.json") for a in args]  # type: ignore[union-attr]
    ctx = check_command.make_context("check", [str(project / "net.py"), *args])
    options = Settings(overrides_from(ctx.params), isolated=True).options_for(TargetSpec(str(project / "net.py")))
    assert check(options), options
    # and the flag alone changed it
    assert not check(Settings(Overrides(), isolated=True).options_for(TargetSpec(str(project / "net.py"))))


@pytest.mark.parametrize("name", [row.name for row in TARGET_OPTIONS if row.key])
def test_reachable_by_config_key(name: str, project: Path) -> None:
    _, toml, _, check = SAMPLES[name]
    (project / "pyproject.toml").write_text(f"[tool.gradlint]\n{toml}\n")
    options = Settings().options_for(TargetSpec(str(project / "net.py")))
    assert check(options), options


@pytest.mark.parametrize("name", [name for name, sample in SAMPLES.items() if sample[2] is not None])
def test_reachable_by_keyword(name: str) -> None:
    _, _, keywords, check = SAMPLES[name]
    assert check(with_overrides(LintOptions(), keywords))  # type: ignore[arg-type]
    assert not check(LintOptions())


def test_run_wide_rows() -> None:
    run_rows = [row for row in OPTIONS if row.scope == "run"]
    assert {row.name for row in run_rows if row.key} == {"output_format", "fail_on", "jobs", "models", "threads"}
    config = parse_config({"output-format": "SARIF", "fail-on": "error"}, "pyproject.toml")
    assert (config.output_format, config.fail_on) == ("sarif", "error")
    ctx = check_command.make_context("check", ["net.py", "--format", "json", "--fail-on", "warning", "-q"])
    assert (ctx.params["output_format"], ctx.params["fail_on"], ctx.params["quiet"]) == ("json", "warning", True)


def test_every_flag_row_is_a_click_option() -> None:
    declared = {opt for param in check_command.params for opt in (*param.opts, *param.secondary_opts)}
    for row in OPTIONS:
        if row.flag:
            assert set(row.flag.split("/")) <= declared, row.flag


def test_unknown_config_key_error_unchanged() -> None:
    with pytest.raises(UsageError) as close:
        parse_config({"selct": ["GL1"]}, "p/pyproject.toml")
    assert str(close.value) == "p/pyproject.toml: [tool.gradlint] selct: unknown key (did you mean 'select'?)"
    with pytest.raises(UsageError) as far:
        parse_config({"colour": True}, "p/pyproject.toml")
    known = (
        "baseline, betas, clip-grad-norm, device, eps, extend-select, fail-on, ignore, input-shapes, jobs, lr, meta, "
        "models, momentum, optimizer, output-format, per-file-ignores, precision, probe, probe-seeds, probe-steps, "
        "probe-timeout, select, spectral-norms, threads, thresholds, weight-decay"
    )
    assert str(far.value) == f"p/pyproject.toml: [tool.gradlint] colour: unknown key; known keys: {known}"


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown lint option"):
        with_overrides(LintOptions(), {"colour": True})


def test_one_list_splitter() -> None:
    assert split_list(("GL1, GL2", "GL3,")) == ("GL1", "GL2", "GL3")
    assert split_list("GL1") == ("GL1",) and split_list(None) == ()
