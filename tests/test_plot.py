"""The gradient-flow picture (issue #8): the text profile, ``--plot FILE.html|.svg|.png``, ``Report.plot``."""

from __future__ import annotations

import dataclasses
import html
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from torch import nn

import gradlint
from gradlint.api import LintOptions, lint_paths
from gradlint.cli import main
from gradlint.errors import UsageError
from gradlint.report import TextReporter
from gradlint.report.plot import FlowPlot, check_plot_path, flow_chart, flow_charts, short_label, write_plot
from gradlint.report.plot_html import html_page
from gradlint.report.profile import profile_lines
from gradlint.types import ModelReport, Report

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("healthy_cnn", "deep_relu_mlp", "exploding_rnn")


@pytest.fixture(scope="module")
def examples() -> dict[str, ModelReport]:
    """The small examples, linted once: the gradient-scale rules only (others come and go), no probe."""
    report = lint_paths(
        [str(ROOT / "examples" / f"{name}.py") for name in EXAMPLES], LintOptions(select=("GL101", "GL102"))
    )
    assert not report.errors
    return {name: model for name, model in zip(EXAMPLES, report.models)}


@pytest.fixture(scope="module")
def probed() -> Report:
    """A small MLP measured by the probe (one seed), so the measured series is drawn too."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 4))
    return gradlint.lint(model, torch.randn(8, 16), probe=True, device="cpu", probe_seeds=1)


@pytest.fixture(scope="module")
def long_model() -> ModelReport:
    """70 weights: more than the text profile shows and more than the PNG labels one by one."""
    model = nn.Sequential(*[nn.Linear(8, 8) for _ in range(70)])
    return gradlint.lint(model, torch.randn(4, 8)).models[0]


def weights_of(model: ModelReport) -> list[str]:
    return [w.name for w in model.graph.weights]


# --- the chart data ---------------------------------------------------------------------------


def test_chart_follows_the_weights_in_forward_order(examples: dict[str, ModelReport]) -> None:
    model = examples["deep_relu_mlp"]
    chart = flow_chart(model)
    assert [p.name for p in chart.points] == weights_of(model)
    assert model.estimates is not None
    assert [p.predicted for p in chart.points] == [model.estimates.weight(w).log10_grad_rms for w in weights_of(model)]
    assert all(p.forward is not None for p in chart.points)  # forward RMS of every Linear
    lo, hi = chart.y_range
    assert lo <= min(p.band[0] for p in chart.points if p.band) and hi >= chart.thresholds.explode_max
    # GL102 on net.0 (where the shrinking starts) marks its weight and no other
    assert [p.name for p in chart.flagged] == ["net.0.weight"]
    assert chart.flagged[0].findings[0].code == "GL102"


def test_findings_on_a_parent_module_mark_its_weights(examples: dict[str, ModelReport]) -> None:
    chart = flow_chart(examples["exploding_rnn"])
    assert [p.name for p in chart.flagged] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"]
    assert chart.predicted_verdict == "exploding"


def test_short_labels() -> None:
    assert short_label("net.4.weight") == "net.4"
    assert short_label("encoder.layers.11.self_attn.in_proj_weight") == "encoder.layers.11.self_attn.in_proj_weight"
    label = short_label("model.encoder.layer.11.attention.self.query.extra.long.path.weight", width=30)
    assert len(label) <= 30 and label.startswith("model…") and label.endswith("long.path")


# --- the text profile -------------------------------------------------------------------------


def test_profile_has_one_row_per_weight_within_80_columns(examples: dict[str, ModelReport]) -> None:
    for model in examples.values():
        lines = profile_lines(model)
        assert all(len("  " + line) <= 80 for line in lines), "\n".join(lines)
        rows = [line for line in lines if re.search(r"\s-?\d+\.\d\d(\s|$)", line) and "|" in line]
        assert len(rows) == len(model.graph.weights)
        assert lines[-1].startswith(f"predicted: {model.estimates.verdict.verdict}")  # type: ignore[union-attr]
        assert not any("\x1b" in line for line in lines)


def test_profile_rows_show_the_bands_and_the_flagged_weight(examples: dict[str, ModelReport]) -> None:
    lines = profile_lines(examples["deep_relu_mlp"])
    header = next(line for line in lines if line.startswith("weight"))
    first = next(line for line in lines if line.startswith("net.0 "))
    # the threshold edges sit under their tick labels: | under the 3 of -3 and under 3
    assert first.index("|") == header.index("-3") + 1
    assert first.rindex("|") == header.index(" 3 ") + 1
    assert first[first.index("|") - 3 : first.index("|")] == "..."  # the vanishing zone is shaded
    assert "o" in first.split("|")[0]  # the prediction falls in it
    assert next(line for line in lines if line.startswith("net.0 ")).endswith("GL102")


def test_profile_with_probe_shows_measured_values(probed: Report) -> None:
    model = probed.models[0]
    lines = profile_lines(model)
    assert "x measured" in lines[1]
    header = next(line for line in lines if line.startswith("weight"))
    assert header.endswith("pred   meas")
    assert model.probe is not None
    first = model.probe.weights[0].log10_grad_rms
    assert f"{first:.2f}" in next(line for line in lines if line.startswith("0 ") or line.startswith("0  "))


def test_long_profiles_elide_unremarkable_weights(long_model: ModelReport) -> None:
    lines = profile_lines(long_model, max_rows=20)
    body = lines[4:-1]
    gaps = [line for line in body if re.fullmatch(r"\s*\.\.\. \d+ more", line)]
    shown = [line.split()[0] for line in body if line not in gaps]
    assert gaps and shown[0] == "0" and shown[-1] == "69"
    assert len(body) <= 24
    assert sum(int(g.split()[1]) for g in gaps) + len(shown) == 70  # every weight is shown or counted
    assert len(profile_lines(long_model)) <= 60 + 8


def test_text_report_shows_the_profile_except_when_quiet(examples: dict[str, ModelReport]) -> None:
    import io

    report = Report((examples["exploding_rnn"],))
    for show_layers, expected in ((True, True), (False, False)):
        out, err = io.StringIO(), io.StringIO()
        TextReporter(out, err, color=False, show_layers=show_layers, show_fix=show_layers).render(report)
        assert ("gradient flow: log10 gradient RMS per weight" in out.getvalue()) is expected
    without = dataclasses.replace(examples["exploding_rnn"], estimates=None)
    assert profile_lines(without) == ()


# --- HTML -------------------------------------------------------------------------------------


def test_html_has_one_mark_per_weight_bands_and_every_name(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    for name, model in examples.items():
        path = tmp_path / f"{name}.html"
        assert write_plot(Report((model,)), path) == (path,)
        page = path.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
        svg = re.search(r"<svg.*?</svg>", page, re.S)
        assert svg is not None
        ET.fromstring(svg.group(0))  # well-formed SVG
        names = weights_of(model)
        assert len(re.findall(r'class="mark pred[ "]', page)) == len(names)
        assert page.count('class="zone explode"') == 1 and page.count('class="zone vanish"') == 1
        assert len(re.findall(r'class="band"', page)) >= 1
        hover = re.findall(r'<g class="col" data-weight="([^"]+)"><title>([^<]*)</title>', page)
        assert [w for w, _ in hover] == names
        assert all(title.split("\n")[0].endswith(w) for w, title in hover)
        assert not re.search(r"<script|\bsrc=|href=|@import|url\(", page)  # self-contained, no network
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)


def test_html_marks_findings_on_their_weights(examples: dict[str, ModelReport]) -> None:
    page = html_page(flow_charts(Report((examples["deep_relu_mlp"],))))
    assert re.findall(r'<g class="finding" data-weight="([^"]+)">', page) == ["net.0.weight"]
    assert ">GL102</text>" in page and "GL102 [error]" in page


def test_html_draws_the_measurement_beside_the_prediction(probed: Report) -> None:
    page = html_page(flow_charts(probed))
    n = len(probed.models[0].graph.weights)
    assert len(re.findall(r'class="mark probe[ "]', page)) == n
    assert 'class="line probe"' in page and "measured (probe)" in page


def test_html_shows_blocked_and_non_finite_measurements(probed: Report) -> None:
    model = probed.models[0]
    assert model.probe is not None
    first, second, *rest = model.probe.weights
    weights = (
        dataclasses.replace(first, log10_grad_rms=None, blocked=True),
        dataclasses.replace(second, log10_grad_rms=float("nan"), nonfinite=True),
        *rest,
    )
    broken = dataclasses.replace(model, probe=dataclasses.replace(model.probe, weights=weights))
    page = html_page(flow_charts(Report((broken,))))
    assert page.count('class="mark probe blocked"') == 1 and page.count('class="mark probe nonfinite"') == 1
    lines = profile_lines(broken)
    assert any("blocked" in line for line in lines) and any(line.rstrip().endswith("nan") for line in lines)


def test_several_models_stack_in_one_page(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    report = Report(tuple(examples.values()))
    (path,) = write_plot(report, tmp_path / "all.htm")
    page = path.read_text(encoding="utf-8")
    assert page.count("<section ") == len(examples) and page.count('<svg class="plot"') == len(examples)
    # a summary of the models at the top, linking to each chart
    summary = page.split('<table class="summary">', 1)[1].split("</table>", 1)[0]
    assert summary.count("<tr>") == len(examples) + 1
    assert all(f'href="#gradlint-model-{k}"' in summary for k in range(len(examples)))


# --- matplotlib: SVG and PNG ------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_opens_with_the_expected_size(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    from gradlint.report.plot_mpl import pixel_size

    for name in ("deep_relu_mlp", "exploding_rnn"):
        model = examples[name]
        path = tmp_path / f"{name}.png"
        write_plot(Report((model,)), path)
        expected = pixel_size(flow_chart(model))
        assert png_size(path) == expected
        with Image.open(path) as image:
            image.load()
            assert image.size == expected
            assert image.size[0] >= 800 and image.size[1] >= 600


def test_svg_has_one_mark_per_weight_and_the_bands(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    for name, model in examples.items():
        path = tmp_path / f"{name}.svg"
        write_plot(Report((model,)), path)
        root = ET.parse(path).getroot()
        groups = {g.get("id"): g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id")}
        assert "zone-explode" in groups and "zone-vanish" in groups and "band" in groups
        marks = [e for e in groups["predicted"].iter() if e.tag.endswith("}use")]
        assert len(marks) == len(weights_of(model))
        text = path.read_text(encoding="utf-8")
        for weight in model.graph.weights:
            assert short_label(weight.name) in text  # every weight is named on the x axis
        flagged = [p.index for p in flow_chart(model).flagged]
        assert sorted(int(k.split("-")[1]) for k in groups if k.startswith("finding-")) == flagged


def test_svg_with_probe_has_the_measured_series(probed: Report, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "probed.svg"
    write_plot(probed, path)
    root = ET.parse(path).getroot()
    groups = {g.get("id"): g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id")}
    marks = [e for e in groups["probed"].iter() if e.tag.endswith("}use")]
    assert len(marks) == len(probed.models[0].graph.weights)


def test_many_weights_thin_the_png_labels(long_model: ModelReport, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from gradlint.report.plot_mpl import MAX_LABELS, _labelled, pixel_size

    chart = flow_chart(long_model)
    assert len(_labelled(chart)) == 70 <= MAX_LABELS
    path = tmp_path / "long.png"
    write_plot(Report((long_model,)), path)
    assert png_size(path) == pixel_size(chart)


def test_several_models_write_one_picture_each(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    models = (examples["exploding_rnn"], examples["exploding_rnn"], examples["healthy_cnn"])
    paths = write_plot(Report(models), tmp_path / "flow.png")
    assert [p.name for p in paths] == ["flow-ExplodingRNN.png", "flow-ExplodingRNN-2.png", "flow-HealthyCNN.png"]
    assert all(p.is_file() for p in paths)


def test_missing_matplotlib_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(UsageError, match=r"--plot x\.png needs matplotlib: pip install 'gradlint\[plot\]'"):
        check_plot_path("x.png")
    assert check_plot_path("x.html") == "html"  # the HTML page needs nothing


def test_unknown_extension_is_a_usage_error() -> None:
    for bad in ("x.jpg", "x"):
        with pytest.raises(UsageError, match="use .html, .svg or .png"):
            check_plot_path(bad)


# --- the API and the CLI ----------------------------------------------------------------------


def test_report_plot_shows_inline_and_writes_files(probed: Report, tmp_path: Path) -> None:
    inline = probed.plot()
    assert isinstance(inline, FlowPlot) and inline.paths == ()
    fragment = inline._repr_html_()
    assert fragment.startswith('<div class="gradlint-flow">') and "<svg" in fragment and "<html" not in fragment
    written = probed.plot(tmp_path / "flow.html")
    assert written.paths == (tmp_path / "flow.html",) and (tmp_path / "flow.html").is_file()


def test_cli_plot_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flow.html"
    code = main(
        [str(ROOT / "examples" / "exploding_rnn.py"), "--plot", str(path), "--no-color", "--isolated", "--layers"]
    )
    assert code == 1  # the example has findings
    out, err = capsys.readouterr()
    assert "gradient flow: log10 gradient RMS per weight" in out
    assert f"wrote the gradient-flow picture to {path}" in err
    assert path.read_text(encoding="utf-8").count('class="mark pred') == 3


def test_cli_plot_checks_the_extension_before_linting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(tmp_path / "does_not_exist.py"), "--plot", str(tmp_path / "flow.jpg")])
    assert code == 2
    assert "unknown picture format '.jpg'" in capsys.readouterr().err


def test_quiet_cli_has_no_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main([str(ROOT / "examples" / "exploding_rnn.py"), "-q"])
    assert "gradient flow" not in capsys.readouterr().out


# --- the README's pictures --------------------------------------------------------------------


def test_readme_shows_the_generated_pictures() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\((docs/images/[^)]+\.(?:png|svg))\)", readme)
    assert "docs/images/gradient-flow-healthy_cnn.png" in images
    assert "docs/images/gradient-flow-deep_relu_mlp.png" in images
    for image in images:
        path = ROOT / image
        assert path.is_file(), image
        if path.suffix == ".png":
            width, height = png_size(path)
            assert width >= 800 and height >= 600


def test_script_renders_an_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import runpy

    script = runpy.run_path(str(ROOT / "scripts" / "render_readme_images.py"))
    assert script["main"](["exploding_rnn", "--no-probe", "--format", "html", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "gradient-flow-exploding_rnn.html").is_file()
    assert set(script["EXAMPLES"]) >= {"healthy_cnn", "deep_relu_mlp"}


# --- issue #19: the verdict's reason, themes, findings without weights, blocked weights, size ---------------


def _with_values(model: ModelReport, values: list[float]) -> ModelReport:
    """``model`` with the given predicted log10 gradient RMS per weight and the verdict they give (DESIGN §2)."""
    from gradlint.verdict import verdict

    assert model.estimates is not None
    weights = tuple(
        dataclasses.replace(w, log10_grad_rms=v, band=(v, v)) for w, v in zip(model.estimates.weights, values)
    )
    judged = verdict([(w.name, w.log10_grad_rms, False) for w in weights])
    return dataclasses.replace(model, estimates=dataclasses.replace(model.estimates, weights=weights, verdict=judged))


def test_span_verdict_draws_the_bracket_and_says_the_reason(examples: dict[str, ModelReport]) -> None:
    base = examples["deep_relu_mlp"]
    n = len(base.graph.weights)
    # every value inside the zones' edges: the verdict comes from the first-last span alone
    model = _with_values(base, [2.5 - 2.5 * k / (n - 1) for k in range(n)])
    assert model.estimates.verdict.verdict == "exploding"
    assert model.estimates.verdict.reason.startswith("first-last span")
    chart = flow_chart(model)
    (reason,) = chart.reasons
    assert reason.rule == "span" and reason.series == "predicted"
    assert (reason.first, reason.last) == (0, n - 1)
    page = html_page((chart,))
    bracket = re.search(r'<g class="reason span-bracket" data-series="predicted">.*?</g>', page)
    assert bracket is not None and "span +2.50" in bracket.group(0)
    assert html.escape(f"predicted: exploding, because {model.estimates.verdict.reason}") in page
    assert 'class="reason threshold-crossed"' not in page


def test_threshold_verdict_marks_the_threshold_crossed(examples: dict[str, ModelReport]) -> None:
    model = examples["deep_relu_mlp"]  # vanishing by its minimum, below 10^-3
    chart = flow_chart(model)
    (reason,) = chart.reasons
    assert reason.rule == "min" and reason.threshold == chart.thresholds.vanish_min
    assert chart.points[reason.at].name == model.estimates.verdict.min_weight
    page = html_page((chart,))
    assert page.count('class="reason threshold-crossed"') == 1 and "span-bracket" not in page


def test_measured_reason_is_drawn_too(probed: Report) -> None:
    chart = flow_chart(probed.models[0])
    assert [r.series for r in chart.reasons] == ["predicted", "measured"]
    assert "measured: " in html_page((chart,))


def _luminance(color: str) -> float:
    r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_chart_brings_its_own_background_for_light_and_dark_pages(examples: dict[str, ModelReport]) -> None:
    from gradlint.report import flow

    page = html_page((flow_chart(examples["deep_relu_mlp"]),))
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    root_rule = style.split(".gradlint-flow {", 1)[1].split("}", 1)[0]
    assert f"background: {flow.BACKGROUND}" in root_rule and f"color: {flow.TEXT_COLOR}" in root_rule
    assert 'class="plot"' in page and f"background:{flow.BACKGROUND}" in page
    # every line, mark and label colour is legible on that background, whatever the page around it
    for color in (
        flow.TEXT_COLOR,
        flow.MUTED_TEXT,
        flow.PREDICTED_COLOR,
        flow.PROBED_COLOR,
        flow.FORWARD_COLOR,
        flow.BLOCKED_COLOR,
        *flow.SEVERITY_COLOR.values(),
    ):
        assert _contrast(color, flow.BACKGROUND) >= 3.0, color
    # and the zones stay pale behind them
    assert _contrast(flow.EXPLODE_COLOR, flow.BACKGROUND) < 1.3 and _contrast(flow.VANISH_COLOR, flow.BACKGROUND) < 1.3


def test_png_has_an_opaque_background_and_hidpi(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    from gradlint.report.plot_mpl import DPI

    assert DPI >= 200
    path = tmp_path / "flow.png"
    write_plot(Report((examples["deep_relu_mlp"],)), path)
    with Image.open(path) as image:
        rgba = image.convert("RGBA")
        assert rgba.getpixel((2, 2)) == (255, 255, 255, 255)  # not transparent: a dark page cannot show through


def test_blocked_weights_have_their_own_mark_and_legend_entry() -> None:
    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(8, 8)
            self.branch = nn.Linear(8, 8)
            self.gate = nn.Linear(8, 8)
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)
            self.out = nn.Linear(8, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.inp(x)
            return self.out(h + self.gate(torch.relu(self.branch(h))))

    model = gradlint.lint(Gated(), torch.randn(4, 8)).models[0]
    chart = flow_chart(model)
    blocked = [p.name for p in chart.points if p.predicted is None]
    assert blocked == ["branch.weight"]
    page = html_page((chart,))
    assert page.count('class="mark pred blocked"') == 1
    assert 'class="legend-blocked"' in page and "blocked: gradient exactly zero" in page
    # the mark sits in the lane under the panel, not inside the vanishing zone
    mark = re.search(r'class="mark pred blocked"[^>]*d="M[\d.]+,([\d.]+)', page)
    assert mark is not None and float(mark.group(1)) > 64 + 300


def test_a_finding_on_a_layer_without_weights_is_marked_where_it_runs() -> None:
    from gradlint.types import Finding, Severity

    model = gradlint.lint(
        nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8, elementwise_affine=False), nn.Linear(8, 4)), torch.randn(4, 8)
    ).models[0]
    finding = Finding(
        code="GL304",
        name="post-ln",
        severity=Severity.WARNING,
        kind="gradient",
        message="a norm without a weight",
        module="1",
        location=None,
    )
    chart = flow_chart(dataclasses.replace(model, findings=(*model.findings, finding)))
    (anchored,) = [a for a in chart.anchored if a.mark.code == "GL304"]
    assert anchored.position == 0.5  # after net.0's weight, before net.2's
    assert all(m.code != "GL304" for m in chart.other_findings)
    page = html_page((chart,))
    assert page.count('class="finding unplotted" data-module="1"') == 1
    assert "GL304 [warning]" in page


def test_neighbouring_findings_keep_every_label(examples: dict[str, ModelReport]) -> None:
    from gradlint.types import Finding, Severity

    model = examples["deep_relu_mlp"]
    extra = tuple(
        Finding(
            code=f"GL9{k:02d}",
            name="x",
            severity=Severity.INFO,
            kind="gradient",
            message="x",
            module=w.module,
            location=None,
        )
        for k, w in enumerate(model.graph.weights)
    )
    chart = flow_chart(dataclasses.replace(model, findings=(*model.findings, *extra)))
    flagged = chart.flagged
    assert len(flagged) == len(model.graph.weights)
    page = html_page((chart,))
    assert page.count('class="badge"') == len(flagged)  # none dropped
    first = next(p for p in flagged if p.name == "net.0.weight")  # GL102 sits where the shrinking starts
    assert first.badge.startswith("GL102, ") and "+" not in first.badge


def test_two_hundred_weights_keep_axis_and_legend_fixed_and_names_short() -> None:
    class Deep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Module()
            self.encoder.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(200))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.encoder.layers:
                x = layer(x)
            return x

    model = gradlint.lint(Deep(), torch.randn(2, 4)).models[0]
    chart = flow_chart(model)
    assert len(chart.points) == 200 and chart.common_prefix == "encoder.layers."
    assert chart.points[7].label == "7" and chart.points[7].name == "encoder.layers.7.weight"
    page = html_page((chart,))
    # the y axis and the legend are outside the scrolling box, the plot inside it
    chart_div = page.split('<div class="chart">', 1)[1]
    axis, rest = chart_div.split('<div class="scroll">', 1)
    assert '<svg class="yaxis"' in axis and "gradient RMS per weight" in axis
    assert '<svg class="plot"' in rest and "gradient RMS per weight" not in rest.split("</svg>", 1)[0]
    assert page.index('<div class="legend">') < page.index('<div class="chart">')
    # every weight labelled, shortened, with its full name on hover
    assert page.count('class="wlabel"') == 200
    assert "<title>encoder.layers.199.weight</title>199</text>" in page
    assert "weight names under <code>encoder.layers.</code>" in page


def test_caption_names_the_protocol_and_the_seeds(examples: dict[str, ModelReport], probed: Report) -> None:
    static = flow_chart(examples["deep_relu_mlp"])
    assert "reference protocol" in static.caption and "no probe run" in static.caption
    measured = flow_chart(probed.models[0])
    seeds = ", ".join(str(s) for s in probed.models[0].probe.seeds)
    assert f"median over seeds {seeds}" in measured.caption
    assert "reference protocol" in html_page((measured,))


def test_embeddings_are_said_to_be_left_out() -> None:
    class Lm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(50, 8)
            self.head = nn.Linear(8, 50)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.wte(ids))

    chart = flow_chart(gradlint.lint(Lm(), torch.randint(0, 50, (2, 5))).models[0])
    assert "wte" in chart.left_out and "embedding" in chart.left_out
    assert html.escape(chart.left_out) in html_page((chart,))


def test_svg_file_has_hover_text_and_a_font_fallback(examples: dict[str, ModelReport], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    model = examples["deep_relu_mlp"]
    path = tmp_path / "flow.svg"
    write_plot(Report((model,)), path)
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    for weight in model.graph.weights:
        assert any(t.startswith("#") and weight.name in t for t in titles), weight.name
    text = path.read_text(encoding="utf-8")
    assert re.search(r"font-family:[^;\"]*,\s*[^;\"]*sans-serif", text)
    assert "because" in text  # the reason line under the title
