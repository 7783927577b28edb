"""The pytest plugin (``pytest --gradlint``), run in-process with pytester."""

from __future__ import annotations

import textwrap
from importlib import metadata

import pytest

from .fakes import CLEAN_MODEL, NAN_MODEL

pytest_plugins = ["pytester"]


def write(pytester: pytest.Pytester, **files: str) -> None:
    pytester.makepyfile(**{name: textwrap.dedent(source) for name, source in files.items()})


def test_registered_as_a_pytest11_entry_point() -> None:
    entry_points = metadata.entry_points(group="pytest11")
    assert any(ep.name == "gradlint" and ep.value == "gradlint.pytest_plugin" for ep in entry_points)


def test_off_without_the_flag(pytester: pytest.Pytester) -> None:
    write(pytester, bad=NAN_MODEL)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_fails_on_findings_and_passes_clean_files(pytester: pytest.Pytester) -> None:
    write(pytester, bad=NAN_MODEL, good=CLEAN_MODEL, helper="import os\nX = 1\n", no_model="import torch\nSIZE = 3\n")
    result = pytester.runpytest_inprocess("--gradlint", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)  # helper.py imports no torch: not collected
    result.stdout.fnmatch_lines(
        [
            "*bad.py:8:1: GL001 [[]error[]] fc2: parameter `fc2.weight` of this Linear holds 1 NaN*",
            "*no model in this file*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_marker_selects_only_gradlint_items(pytester: pytest.Pytester) -> None:
    write(pytester, good=CLEAN_MODEL, test_other="def test_x():\n    assert True\n")
    result = pytester.runpytest_inprocess("--gradlint", "-m", "gradlint", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=1)


def test_fail_on_option_and_config(pytester: pytest.Pytester) -> None:
    write(pytester, bad=NAN_MODEL)
    config = '[tool.gradlint]\nselect = ["GL001"]\nfail-on = "error"\n'
    pytester.makefile(".toml", pyproject=config + '[tool.gradlint.per-file-ignores]\n"bad.py" = ["GL001"]\n')
    result = pytester.runpytest_inprocess("--gradlint", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)  # GL001 ignored for this file by [tool.gradlint]
    pytester.makefile(".toml", pyproject=config)
    result = pytester.runpytest_inprocess("--gradlint", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*gradlint (fail-on error)*"])


def test_inline_suppression_applies(pytester: pytest.Pytester) -> None:
    source = NAN_MODEL.replace("self.fc2 = nn.Linear(32, 4)", "self.fc2 = nn.Linear(32, 4)  # noqa: GL001")
    write(pytester, bad=source)
    pytester.makefile(".toml", pyproject='[tool.gradlint]\nselect = ["GL001"]\n')
    result = pytester.runpytest_inprocess("--gradlint", "--gradlint-fail-on", "info", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_unloadable_file_and_bad_config_fail_in_one_line(pytester: pytest.Pytester) -> None:
    write(pytester, broken="import torch\nimport not_a_real_module_xyz\n")
    result = pytester.runpytest_inprocess("--gradlint", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*could not be linted*not_a_real_module_xyz*"])
    pytester.makefile(".toml", pyproject='[tool.gradlint]\nselect = ["GL999"]\n')
    result = pytester.runpytest_inprocess("--gradlint", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown rule code or prefix 'GL999'*"])
    assert "Traceback" not in result.stdout.str()
