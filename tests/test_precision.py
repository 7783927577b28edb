"""--precision: number formats, the tail model, per-node dtypes, and the GL8xx findings checked against the probe
run in that dtype (models built to overflow float16's forward, to underflow its gradients, to lose a norm's
eps, to hold a LayerScale below its precision, and healthy ones)."""

from __future__ import annotations

import copy
import json
import math
import textwrap

import jsonschema
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import gradlint
from gradlint import options
from gradlint.cli import cli, main
from gradlint.errors import UsageError
from gradlint.estimate.extremes import expected_max, gaussian_max
from gradlint.estimate.precision import FORMATS, PRECISION_CHOICES, parse_precision, stored_value
from gradlint.estimate.precision.check import gaussian_share_below
from gradlint.estimate.precision.dtypes import FLOAT32, LOW, node_dtypes
from gradlint.registry import get_rule
from gradlint.report import format_json, load_schema
from gradlint.trace import trace_model
from gradlint.types import LoadedModel, Report, frozen_mapping

PRECISION_CODES = ("GL801", "GL802", "GL803", "GL804")


def _model(code: str, kind: str = "invalid") -> nn.Module:
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(getattr(get_rule(code), kind)[0].source), namespace)  # noqa: S102 - the rule's own example
    return namespace["Net"]()  # type: ignore[operator]


def _precision_findings(model: nn.Module, x: torch.Tensor, precision: str, probe: bool = True):
    report = gradlint.lint(model, x, precision=precision, probe=probe, device="cpu", probe_seeds=[1])
    (result,) = report.models
    return result, [f for f in result.findings if f.kind == "precision"]


def test_modes_and_aliases() -> None:
    assert parse_precision("fp16").name == "float16" and not parse_precision("half").autocast
    assert parse_precision("BF16").low.name == "bfloat16"
    assert parse_precision("mixed").autocast and parse_precision("mixed").low.name == "float16"
    assert parse_precision("mixed-bf16").low.name == "bfloat16"
    with pytest.raises(UsageError, match="--precision fp8"):
        parse_precision("fp8")
    assert options.PRECISION_CHOICES == PRECISION_CHOICES  # the modes the option table offers are the ones defined
    report = gradlint.lint(nn.Linear(4, 4), torch.randn(2, 4), precision="BF16", select="GL8")
    assert report.models[0].estimates.precision.mode.name == "bfloat16"


def test_formats_match_torch() -> None:
    half = FORMATS["float16"]
    assert half.max == 65504.0 and half.min_normal == torch.finfo(torch.float16).smallest_normal
    assert half.min_subnormal == pytest.approx(5.96e-8, rel=1e-3) and half.mantissa_bits == 10
    assert FORMATS["bfloat16"].max > 3e38 and FORMATS["bfloat16"].mantissa_bits == 7
    assert stored_value(1e-12, half) == 0.0 and stored_value(1e5, half) == math.inf
    assert stored_value(1e-12, FORMATS["bfloat16"]) == pytest.approx(1e-12, rel=1e-2)


def test_gaussian_extreme_matches_samples() -> None:
    generator = torch.Generator().manual_seed(0)
    for n in (100, 10_000, 1_000_000):
        samples = torch.randn(20, n, generator=generator).abs().amax(dim=1)
        assert gaussian_max(n) == pytest.approx(float(samples.mean()), rel=0.05)
    x = torch.randn(200, 4096, generator=generator)
    y = torch.randn(200, 4096, generator=generator)
    product = float((x * y).abs().amax(dim=1).mean())
    assert expected_max(1.0, 4096, "product") == pytest.approx(product, rel=0.3)
    relu = float(torch.relu(x).amax(dim=1).mean())
    assert expected_max(math.sqrt(0.5), 4096, "half-gaussian", input_rms=1.0) == pytest.approx(relu, rel=0.05)


