"""``--format github``: workflow commands, escaped exactly as ``@actions/core`` escapes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradlint.cli import main
from gradlint.report import format_github
from gradlint.report.github import escape_data, escape_property
from gradlint.types import Fix, Report, Severity, TargetError

from .fakes import NAN_MODEL, fake_rule, make_finding, make_report  # noqa: F401 - fixture

# ::name key=value,key=value::message -- no raw newline, and no unescaped ',' or ':' in a value
COMMAND = re.compile(r"^::(error|warning|notice)(?: ((?:[a-z]+=[^,:\r\n]*)(?:,[a-z]+=[^,:\r\n]*)*))?::([^\r\n]*)$")


def unescape(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.match(line)
    assert match, line
    name, props, message = match.groups()
    properties = dict(item.split("=", 1) for item in props.split(",")) if props else {}
    return name, {k: unescape(v) for k, v in properties.items()}, unescape(message)


def test_escaping_matches_the_toolkit() -> None:
    # @actions/core command.ts: escapeData and escapeProperty
    assert escape_data("50% of 1\r\n2") == "50%25 of 1%0D%0A2"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert escape_data("a:b,c") == "a:b,c"  # ':' and ',' are only escaped in properties
    assert escape_data("%0A") == "%250A"  # an escape sequence in the text stays literal


def test_a_finding_is_one_annotation(tmp_path: Path) -> None:
    path = str(tmp_path / "models" / "net,v2:final.py")
    finding = make_finding(
        "gain 100% higher\nthan expected: [bold]x[/bold]",
        path=path,
        line=14,
        col=9,
        fix=Fix("use He init, gain 2", "nn.init.kaiming_normal_(w)\nnn.init.zeros_(b)"),
        confirmed=False,
    )
    text = format_github(make_report(finding, source=path), root=str(tmp_path))
    (line,) = text.splitlines()
    name, properties, message = parse(line)
    assert name == "error"
    assert properties == {
        "file": "models/net,v2:final.py",
        "line": "14",
        "col": "9",
        "title": "gradlint GL001 (non-finite-tensor)",
    }
    assert "file=models/net%2Cv2%3Afinal.py," in line
    assert message == (
        "models/net,v2:final.py:14:9: GL001 [error] fc2: gain 100% higher\nthan expected: [bold]x[/bold]"
        " (probe: refuted)\nfix: use He init, gain 2\nnn.init.kaiming_normal_(w)\nnn.init.zeros_(b)"
    )
    assert "%25 higher%0Athan" in line


def test_severities_map_to_commands(tmp_path: Path) -> None:
    path = str(tmp_path / "net.py")
    report = make_report(
        make_finding(severity=Severity.ERROR, path=path),
        make_finding(severity=Severity.WARNING, path=path),
        make_finding(severity=Severity.INFO, path=path, module=None),
        source=path,
    )
    names = [parse(line)[0] for line in format_github(report, root=str(tmp_path)).splitlines()]
    assert names == ["error", "warning", "notice"]


def test_target_errors_are_annotations(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    report = Report((), (TargetError(str(broken), f"{broken}:1: syntax error: invalid syntax"),))
    (line,) = format_github(report, root=str(tmp_path)).splitlines()
    name, properties, message = parse(line)
    assert name == "error" and properties["file"] == "broken.py"
    assert "syntax error" in message


def test_cli_github_format(model_file, fake_rule, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    model = model_file(NAN_MODEL, "net.py")
    monkeypatch.chdir(model.parent)
    monkeypatch.setenv("FORCE_COLOR", "1")  # machine formats are never coloured
    code = main(["net.py", "--format", "github", "--select", "GL001,GL950"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    assert len(lines) == 3
    parsed = [parse(line) for line in lines]
    assert sorted(p[0] for p in parsed) == ["error", "warning", "warning"]
    assert all(p[1]["file"] == "net.py" for p in parsed)
    assert "\x1b[" not in captured.out


def test_no_findings_no_output(model_file, capsys: pytest.CaptureFixture[str]) -> None:
    from .fakes import CLEAN_MODEL

    code = main([str(model_file(CLEAN_MODEL)), "--format", "github", "--select", "GL001"])
    assert code == 0 and capsys.readouterr().out == ""
