"""The JSON report: documented keys, strict JSON, and validity against the bundled schema."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import torch

from gradlint._version import __version__
from gradlint.report import SCHEMA_VERSION, display_path, format_json, load_schema, report_to_dict
from gradlint.report.json_format import json_value
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

DOCS = Path(__file__).resolve().parents[1] / "docs" / "json-report.md"


def make_graph(source: str = "examples/mlp.py", *, std: float = 0.0206191, fallback: bool = True) -> ModelGraph:
    """A two-layer MLP plus an LSTM applied in a loop, as the trace stage would describe it."""
    site = SourceLocation(source, 9, 9)
    nodes = (
        LayerNode("x", "placeholder", "x", ()),
        LayerNode(
            "net_0",
            "call_module",
            "Linear",
            ("x",),
            module="net.0",
            module_type="Linear",
            shape=(32, 256),
            role="linear",
            feeds_activation="relu",
            params=200960,
            location=site,
        ),
        LayerNode(
            "net_1",
            "call_module",
            "ReLU",
            ("net_0",),
            module="net.1",
            module_type="ReLU",
            shape=(32, 256),
            role="activation",
            activation="relu",
            location=site,
        ),
        LayerNode("relu", "call_function", "relu", ("net_1",), module="", role="activation", activation="relu"),
        LayerNode(
            "cell",
            "call_module",
            "LSTMCell",
            ("relu",),
            module="cell",
            module_type="LSTMCell",
            shape=None,
            role="recurrent",
            params=526336,
            call_count=12,
            location=None,
        ),
        LayerNode("output", "output", "output", ("cell",)),
    )
    weights = (
        WeightInfo(
            "net.0.weight",
            "net.0",
            "Linear",
            (256, 784),
            InitInfo("pytorch-default", "recorded", ("kaiming_uniform_(a=2.236)",)),
            std,
            -2.3e-5,
            0,
        ),
        WeightInfo(
            "cell.weight_ih",
            "cell",
            "LSTMCell",
            (1024, 256),
            InitInfo("uniform(±0.0625)", "statistics"),
            0.036,
            0.0,
            2,
        ),
        WeightInfo(
            "cell.weight_hh",
            "cell",
            "LSTMCell",
            (1024, 256),
            InitInfo("orthogonal(gain=1)", "recorded", ("orthogonal_()",)),
            0.0625,
            0.0,
            2,
        ),
    )
    failed = (TraceAttempt("fx", "symbolically traced variables cannot be used\n  as inputs to control flow"),)
    return ModelGraph(
        target=f"{source}:MLP",
        name="MLP",
        source_path=source,
        trace=TraceInfo("export", failed if fallback else ()),
        inputs=(InputSpec((32, 784), "float32", "example_inputs()"),),
        nodes=nodes,
        weights=weights,
        tensors=(),
        params=frozen_mapping(),
        module_types=frozen_mapping({"": "MLP", "net.0": "Linear", "net.1": "ReLU", "cell": "LSTMCell"}),
        module_locations=frozen_mapping({"net.0": site, "net.1": site}),
        parameter_count=727296,
        training=True,
    )


def make_findings(source: str = "examples/mlp.py") -> tuple[Finding, ...]:
    return (
        Finding(
            "GL101",
            "vanishing-gradient",
            Severity.ERROR,
            "vanishing-gradient",
            "gradient RMS falls 10^-6.8 from the last layer",
            "net.0",
            SourceLocation(source, 9, 9),
            Fix("initialise with He init", 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'),
            frozen_mapping({"log10_ratio": -6.812345678, "layers": ("net.0", "net.2"), "gain": float("inf")}),
            confirmed=True,
        ),
        Finding("GL301", "sqrt-at-zero", Severity.WARNING, "unstable-op", "sqrt of a value that can be 0", None, None),
        Finding(
            "GL101",
            "vanishing-gradient",
            Severity.WARNING,
            "vanishing-gradient",
            "again",
            "cell",
            None,
            confirmed=False,
        ),
    )


def make_report(**graph_options: Any) -> Report:
    return Report(
        models=(ModelReport(make_graph(**graph_options), make_findings()), ModelReport(make_graph(fallback=False), ())),
        errors=(TargetError("examples/broken.py", "ModuleNotFoundError: No module named 'timm'"),),
    )


def strict_loads(text: str) -> Any:
    def reject(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def validate(document: Any) -> None:
    jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker()).validate(document)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_document_validates_against_the_bundled_schema() -> None:
    validate(strict_loads(format_json(make_report())))


def test_format_json_is_the_dict_serialised() -> None:
    report = make_report()
    assert strict_loads(format_json(report)) == report_to_dict(report)
    assert not format_json(report).endswith("\n")


def test_top_level_keys_and_versions() -> None:
    document = report_to_dict(make_report())
    assert list(document) == ["schema_version", "gradlint_version", "models", "errors", "summary"]
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["gradlint_version"] == __version__
    assert document["errors"] == [
        {
            "target": "examples/broken.py",
            "stage": "load",
            "message": "ModuleNotFoundError: No module named 'timm'",
            "internal": False,
            "how_to_report": None,
        },
    ]


def test_model_keys_and_trace() -> None:
    model = report_to_dict(make_report())["models"][0]
    assert list(model) == [
        "target",
        "name",
        "source",
        "trace",
        "inputs",
        "parameters",
        "train_mode",
        "training",
        "layers",
        "weights",
        "findings",
    ]
    assert model["target"] == "examples/mlp.py:MLP"
    assert model["source"] == "examples/mlp.py"
    assert model["trace"] == {
        "method": "export",
        "fallbacks": [{"method": "fx", "error": "symbolically traced variables cannot be used"}],
    }
    assert model["inputs"] == [{"shape": [32, 784], "dtype": "float32", "origin": "example_inputs()"}]
    assert model["parameters"] == 727296
    assert model["train_mode"] is True
    assert model["training"] is None  # no estimate in this report, so no training check


def test_one_layer_per_module_call() -> None:
    layers = report_to_dict(make_report())["models"][0]["layers"]
    assert [layer["name"] for layer in layers] == ["net_0", "net_1", "cell"]
    linear, relu, cell = layers
    assert linear == {
        "name": "net_0",
        "module": "net.0",
        "type": "Linear",
        "role": "linear",
        "output_shape": [32, 256],
        "params": 200960,
        "activation": "relu",
        "init": "pytorch-default",
        "std": 0.02062,
        "calls": 1,
        "location": {"path": "examples/mlp.py", "line": 9},
        "spectral_norm": None,
        "spectral_radius": None,
    }
    assert (relu["activation"], relu["init"], relu["std"], relu["params"]) == ("relu", None, None, 0)
    assert (cell["init"], cell["std"]) == ("uniform(±0.0625)", 0.036)  # the module's first weight
    assert (cell["calls"], cell["location"], cell["output_shape"], cell["activation"]) == (12, None, None, None)


def test_weights() -> None:
    weights = report_to_dict(make_report())["models"][0]["weights"]
    assert [w["name"] for w in weights] == ["net.0.weight", "cell.weight_ih", "cell.weight_hh"]
    assert weights[0] == {
        "name": "net.0.weight",
        "module": "net.0",
        "type": "Linear",
        "shape": [256, 784],
        "init": "pytorch-default",
        "init_source": "recorded",
        "init_calls": ["kaiming_uniform_(a=2.236)"],
        "std": 0.02062,
        "mean": -2.3e-05,
    }
    assert weights[1]["init_source"] == "statistics"
    assert weights[1]["init_calls"] == []


def test_findings() -> None:
    findings = report_to_dict(make_report())["models"][0]["findings"]
    assert findings[0] == {
        "code": "GL101",
        "name": "vanishing-gradient",
        "severity": "error",
        "kind": "vanishing-gradient",
        "message": "gradient RMS falls 10^-6.8 from the last layer",
        "module": "net.0",
        "location": {"path": "examples/mlp.py", "line": 9, "col": 9},
        "fix": {
            "description": "initialise with He init",
            "code": 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")',
        },
        "evidence": {"log10_ratio": -6.81235, "layers": ["net.0", "net.2"], "gain": "inf"},
        "confirmed": True,
        "related": [],
    }
    assert (findings[1]["module"], findings[1]["location"], findings[1]["fix"], findings[1]["evidence"]) == (
        None,
        None,
        None,
        {},
    )
    assert [f["confirmed"] for f in findings] == [True, None, False]


def test_summary_counts_every_severity_and_sorts_codes() -> None:
    summary = report_to_dict(make_report())["summary"]
    assert summary == {
        "models": 2,
        "findings": 3,
        "errors": 1,
        "by_severity": {"error": 1, "warning": 2, "info": 0},
        "by_code": {"GL101": 2, "GL301": 1},
        "models_uncertain": 0,
    }
    assert list(summary["by_code"]) == ["GL101", "GL301"]


def test_empty_report() -> None:
    document = report_to_dict(Report(models=()))
    validate(document)
    assert document["summary"] == {
        "models": 0,
        "findings": 0,
        "errors": 0,
        "by_severity": {"error": 0, "warning": 0, "info": 0},
        "by_code": {},
        "models_uncertain": 0,
    }


@pytest.mark.parametrize(("value", "shown"), [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")])
def test_non_finite_std_is_a_string_and_the_output_stays_strict_json(value: float, shown: str) -> None:
    text = format_json(make_report(std=value))
    document = strict_loads(text)
    validate(document)
    model = document["models"][0]
    assert model["weights"][0]["std"] == shown
    assert model["layers"][0]["std"] == shown


def test_std_keeps_four_significant_digits() -> None:
    for std, shown in [(0.0206191, 0.02062), (1.23456e-7, 1.235e-07), (123456.0, 123500.0), (0.0, 0.0)]:
        assert report_to_dict(make_report(std=std))["models"][0]["weights"][0]["std"] == shown


class Kind:
    def __str__(self) -> str:
        return "custom"


def test_evidence_values_are_converted_to_json() -> None:
    evidence = {
        "tensor": torch.tensor([1.0, float("nan")]),
        "scalar": torch.tensor(2.5),
        "size": torch.Size([2, 3]),
        "dtype": torch.float16,
        "severity": Severity.WARNING,
        "nested": {1: (1, 2.0, None, True)},
        "set": frozenset({"b", "a"}),
        "where": SourceLocation("examples/mlp.py", 3, 5),
        "neg_inf": -math.inf,
        "other": Kind(),
    }
    converted = json_value(evidence)
    assert converted == {
        "tensor": [1.0, "nan"],
        "scalar": 2.5,
        "size": [2, 3],
        "dtype": "float16",
        "severity": "warning",
        "nested": {"1": [1, 2.0, None, True]},
        "set": ["a", "b"],
        "where": {"path": "examples/mlp.py", "line": 3, "col": 5},
        "neg_inf": "-inf",
        "other": "custom",
    }
    strict_loads(json.dumps(converted, allow_nan=False))


def test_paths_are_relative_under_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    inside = str(project / "models" / "mlp.py")
    outside = str(tmp_path / "elsewhere" / "lib.py")
    graph = make_graph(inside)
    report = Report(models=(ModelReport(graph, make_findings(outside)),))
    model = report_to_dict(report)["models"][0]
    assert model["source"] == str(Path("models", "mlp.py"))
    assert model["layers"][0]["location"]["path"] == str(Path("models", "mlp.py"))
    assert model["findings"][0]["location"]["path"] == outside
    assert model["target"] == f"{inside}:MLP"  # the target is shown as the user wrote it


def test_display_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    (real / "pkg").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert display_path(real / "pkg" / "m.py", cwd=real) == str(Path("pkg", "m.py"))
    assert display_path(real / "pkg" / "m.py", cwd=link) == str(Path("pkg", "m.py"))
    assert display_path("/somewhere/else.py", cwd=real) == "/somewhere/else.py"
    assert display_path("<string>", cwd=real) == "<string>"
    monkeypatch.chdir(real)
    assert display_path("pkg/../pkg/m.py") == str(Path("pkg", "m.py"))
    assert display_path(str(real / "pkg" / "m.py")) == str(Path("pkg", "m.py"))


def test_unknown_fields_are_allowed_so_v1_can_grow() -> None:
    document = report_to_dict(make_report())
    document["probe"] = {"device": "cuda"}
    document["models"][0]["estimate"] = {"gain": 1.0}
    document["models"][0]["findings"][0]["measured"] = -6.5
    validate(document)


def test_missing_documented_field_is_rejected() -> None:
    document = report_to_dict(make_report())
    del document["models"][0]["findings"][0]["severity"]
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def _docs_example() -> dict[str, Any]:
    match = re.search(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert match, "docs/json-report.md has no ```json example"
    example: dict[str, Any] = strict_loads(match.group(1))
    return example


def test_docs_example_validates_and_has_the_real_keys() -> None:
    example = _docs_example()
    validate(example)
    real = report_to_dict(make_report())
    assert example.keys() == real.keys()
    assert example["models"][0].keys() == real["models"][0].keys()
    assert example["models"][0]["layers"][0].keys() == real["models"][0]["layers"][0].keys()
    assert example["models"][0]["weights"][0].keys() == real["models"][0]["weights"][0].keys()
    assert example["models"][0]["findings"][0].keys() == real["models"][0]["findings"][0].keys()
    assert example["summary"].keys() == real["summary"].keys()


def test_docs_describe_every_field() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    model = report_to_dict(make_report())["models"][0]
    names = {*model, *model["layers"][0], *model["weights"][0], *model["findings"][0]}
    names |= {*report_to_dict(make_report()), *report_to_dict(make_report())["summary"]}
    missing = sorted(name for name in names if f"| `{name}` |" not in docs)
    assert not missing, f"docs/json-report.md does not document {missing}"