def test_mixed_mode_dtypes_follow_autocast() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(16, 16)
            self.norm = nn.LayerNorm(16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.fc(x))
            return self.norm(x + h)

    model, x = Block(), torch.randn(4, 16)
    loaded = LoadedModel("b", "Block", "<model>", model, (x,), (), frozen_mapping(), frozen_mapping())
    graph = trace_model(loaded)
    dtypes = node_dtypes(graph, parse_precision("mixed"))
    assert dtypes["fc"] == LOW and dtypes["relu"] == LOW
    assert dtypes["add"] == FLOAT32 and dtypes["norm"] == FLOAT32  # a float32 residual promotes
    with torch.autocast("cpu", dtype=torch.float16):  # what autocast does with the same ops
        h = torch.relu(model.fc(x))
        assert h.dtype == torch.float16 and (x + h).dtype == torch.float32
    assert set(node_dtypes(graph, parse_precision("float16")).values()) == {LOW}


def test_forward_overflow_in_float16_confirmed_and_absent_in_bfloat16() -> None:
    model, x = _model("GL801"), torch.randn(8, 64)
    result, found = _precision_findings(model, x, "float16")
    (overflow,) = [f for f in found if f.code == "GL801"]
    assert overflow.module == "layers.5" and overflow.confirmed is True
    assert overflow.evidence["probe_first_overflow"] == "layers.5"  # the layer named is the one that overflows
    assert overflow.evidence["bits_over"] > 0 and result.precision_probe.output_finite is False
    after = overflow.evidence["after_fix"]
    assert after["bfloat16_overflowing_count"] == 0 and after["first_overflow"] != "layers.5"
    bf16, found = _precision_findings(model, x, "bfloat16")
    assert found == [] and bf16.precision_probe.output_finite is True
    assert all(v < 3e38 for v in bf16.precision_probe.module_max.values())
    _, found = _precision_findings(model, x, "mixed")
    assert [f.code for f in found] == ["GL801"] and found[0].confirmed is True
    assert next(model.parameters()).dtype == torch.float32  # the user's model is never cast


def test_gradient_underflow_without_loss_scaling_confirmed() -> None:
    model, x = _model("GL802"), torch.randn(8, 64)
    result, found = _precision_findings(model, x, "float16")
    (underflow,) = [f for f in found if f.code == "GL802"]
    assert underflow.confirmed is True and underflow.evidence["probe_subnormal_share"] > 0.5
    scale = result.estimates.precision.loss_scale
    assert scale.init_scale is not None and 1 < scale.init_scale <= 65536 and not scale.overflows_at_init_scale
    assert underflow.evidence["after_fix"]["underflowing_weights"] == 0
    fmt, measured = FORMATS["float16"], result.precision_probe
    for weight in result.estimates.weights:  # predicted shares (Gaussian elements) against the measured ones
        rms = 10.0**weight.log10_grad_rms
        assert abs(gaussian_share_below(fmt.min_normal, rms) - measured.grad_subnormal_share[weight.name]) < 0.2
        assert abs(gaussian_share_below(fmt.min_subnormal / 2, rms) - measured.grad_zero_share[weight.name]) < 0.1
    _, found = _precision_findings(model, x, "bfloat16")
    assert found == []


def test_eps_lost_in_float16_confirmed_kept_in_mixed() -> None:
    model, x = _model("GL803"), torch.randn(8, 16)
    _, found = _precision_findings(model, x, "float16")
    (eps,) = [f for f in found if f.code == "GL803"]
    assert eps.evidence["stored"] == 0.0 and eps.confirmed is True and eps.evidence["probe_stored"] == 0.0
    assert eps.module == "norm"  # (a file target also names the line: the rule examples test it)
    with torch.no_grad():  # what the finding says happens to a zero row, measured
        norm = copy.deepcopy(model.norm)
        assert not torch.isfinite(norm.half()(torch.zeros(1, 16, dtype=torch.float16))).all()
        assert torch.isfinite(norm.float()(torch.zeros(1, 16))).all()
    for precision in ("bfloat16", "mixed"):  # bfloat16 holds 1e-12; autocast runs pow/mean/rsqrt in float32
        _, found = _precision_findings(_model("GL803"), x, precision)
        assert [f.code for f in found] == []


