"""Every rule's INVALID examples fire and its VALID examples do not; every rule file honours the contract."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.api import LintOptions, lint_paths
from gradlint.docs import with_rule_index
from gradlint.registry import all_rules, select_rules

from .conftest import ROOT

CASES = [
    (rule.code, kind, i)
    for rule in all_rules()
    for kind in ("valid", "invalid")
    for i in range(len(getattr(rule, kind)))
]


@pytest.mark.parametrize(("code", "kind", "index"), CASES, ids=[f"{c}-{k}-{i}" for c, k, i in CASES])
def test_rule_examples(tmp_path, code: str, kind: str, index: int) -> None:
    rule = next(r for r in all_rules() if r.code == code)
    path = tmp_path / f"{kind}_{index}.py"
    example = getattr(rule, kind)[index]
    path.write_text(textwrap.dedent(example.source), encoding="utf-8")
    report = lint_paths([str(path)], LintOptions(rules=(rule,), **rule.example_options))
    assert not report.errors, report.errors
    codes = [f.code for f in report.findings]
    if kind == "invalid":
        assert code in codes
        for finding in report.findings:
            assert finding.location is not None and finding.location.path == str(path.resolve())
            # a fix is offered only when re-estimating with it removes the finding (GL101/GL102 say what they tried)
            unverified = "tried" in finding.evidence.get("after_fix", {})
            assert (finding.fix is not None and finding.fix.description) or unverified
        # what the example states it must produce: a finding about that module, saying that phrase
        stated = [
            f
            for f in report.findings
            if (example.module is None or f.module == example.module)
            and (example.says is None or example.says in f.message)
        ]
        assert stated, [(f.module, f.message) for f in report.findings]
        # the printed severity is the documented one: a rule that escalates or downgrades says when, on its page
        for finding in report.findings:
            if finding.severity is not rule.severity:
                assert _states_severity(rule.doc, finding.severity.value), (code, finding.severity.value)
    else:
        assert code not in codes


def _states_severity(doc: str, severity: str) -> bool:
    """The page's ``Severity:`` paragraph names the severity and when it applies."""
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
    return any(p.startswith("Severity:") and severity in p for p in paragraphs)


def test_selection_by_prefix_name_and_all() -> None:
    codes = {r.code for r in all_rules()}
    assert {r.code for r in select_rules()} == codes
    assert {r.code for r in select_rules(["GL0"])} == {c for c in codes if c.startswith("GL0")}
    assert {r.code for r in select_rules(["non-finite-tensor"])} == {"GL001"}
    assert select_rules(["ALL"], ignore=["GL001"]) == tuple(r for r in all_rules() if r.code != "GL001")


def test_readme_rule_index_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_rule_index(readme) == readme, "run `python -m gradlint.docs` to regenerate the README's rule index"


def test_gl401_says_whether_the_softmax_is_peaked_or_only_flat_for_now(tmp_path) -> None:
    rule = next(r for r in all_rules() if r.code == "GL401")
    messages = []
    for index in (0, 2):  # xavier-scale projections (logits of std ~8), then N(0, 0.02) ones (std ~0.2)
        path = tmp_path / f"invalid_{index}.py"
        path.write_text(textwrap.dedent(rule.invalid[index].source), encoding="utf-8")
        (finding,) = lint_paths([str(path)], LintOptions(rules=(rule,))).findings
        messages.append(finding.message)
    assert "sharply peaked" in messages[0] or "nearly one-hot" in messages[0]
    assert "still flat at init" in messages[1] and "√d_k = 8" in messages[1]
