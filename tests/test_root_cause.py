"""One root cause, one finding (issue 16 item 6): engine.merge_root_causes and how each format shows the merge."""

from __future__ import annotations

import io
from dataclasses import replace

from gradlint.engine import merge_root_causes
from gradlint.report.json_format import report_to_dict
from gradlint.report.sarif import sarif_log
from gradlint.report.text import TextReporter
from gradlint.types import Finding, Severity, frozen_mapping

from .fakes import make_finding, make_report

RUN = ["net.0", "net.2", "net.4", "net.6"]


def finding(code: str, module: str, severity: Severity, line: int, layers: list[str] | None = None) -> Finding:
    made = make_finding(f"{code} says so", code=code, severity=severity, module=module, line=line)
    return replace(made, evidence=frozen_mapping({"layers": layers} if layers is not None else {}))


def test_init_mismatch_takes_in_the_vanishing_gradient_and_the_deep_stack() -> None:
    gl301 = finding("GL301", "net.0", Severity.INFO, 3, RUN)
    gl102 = replace(finding("GL102", "net.4", Severity.ERROR, 5), confirmed=True)
    gl201 = finding("GL201", "net.0", Severity.WARNING, 3, RUN[:-1])
    other = finding("GL704", "net.4", Severity.WARNING, 5)
    merged = merge_root_causes([gl301, gl102, gl201, other])
    assert [f.code for f in merged] == ["GL201", "GL704"]
    primary = merged[0]
    assert (primary.module, primary.message, primary.location) == ("net.0", gl201.message, gl201.location)
    assert primary.severity is Severity.ERROR  # the highest of the group
    assert [(r.code, r.module, r.severity, r.confirmed) for r in primary.related] == [
        ("GL102", "net.4", Severity.ERROR, True),
        ("GL301", "net.0", Severity.INFO, None),
    ]


def test_findings_about_other_layers_stay_apart() -> None:
    gl201 = finding("GL201", "a.0", Severity.WARNING, 3, ["a.0", "a.2", "a.4"])
    gl102 = finding("GL102", "b.4", Severity.ERROR, 9)
    gl301 = finding("GL301", "b.0", Severity.INFO, 8, ["b.0", "b.2"])
    assert merge_root_causes([gl201, gl102, gl301]) == (gl201, gl102, gl301)


def test_two_runs_of_one_rule_are_two_findings() -> None:
    first = finding("GL201", "a.0", Severity.WARNING, 3, ["a.0", "a.2"])
    second = finding("GL201", "a.2", Severity.WARNING, 4, ["a.2", "a.4"])
    merged = merge_root_causes([first, second])
    assert [f.related for f in merged] == [(), ()]


def test_every_format_shows_the_related_locations() -> None:
    gl201 = finding("GL201", "net.0", Severity.WARNING, 3, RUN)
    gl102 = finding("GL102", "net.4", Severity.ERROR, 5)
    report = make_report(*merge_root_causes([gl201, gl102]))
    (shown,) = report_to_dict(report)["models"][0]["findings"]
    assert shown["related"] == [
        {
            "code": "GL102",
            "severity": "error",
            "module": "net.4",
            "location": {"path": "models/net.py", "line": 5, "col": 1},
            "message": "GL102 says so",
            "confirmed": None,
        }
    ]
    (result,) = sarif_log(report, root="/nonexistent")["runs"][0]["results"]
    (related,) = result["relatedLocations"]
    assert related["id"] == 1
    assert related["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 1}
    assert related["message"]["text"] == "GL102 [error] net.4: GL102 says so"
    out = io.StringIO()
    TextReporter(out, io.StringIO(), color=False, show_layers=False).render(report)
    assert "    related: models/net.py:5:1: GL102 [error] net.4: GL102 says so" in out.getvalue().splitlines()
