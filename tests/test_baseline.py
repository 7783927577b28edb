"""Baselines: ``--write-baseline`` records findings by file + model + code + module, ``--baseline`` hides them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gradlint.baseline import Baseline, baseline_document, finding_key
from gradlint.cli import main

from .fakes import NAN_MODEL, fake_rule, make_finding, make_graph, make_report  # noqa: F401 - fixture

FC2 = "            self.fc2 = nn.Linear(32, 4)"
NAN_LINE = '                self.fc2.weight[0, 0] = float("nan")'


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # GL001 only unless a test selects more: other rules of the growing catalogue may fire here too
    if "--select" not in args:
        args = (*args, "--select", "GL001")
    code = main([*args, "-q", "--format", "concise", "--no-color"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_write_then_apply(model_file, tmp_path: Path, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    baseline = tmp_path / "gradlint-baseline.json"
    code, out, err = run(capsys, str(model), "--write-baseline", str(baseline))
    assert code == 0  # writing a baseline is not a failure
    assert "wrote 1 finding(s)" in err
    document = json.loads(baseline.read_text())
    assert document["gradlint_baseline"] == 1
    (entry,) = document["findings"]
    assert entry == {
        "file": "net.py",
        "model": "Net",
        "code": "GL001",
        "module": "fc2",
        "count": 1,
        "message": entry["message"],
    }
    assert "NaN" in entry["message"]

    code, out, _ = run(capsys, str(model), "--baseline", str(baseline))
    assert code == 0 and out == ""


def test_baseline_survives_inserting_lines_above_the_layer(model_file, tmp_path: Path, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    baseline = tmp_path / "b.json"
    run(capsys, str(model), "--write-baseline", str(baseline))
    before = run(capsys, str(model))[1]

    # five new lines above fc2: the finding moves from line 8 to line 13
    shifted = NAN_MODEL.replace(
        FC2, "            # a\n            # b\n            # c\n            # d\n            # e\n" + FC2
    )
    model_file(shifted, "net.py")
    after = run(capsys, str(model))[1]
    assert ":8:1: GL001" in before and ":13:1: GL001" in after

    code, out, _ = run(capsys, str(model), "--baseline", str(baseline))
    assert code == 0 and out == ""


def test_a_new_finding_with_the_same_key_is_reported(model_file, tmp_path: Path, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    baseline = tmp_path / "b.json"
    run(capsys, str(model), "--write-baseline", str(baseline))
    model_file(NAN_MODEL.replace(NAN_LINE, NAN_LINE + '\n                self.fc2.bias[0] = float("inf")'), "net.py")
    code, out, _ = run(capsys, str(model), "--baseline", str(baseline))
    assert code == 1
    assert out.count("GL001") == 1  # weight known, bias new


def test_new_rule_and_new_module_are_reported(model_file, tmp_path: Path, fake_rule, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    baseline = tmp_path / "b.json"
    run(capsys, str(model), "--select", "GL001", "--write-baseline", str(baseline))
    code, out, _ = run(capsys, str(model), "--select", "GL001,GL950", "--baseline", str(baseline))
    assert code == 1
    assert "GL001" not in out and out.count("GL950") == 2


def test_baseline_works_from_another_working_directory(model_file, tmp_path: Path, capsys, monkeypatch) -> None:
    model = model_file(NAN_MODEL, "net.py")
    baseline = tmp_path / "b.json"
    run(capsys, str(model), "--write-baseline", str(baseline))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, _ = run(capsys, os.path.relpath(model), "--baseline", os.path.relpath(baseline))
    assert code == 0 and out == ""


def test_write_baseline_ignores_the_old_baseline(model_file, tmp_path: Path, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    baseline = tmp_path / "b.json"
    run(capsys, str(model), "--write-baseline", str(baseline))
    code, _, err = run(capsys, str(model), "--baseline", str(baseline), "--write-baseline", str(baseline))
    assert code == 0 and "wrote 1 finding(s)" in err
    assert len(json.loads(baseline.read_text())["findings"]) == 1


def test_baseline_from_config(model_file, tmp_path: Path, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    run(capsys, str(model), "--write-baseline", str(tmp_path / "known.json"))
    (tmp_path / "pyproject.toml").write_text('[tool.gradlint]\nbaseline = "known.json"\n')
    assert run(capsys, str(model))[0] == 0
    assert run(capsys, str(model), "--isolated")[0] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("not json", "cannot read it"),
        ('{"findings": []}', "not a gradlint baseline"),
        ('{"gradlint_baseline": 1, "findings": [{"file": "x.py"}]}', "malformed entry"),
    ],
)
def test_bad_baseline_is_a_usage_error(content: str | None, message: str, model_file, tmp_path, capsys) -> None:
    baseline = tmp_path / "b.json"
    if content is not None:
        baseline.write_text(content)
    code, _, err = run(capsys, str(model_file(NAN_MODEL)), "--baseline", str(baseline))
    assert code == 2 and message in err


def test_keys_ignore_lines_and_messages(tmp_path: Path) -> None:
    graph = make_graph(str(tmp_path / "models" / "net.py"))
    a = make_finding("message one", path=str(tmp_path / "models" / "net.py"), line=8)
    b = make_finding("message two", path=str(tmp_path / "models" / "net.py"), line=80)
    assert finding_key(a, graph, str(tmp_path)) == finding_key(b, graph, str(tmp_path))
    assert finding_key(a, graph, str(tmp_path)) == ("models/net.py", "Net", "GL001", "fc2")


def test_document_counts_and_sorts(tmp_path: Path) -> None:
    path = str(tmp_path / "net.py")
    report = make_report(
        make_finding(path=path, module="fc2"),
        make_finding(path=path, module="fc2", line=9),
        make_finding(path=path, module="fc1"),
        source=path,
    )
    document = baseline_document(report, str(tmp_path))
    assert [(e["module"], e["count"]) for e in document["findings"]] == [("fc1", 1), ("fc2", 2)]
    baseline_file = tmp_path / "b.json"
    baseline_file.write_text(json.dumps(document))
    loaded = Baseline.load(str(baseline_file))
    model = report.models[0]
    assert loaded.new_findings(model.findings, model.graph) == ()
    extra = make_finding(path=path, module="fc2", line=10)
    assert loaded.new_findings((*model.findings, extra), model.graph) == (extra,)