def test_layerscale_below_float16_precision_confirmed() -> None:
    model, x = _model("GL804"), torch.randn(8, 16)
    _, found = _precision_findings(model, x, "float16")
    (init,) = [f for f in found if f.code == "GL804"]
    assert init.confirmed is True and init.evidence["probe_bits_left"] < 5
    assert init.evidence["after_fix"] == {"precision": "mixed", "still_reported": False}
    _, found = _precision_findings(model, x, "bfloat16")
    assert found == []


@pytest.mark.parametrize("code", PRECISION_CODES)
@pytest.mark.parametrize("precision", ["float16", "bfloat16", "mixed"])
def test_healthy_models_have_no_precision_finding_and_measure_clean(code: str, precision: str) -> None:
    model = _model(code, "valid")
    width = 64 if code in ("GL801", "GL802") else 16
    result, found = _precision_findings(model, torch.randn(8, width), precision)
    assert found == []
    measured = result.precision_probe
    assert measured.output_finite and not any(math.isinf(v) for v in measured.module_max.values())
    assert max(measured.grad_zero_share.values(), default=0.0) < 0.05


def test_no_precision_without_the_option() -> None:
    report = gradlint.lint(_model("GL801"), torch.randn(8, 64))
    assert report.models[0].estimates.precision is None
    assert not [f for f in report.findings if f.kind == "precision"]


def test_json_precision_object_validates(tmp_path) -> None:
    report = gradlint.lint(_model("GL801"), torch.randn(8, 64), precision="fp16", probe=True, probe_seeds=[1])
    document = json.loads(report.to_json())
    jsonschema.Draft202012Validator(load_schema()).validate(document)
    precision = document["models"][0]["precision"]
    assert precision["mode"] == "float16" and precision["format"]["max"] == 65504.0
    first = precision["overflows"][0]
    assert first["module"] == "layers.5" and first["tail"] == "gaussian" and first["measured_max"] == "inf"
    assert precision["measured"]["output_finite"] is False and precision["measured"]["overflowing_modules"]


def test_cli_flag_config_key_and_text_line(tmp_path, capsys) -> None:
    model = tmp_path / "net.py"
    model.write_text(textwrap.dedent(get_rule("GL803").invalid[0].source), encoding="utf-8")

    def run(*args: str):
        return CliRunner().invoke(cli, [str(model), "--no-color", *args], prog_name="gradlint")

    result = run("--precision", "fp16", "--isolated")
    assert result.exit_code == 1 and "GL803" in result.stdout
    assert "precision float16 (float16, cast;" in result.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.gradlint]\nprecision = "bf16"\n', encoding="utf-8")
    result = run("--format", "json")
    assert json.loads(result.stdout)["models"][0]["precision"]["mode"] == "bfloat16"
    (tmp_path / "pyproject.toml").write_text('[tool.gradlint]\nprecision = "fp8"\n', encoding="utf-8")
    assert main([str(model), "--no-color"]) == 2  # main() is what the console script calls
    err = capsys.readouterr().err
    assert "[tool.gradlint] precision" in err and "Traceback" not in err
    assert run("--precision", "fp8", "--isolated").exit_code == 2


def test_a_model_that_cannot_run_in_the_dtype_keeps_its_static_result() -> None:
    class Loop(nn.Module):  # the initial state is made float32 in forward, as many RNN loops do
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.Linear(32, 16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.zeros(x.shape[0], 16)
            for t in range(x.shape[1]):
                h = torch.tanh(self.cell(torch.cat([x[:, t], h], dim=-1)))
            return h

    result, _ = _precision_findings(Loop(), torch.randn(4, 5, 16), "float16")
    assert result.estimates.precision is not None
    assert result.precision_probe.error is not None and "does not run in float16" in result.precision_probe.error
    assert all(f.confirmed is None for f in result.findings if f.kind == "precision")
    document = json.loads(format_json(Report((result,))))
    jsonschema.Draft202012Validator(load_schema()).validate(document)
    assert document["models"][0]["precision"]["measured"]["error"] == result.precision_probe.error
