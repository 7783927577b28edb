"""Verdict rules that mean something (issue 16 item 5): GL101/GL102 compare like with like along depth, and with a
configured optimizer their severity follows the training check."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradlint.api import LintOptions, lint_paths
from gradlint.options import apply_keywords
from gradlint.types import Estimates, Severity, Verdict, WeightEstimate

from .conftest import EXAMPLES

RECIPES = Path(__file__).parent / "fixtures" / "recipes"


def _gradients():
    from rules import _gradients  # the repository's rules package, as the registry loads it

    return _gradients


def estimates_of(values: dict[str, float]) -> Estimates:
    weights = tuple(WeightEstimate(name, name.rpartition(".")[0], value, None, 0.0) for name, value in values.items())
    return Estimates(weights, (), Verdict("ok", ""), ())


def test_role_numbers_blocks_as_a_star() -> None:
    role_of = _gradients().role_of
    assert role_of("layers.11.self_attn.q_proj.weight") == "layers.*.self_attn.q_proj.weight"
    assert role_of("net.38.weight") == "net.*.weight"
    assert role_of("rnn.weight_hh_l1") == "rnn.weight_hh_l*"
    assert role_of("rnn.weight_ih_l0_reverse") == "rnn.weight_ih_l*_reverse"
    assert role_of("lm_head.weight") == "lm_head.weight"


def test_a_query_projection_is_never_compared_with_the_output_head() -> None:
    """Llama-2's shape: q/k projections 2.5 orders below the head at init, flat along depth: no span fires."""
    gradients = _gradients()
    values = {}
    for block in range(4):
        values |= {f"layers.{block}.self_attn.q_proj.weight": -2.0 + 0.05 * block}
        values |= {f"layers.{block}.mlp.down_proj.weight": 0.1}
    values["lm_head.weight"] = 0.5
    found = estimates_of(values)
    depth = gradients.steepest(found, exploding=False)
    assert depth.role == "layers.*.self_attn.q_proj.weight"
    assert depth.span == pytest.approx(-0.15)
    assert not gradients.vanishes(found, gradients.VerdictThresholds())


def test_a_span_along_one_role_fires() -> None:
    gradients = _gradients()
    found = estimates_of({f"net.{i}.weight": -0.5 * (10 - i) for i in range(0, 10)} | {"head.weight": 0.0})
    depth = gradients.steepest(found, exploding=False)
    assert (depth.first, depth.last, round(depth.span, 2)) == ("net.0.weight", "net.9.weight", -4.5)
    assert gradients.vanishes(found, gradients.VerdictThresholds())


def gl1(path: Path, **keywords: object) -> list[tuple[str, Severity]]:
    options = apply_keywords(LintOptions(), keywords) if keywords else LintOptions()
    report = lint_paths([str(path)], options)
    assert not report.errors, report.errors[0].message
    found = [(f.code, f.severity) for f in report.findings]
    found += [(r.code, r.severity) for f in report.findings for r in f.related]
    return [(code, severity) for code, severity in found if code.startswith("GL1")]


def test_llama_style_with_its_recipe_gets_no_gl1_warning() -> None:
    found = gl1(RECIPES / "llama_style.py", optimizer="adamw", lr=3e-4)
    assert all(severity is Severity.INFO for _, severity in found), found


def test_lstm_language_model_with_its_recipe_gets_no_gl1_warning() -> None:
    assert gl1(RECIPES / "lstm_lm.py") != [], "without an optimizer the protocol's scale flags it"
    found = gl1(RECIPES / "lstm_lm.py", optimizer="sgd", lr=20.0, clip_grad_norm=0.25)
    assert all(severity is Severity.INFO for _, severity in found), found


def test_with_a_configured_optimizer_the_training_check_sets_the_severity() -> None:
    """deep_relu_mlp vanishes along depth whatever the optimizer; whether that is an error depends on it."""
    trains = dict(gl1(EXAMPLES / "deep_relu_mlp.py", optimizer="adamw", lr=1e-3))
    assert trains["GL102"] is Severity.INFO
    stalls = dict(gl1(EXAMPLES / "deep_relu_mlp.py", optimizer="sgd", lr=1e-3))
    assert stalls["GL102"] is Severity.ERROR
