"""The terminal report: ruff-style finding lines on stdout, the summary and errors on stderr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from gradlint.report import TextReporter
from gradlint.report.rows import tally
from gradlint.report.text import summary_line
from gradlint.types import (
    Finding,
    Fix,
    InitInfo,
    InputSpec,
    LayerNode,
    ModelGraph,
    ModelReport,
    Report,
    Severity,
    SourceLocation,
    TargetError,
    TraceAttempt,
    TraceInfo,
    WeightInfo,
    frozen_mapping,
)

LONG = "gradient RMS falls 10^-6.8 from the last layer to this one " + "and keeps falling " * 12
MARKUP_MESSAGE = "gradient [bold]vanishes[/bold] through [red]layers.0[/] :warning:"


def make_graph(source: str = "examples/mlp.py", *, std: float = 0.0206191, fallback: bool = False) -> ModelGraph:
    site = SourceLocation(source, 12, 9)
    nodes = (
        LayerNode("x", "placeholder", "x", ()),
        LayerNode(
            "layers_0",
            "call_module",
            "Linear",
            ("x",),
            module="layers.0",
            module_type="Linear",
            shape=(32, 256),
            role="linear",
            feeds_activation="relu",
            params=200960,
            location=site,
        ),
        LayerNode(
            "layers_1",
            "call_module",
            "ReLU",
            ("layers_0",),
            module="layers.1",
            module_type="ReLU",
            shape=(32, 256),
            role="activation",
            activation="relu",
            location=site,
        ),
        LayerNode(
            "cell",
            "call_module",
            "RNNCell",
            ("layers_1",),
            module="cell",
            module_type="RNNCell",
            shape=(32, 256),
            role="recurrent",
            params=131584,
            call_count=12,
            location=SourceLocation(source, 14, 9),
        ),
        LayerNode("output", "output", "output", ("cell",)),
    )
    weights = (
        WeightInfo(
            "layers.0.weight",
            "layers.0",
            "Linear",
            (256, 784),
            InitInfo("pytorch-default", "recorded"),
            std,
            0.0,
            0,
        ),
        WeightInfo(
            "cell.weight_ih",
            "cell",
            "RNNCell",
            (256, 256),
            InitInfo("uniform(±0.0625)", "recorded"),
            0.0361,
            0.0,
            2,
        ),
    )
    failed = (TraceAttempt("fx", "symbolically traced variables cannot be used as inputs to control flow\nmore"),)
    return ModelGraph(
        target=f"{source}:MLP",
        name="MLP",
        source_path=source,
        trace=TraceInfo("export" if fallback else "fx", failed if fallback else ()),
        inputs=(InputSpec((32, 784), "float32", "example_inputs()"),),
        nodes=nodes,
        weights=weights,
        tensors=(),
        params=frozen_mapping(),
        module_types=frozen_mapping(),
        module_locations=frozen_mapping(),
        parameter_count=332544,
        training=True,
    )


def finding(
    message: str = MARKUP_MESSAGE,
    *,
    code: str = "GL101",
    severity: Severity = Severity.ERROR,
    module: str | None = "layers.0",
    location: SourceLocation | None = SourceLocation("examples/mlp.py", 12, 9),
    fix: Fix | None = None,
    confirmed: bool | None = None,
) -> Finding:
    return Finding(
        code,
        "vanishing-gradient",
        severity,
        "vanishing-gradient",
        message,
        module,
        location,
        fix,
        confirmed=confirmed,
    )


HE_FIX = Fix(
    "initialise with He init [not markup]",
    "for layer in self.layers:\n    nn.init.kaiming_normal_(layer.weight)",
)


def render(report: Report, **options: bool) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    TextReporter(out, err, color=options.pop("color", False), **options).render(report)
    return out.getvalue(), err.getvalue()


def one_model(*findings: Finding, **graph_options: object) -> Report:
    return Report(models=(ModelReport(make_graph(**graph_options), findings),))  # type: ignore[arg-type]


def test_finding_line_is_path_line_col_code_severity_module_message() -> None:
    out, _ = render(one_model(finding()))
    assert f"examples/mlp.py:12:9: GL101 [error] layers.0: {MARKUP_MESSAGE}" in out.splitlines()


def test_no_ansi_and_no_markup_without_colour() -> None:
    out, err = render(one_model(finding(fix=HE_FIX)), color=False)
    assert "\x1b" not in out + err
    assert "[bold]vanishes[/bold]" in out
    assert ":warning:" in out
    assert "[not markup]" in out


def test_colour_when_asked_keeps_user_text_literal() -> None:
    out, _ = render(one_model(finding()), color=True)
    assert "\x1b[" in out
    assert "[bold]vanishes[/bold] through [red]layers.0[/] :warning:" in out


def test_long_findings_are_never_wrapped_or_truncated() -> None:
    out, _ = render(one_model(finding(LONG)))
    assert f"examples/mlp.py:12:9: GL101 [error] layers.0: {LONG}" in out.splitlines()
    assert "…" not in out


def test_a_narrow_caller_console_does_not_wrap_findings() -> None:
    out = io.StringIO()
    console = Console(file=out, width=40, color_system=None, force_terminal=False)
    report = one_model(finding(LONG, module="encoder.layers.11.self_attn"))
    TextReporter(console, io.StringIO(), color=False).render(report)
    lines = out.getvalue().splitlines()
    assert f"examples/mlp.py:12:9: GL101 [error] encoder.layers.11.self_attn: {LONG}" in lines
    assert "…" not in out.getvalue()  # the table folds cells rather than cutting them


def test_fix_lines_are_indented_under_the_finding() -> None:
    out, _ = render(one_model(finding("m", fix=HE_FIX)))
    lines = out.splitlines()
    start = lines.index("examples/mlp.py:12:9: GL101 [error] layers.0: m")
    assert lines[start + 1 : start + 4] == [
        "    fix: initialise with He init [not markup]",
        "        for layer in self.layers:",
        "            nn.init.kaiming_normal_(layer.weight)",
    ]


def test_show_fix_false_hides_fixes() -> None:
    out, _ = render(one_model(finding("m", fix=HE_FIX)), show_fix=False)
    assert "fix:" not in out
    assert "kaiming_normal_" not in out


def test_finding_without_module_or_location_points_at_the_model_source() -> None:
    unplaced = finding("sqrt at 0", code="GL301", severity=Severity.WARNING, module=None, location=None)
    out, _ = render(one_model(unplaced))
    assert "examples/mlp.py:1:1: GL301 [warning] sqrt at 0" in out.splitlines()


def test_probe_verdict_is_shown() -> None:
    out, _ = render(one_model(finding("a", confirmed=True), finding("b", confirmed=False), finding("c")))
    lines = out.splitlines()
    assert "examples/mlp.py:12:9: GL101 [error] layers.0: a (probe: confirmed)" in lines
    assert "examples/mlp.py:12:9: GL101 [error] layers.0: b (probe: refuted)" in lines
    assert "examples/mlp.py:12:9: GL101 [error] layers.0: c" in lines


def test_header_names_target_class_and_trace_method() -> None:
    out, _ = render(one_model())
    assert out.splitlines()[0] == "examples/mlp.py:MLP (MLP, 332,544 parameters, traced with fx)"


def test_header_explains_fallbacks() -> None:
    out, _ = render(one_model(fallback=True))
    lines = out.splitlines()
    assert lines[0] == "examples/mlp.py:MLP (MLP, 332,544 parameters, traced with export)"
    assert lines[1] == "  inputs: (32, 784) float32 (example_inputs())"
    assert lines[2] == "  fx failed: symbolically traced variables cannot be used as inputs to control flow"


def test_inputs_line_names_nested_and_keyword_tensors() -> None:
    from dataclasses import replace

    inputs = (
        InputSpec((35, 8), "int64", "--inputs"),
        InputSpec((1, 8, 16), "float32", "--inputs", "args[1][0]"),
        InputSpec((2, 77, 768), "float32", "--input-kwargs", "context"),
    )
    graph = replace(make_graph(), inputs=inputs, built="RNN(100, 16)")
    out, _ = render(Report(models=(ModelReport(graph, ()),)), show_layers=False)
    assert out.splitlines()[1:3] == [
        "  built as RNN(100, 16)",
        "  inputs: (35, 8) int64, args[1][0]=(1, 8, 16) float32 (--inputs); context=(2, 77, 768) float32 (--input-kwargs)",
    ]


def test_findings_come_before_the_layer_table() -> None:
    out, _ = render(one_model(finding("m")))
    lines = out.splitlines()
    finding_at = next(i for i, line in enumerate(lines) if "GL101" in line)
    table_at = next(i for i, line in enumerate(lines) if line.startswith("layer"))
    assert finding_at < table_at


def test_layer_table() -> None:
    out, _ = render(one_model())
    header = next(line for line in out.splitlines() if line.startswith("layer"))
    assert header.split() == [
        "layer",
        "type",
        "output",
        "shape",
        "params",
        "activation",
        "init",
        "weight",
        "std",
        "line",
    ]
    linear = next(line for line in out.splitlines() if line.startswith("layers.0 "))
    assert linear.split() == [
        "layers.0",
        "Linear",
        "[32,",
        "256]",
        "200,960",
        "relu",
        "pytorch-default",
        "0.02062",
        "examples/mlp.py:12",
    ]
    relu = next(line for line in out.splitlines() if line.startswith("layers.1 "))
    assert relu.split() == ["layers.1", "ReLU", "[32,", "256]", "0", "relu", "-", "-", "examples/mlp.py:12"]
    assert "cell (x12)" in out
    assert "131,584" in out


def test_non_finite_std_in_the_table() -> None:
    out, _ = render(one_model(std=float("nan")))
    linear = next(line for line in out.splitlines() if line.startswith("layers.0 "))
    assert "nan" in linear.split()


def test_show_layers_false_hides_the_table() -> None:
    out, _ = render(one_model(finding("m")), show_layers=False)
    assert out.splitlines() == [
        "examples/mlp.py:MLP (MLP, 332,544 parameters, traced with fx)",
        "  inputs: (32, 784) float32 (example_inputs())",
        "examples/mlp.py:12:9: GL101 [error] layers.0: m",
    ]


def test_paths_are_shown_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = str(tmp_path / "models" / "mlp.py")
    report = one_model(finding("m", location=SourceLocation(source, 12, 9)), source=source)
    out, _ = render(report)
    shown = str(Path("models", "mlp.py"))
    assert f"{shown}:12:9: GL101 [error] layers.0: m" in out.splitlines()
    linear = next(line for line in out.splitlines() if line.startswith("layers.0 "))
    assert linear.split()[-1] == f"{shown}:12"
    assert str(tmp_path) not in out.replace(f"{source}:MLP", "")  # only the target keeps the user's spelling


def test_models_are_separated_by_a_blank_line() -> None:
    report = Report(models=(ModelReport(make_graph(), ()), ModelReport(make_graph("examples/b.py"), ())))
    out, _ = render(report, show_layers=False, show_context=False)
    assert out.splitlines() == [
        "examples/mlp.py:MLP (MLP, 332,544 parameters, traced with fx)",
        "",
        "examples/b.py:MLP (MLP, 332,544 parameters, traced with fx)",
    ]


def test_summary_and_errors_go_to_stderr() -> None:
    report = Report(
        models=(
            ModelReport(
                make_graph(),
                (finding("m"), finding("w", severity=Severity.WARNING), finding("v", severity=Severity.WARNING)),
            ),
            ModelReport(make_graph("examples/b.py"), ()),
        ),
        errors=(
            TargetError(
                "examples/broken.py",
                "examples/broken.py: importing it raised ModuleNotFoundError: No module named 'timm'\n  traceback",
            ),
        ),
    )
    out, err = render(report)
    assert err.splitlines() == [
        "gradlint: examples/broken.py: importing it raised ModuleNotFoundError: No module named 'timm'",
        "Found 3 findings (1 error, 2 warnings) in 1 of 2 models. 1 target could not be checked.",
    ]
    assert "Found" not in out
    assert "broken.py" not in out


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (Report(models=(ModelReport(make_graph(), ()),) * 5), "All checks passed: 5 models, no findings."),
        (Report(models=(ModelReport(make_graph(), ()),)), "All checks passed: 1 model, no findings."),
        (one_model(finding("m")), "Found 1 finding (1 error) in 1 model."),
        (
            Report(models=(ModelReport(make_graph(), (finding("a"), finding("b", severity=Severity.INFO))),) * 2),
            "Found 4 findings (2 errors, 2 info) in 2 models.",
        ),
        (
            Report(
                models=(ModelReport(make_graph(), ()),),
                errors=(TargetError("a.py", "x"), TargetError("b.py", "y")),
            ),
            "No findings in 1 model. 2 targets could not be checked.",
        ),
        (Report(models=(), errors=(TargetError("a.py", "x"),)), "No models checked. 1 target could not be checked."),
    ],
)
def test_summary_line(report: Report, expected: str) -> None:
    assert summary_line(tally(report)) == expected


def test_render_model_streams_one_model_at_a_time() -> None:
    out, err = io.StringIO(), io.StringIO()
    reporter = TextReporter(out, err, color=False, show_layers=False)
    report = one_model(finding("m"))
    reporter.render_model(report.models[0])
    assert "GL101" in out.getvalue()
    assert err.getvalue() == ""
    reporter.render_summary(report)
    assert err.getvalue() == "Found 1 finding (1 error) in 1 model.\n"
