"""Fixes that fit the layer (issue 16 item 7): GL101/GL102 offer the fix the model's layers need, verified by
``after_fix``, or none."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gradlint.api import LintOptions, lint_paths
from gradlint.registry import all_rules, select_rules
from gradlint.types import Finding

from .conftest import EXAMPLES

FIXES = Path(__file__).parent / "fixtures" / "fixes"
RECIPES = Path(__file__).parent / "fixtures" / "recipes"


def only(path: Path, code: str) -> Finding:
    report = lint_paths([str(path)], LintOptions(rules=select_rules([code])))
    assert not report.errors, report.errors[0].message
    (finding,) = [f for f in report.findings if f.code == code]
    return finding


def assert_verified(finding: Finding) -> str:
    assert finding.fix is not None and finding.fix.code
    assert finding.evidence["after_fix"]["verdict"] == "ok", finding.evidence["after_fix"]
    return finding.fix.code


def test_exploding_rnn_fix_touches_its_tanh_rnn() -> None:
    finding = only(EXAMPLES / "exploding_rnn.py", "GL101")
    code = assert_verified(finding)
    assert "for name, weight in model.rnn.named_parameters():" in code
    assert "nn.init.orthogonal_(weight)" in code
    assert "clip_grad_norm_" in code
    assert "kaiming" not in code  # the ReLU template does nothing to a tanh RNN


def test_lstm_gets_orthogonal_recurrence_and_forget_bias() -> None:
    code = assert_verified(only(RECIPES / "lstm_lm.py", "GL102"))
    assert "nn.init.orthogonal_(weight)" in code
    assert "bias[H:2 * H].fill_(1.0)" in code


XAVIER_TANH = 'nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("tanh"))'


def test_tanh_layers_get_xavier_with_the_tanh_gain() -> None:
    assert XAVIER_TANH in assert_verified(only(FIXES / "tanh_mlp.py", "GL102"))
    mismatch = only(FIXES / "tanh_mlp.py", "GL201")  # the run's own rule agrees, and its after_fix is clean
    assert mismatch.fix is not None and XAVIER_TANH in (mismatch.fix.code or "")
    assert mismatch.evidence["after_fix"]["verdict"] == "ok"


def test_silu_layers_get_their_critical_gain() -> None:
    code = assert_verified(only(FIXES / "silu_mlp.py", "GL102"))
    assert "nn.init.normal_(module.weight, std=" in code and "/ math.sqrt(module.weight[0].numel()))" in code
    assert "import math" in code


def test_relu_layers_get_he_init() -> None:
    code = assert_verified(only(EXAMPLES / "deep_relu_mlp.py", "GL102"))
    assert 'nn.init.kaiming_normal_(module.weight, nonlinearity="relu")' in code


def test_a_deliberate_init_is_kept_and_the_branches_scaled() -> None:
    finding = only(FIXES / "scaled_resmlp.py", "GL101")
    code = assert_verified(finding)
    assert "nn.init" not in code and "apply" not in code
    assert "model.get_submodule(name).weight.mul_(1 / math.sqrt(24))" in code
    assert "'blocks.11.fc2'" in code and "fc1" not in code
    assert finding.evidence["after_fix"]["tried"] == ["residual-branch"]


def test_no_fix_is_offered_when_none_removes_the_finding(tmp_path: Path) -> None:
    """GL102's sigmoid stack: no init keeps the gradient through 12 sigmoids (GL202 says what does)."""
    path = tmp_path / "sigmoid_mlp.py"
    path.write_text(textwrap.dedent(next(r for r in all_rules() if r.code == "GL102").invalid[1].source))
    finding = only(path, "GL102")
    assert finding.fix is None
    assert finding.evidence["after_fix"]["verdict"] == "vanishing"
    assert finding.evidence["after_fix"]["tried"] == ["init"]
    assert "no fix gradlint can verify removes it (re-estimated: init)" in finding.message


def test_vanishing_sits_where_the_problem_starts() -> None:
    """The first weights of deep_relu_mlp are equally small (within 0.003): the finding goes to the first."""
    assert only(EXAMPLES / "deep_relu_mlp.py", "GL102").module == "net.0"
