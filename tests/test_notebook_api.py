"""The Python API for notebooks and tests: ``gradlint.lint(model, ..., **options)``, the report's
rich / HTML / JSON renderings, and ``gradlint.testing.assert_no_gradient_risk``."""

from __future__ import annotations

import json

import jsonschema
import pytest
import torch
from rich.console import Console
from torch import nn

import gradlint
from gradlint.errors import UsageError
from gradlint.report import format_json, load_schema
from gradlint.testing import assert_no_gradient_risk
from gradlint.types import Severity

from .fakes import FAKE_CODE, fake_rule  # noqa: F401 - fixture


def nan_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    with torch.no_grad():
        model[2].weight[0, 0] = float("nan")
    return model


def clean_model() -> nn.Module:
    return nn.Sequential(nn.Linear(16, 4))


def test_lint_with_keyword_options(fake_rule) -> None:
    model = nan_model()
    report = gradlint.lint(model, torch.randn(8, 16))
    assert sorted(f.code for f in report.findings if f.code in ("GL001", FAKE_CODE)) == ["GL001", FAKE_CODE, FAKE_CODE]
    assert [f.code for f in gradlint.lint(model, torch.randn(8, 16), select="GL001").findings] == ["GL001"]
    assert [f.code for f in gradlint.lint(model, select=["GL0", "GL9"], ignore="GL950").findings] == ["GL001"]
    assert gradlint.lint(model, select="GL001,GL950").findings  # comma-separated, as on the command line
    assert gradlint.lint(model, input_shapes=[[2, 16]]).models[0].graph.inputs[0].shape == (2, 16)


def test_options_object_and_keywords_combine(fake_rule) -> None:
    options = gradlint.LintOptions(select=("GL950",))
    report = gradlint.lint(nan_model(), options=options, extend_select=["GL001"])
    assert sorted({f.code for f in report.findings}) == ["GL001", FAKE_CODE]


def test_bad_keywords() -> None:
    with pytest.raises(TypeError, match="unknown lint option"):
        gradlint.lint(clean_model(), colour=True)
    with pytest.raises(UsageError, match="unknown rule code"):
        gradlint.lint(clean_model(), select="GL999")


def test_probe_keywords() -> None:
    report = gradlint.lint(
        nan_model(),
        torch.randn(8, 16),
        probe=True,
        device="cpu",
        probe_seeds=1,
        thresholds={"explode-max": 5.0},
        select="GL001",
    )
    (model,) = report.models
    assert model.probe is not None and model.probe.seeds == (1,)
    assert model.probe.thresholds.explode_max == 5.0
    assert report.findings[0].confirmed is True
    assert "probe (cpu, seeds 1): exploding" in report._repr_html_()


def test_the_model_is_not_changed() -> None:
    model = clean_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gradlint.lint(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_to_json_is_the_cli_document() -> None:
    report = gradlint.lint(nan_model(), select="GL001")
    document = json.loads(report.to_json())
    jsonschema.validate(document, load_schema())
    assert report.to_json() == format_json(report)
    assert json.loads(report.to_json(indent=None)) == document
    assert document["models"][0]["findings"][0]["code"] == "GL001"


def test_repr_html_escapes_user_text() -> None:
    report = gradlint.lint(nan_model(), name="<script>alert(1)</script>", select="GL001")
    html = report._repr_html_()
    assert html.startswith('<div class="gradlint-report">')
    assert "<table>" in html and "GL001" in html and "<th>severity</th>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Found 1 finding" in html


def test_html_without_findings() -> None:
    html = gradlint.lint(clean_model(), select="GL001")._repr_html_()
    assert "no findings" in html and "All checks passed" in html and "<table>" not in html


def test_rich_rendering() -> None:
    report = gradlint.lint(nan_model(), name="Net[bold]x[/bold]", select="GL001")
    console = Console(record=True, width=200, color_system=None)
    console.print(report)
    text = console.export_text()
    assert "GL001" in text and "error" in text and "2" in text  # code, severity, module
    assert "Net[bold]x[/bold]" in text  # user text is never read as markup
    assert "Found 1 finding (1 error) in 1 model." in text


def test_assert_no_gradient_risk(fake_rule) -> None:
    report = assert_no_gradient_risk(clean_model(), torch.randn(4, 16), select="GL001")
    assert report.findings == ()
    with pytest.raises(AssertionError) as excinfo:
        assert_no_gradient_risk(nan_model(), torch.randn(4, 16), select="GL001,GL950")
    message = str(excinfo.value)
    assert message.startswith("gradlint found 3 gradient risk(s) at or above info in Sequential:")
    assert "GL001 [error] 2: parameter `2.weight`" in message
    # fail_on: the fake rule's warnings pass at "error", GL001 still fails
    assert_no_gradient_risk(clean_model(), fail_on=Severity.ERROR, select="GL001,GL950")
    with pytest.raises(AssertionError, match="1 gradient risk"):
        assert_no_gradient_risk(nan_model(), fail_on="error", select="GL001,GL950")
    with pytest.raises(ValueError, match="fail_on='fatal'"):
        assert_no_gradient_risk(clean_model(), fail_on="fatal")
