"""On `examples/`, each finding names the right layer and the source line that built it (issue 5's done criterion).

Lines are found by searching each example's text for the construction call, so editing an
example moves the expectation with it.
"""

from __future__ import annotations

import re

import pytest

from gradlint.api import LintOptions, lint_paths
from gradlint.types import Report

from .conftest import EXAMPLES

#: example file -> [(module-path pattern, the source text of the call that constructs those modules)]; the first
#: pattern that matches a finding's module gives its line.
BUILT_AT = {
    "deep_relu_mlp.py": [
        (r"net\.0", "[nn.Linear(in_features, width), nn.ReLU()]"),
        (r"net\.38", "layers.append(nn.Linear(width, classes))"),
        (r"net\.\d+", "layers += [nn.Linear(width, width), nn.ReLU()]"),
    ],
    "exploding_rnn.py": [(r"rnn", "self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)")],
    # the encoder's layers are deep copies of `layer`, made by nn.TransformerEncoder
    "post_ln_transformer.py": [(r"encoder\.layers\.\d+(\..+)?", "self.encoder = nn.TransformerEncoder(layer")],
    "healthy_cnn.py": [],
    "dynamic_control_flow.py": [],
}

#: example file -> {(code, module)} every lint must report: the example's point.
EXPECTED = {
    "deep_relu_mlp.py": {("GL201", "net.0"), ("GL301", "net.0")},
    "exploding_rnn.py": {("GL101", "rnn"), ("GL501", "rnn")},
    "post_ln_transformer.py": {("GL304", "encoder.layers.0.norm1")},
    "healthy_cnn.py": set(),
    "dynamic_control_flow.py": set(),
}
#: Codes each example must get, whatever module the rule picks (the end-to-end rules name the weakest layer).
EXPECTED_CODES = {"deep_relu_mlp.py": {"GL102"}}


def _line_of(text: str, snippet: str) -> int:
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if snippet in line]
    assert len(lines) == 1, f"{snippet!r} is on lines {lines}"
    return lines[0]


@pytest.fixture(scope="module")
def report() -> Report:
    return lint_paths([str(EXAMPLES)], LintOptions())


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(BUILT_AT)


@pytest.mark.parametrize("name", sorted(BUILT_AT))
def test_findings_name_the_layer_and_its_line(report: Report, name: str) -> None:
    assert not report.errors, report.errors[0].message
    path = EXAMPLES / name
    text = path.read_text(encoding="utf-8")
    models = [m for m in report.models if m.graph.source_path == str(path.resolve())]
    assert len(models) == 1
    # a finding merged into another (one root cause) still names its layer and line, as a related location
    findings = [*models[0].findings, *(r for f in models[0].findings for r in f.related)]
    assert all(f.location is not None and f.location.path == str(path.resolve()) for f in findings)
    assert EXPECTED[name] <= {(f.code, f.module) for f in findings}
    assert EXPECTED_CODES.get(name, set()) <= {f.code for f in findings}
    if not EXPECTED[name] and not EXPECTED_CODES.get(name):
        assert findings == []
    for finding in findings:
        matches = [snippet for pattern, snippet in BUILT_AT[name] if re.fullmatch(pattern, finding.module or "")]
        assert matches, f"{finding.code} names `{finding.module}`, not a layer of {name}"
        assert finding.location.line == _line_of(text, matches[0]), f"{finding.code} {finding.module}"


def test_one_run_of_layers_is_one_finding(report: Report) -> None:
    """deep_relu_mlp: the init mismatch, the vanishing gradient, the weights it freezes under the default AdamW's
    eps and the deep plain stack are one root cause."""
    (model,) = [m for m in report.models if m.graph.source_path == str((EXAMPLES / "deep_relu_mlp.py").resolve())]
    (finding,) = model.findings
    assert (finding.code, finding.module) == ("GL201", "net.0")
    assert sorted(r.code for r in finding.related) == ["GL102", "GL103", "GL301"]
    assert finding.severity.value == "error"  # the vanishing gradient's error survives the merge
    assert finding.evidence["after_fix"]["verdict"] == "ok"
