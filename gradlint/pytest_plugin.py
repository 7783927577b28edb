"""pytest plugin: ``pytest --gradlint`` lints every model file pytest collects, one test item per file.

Registered through the ``pytest11`` entry point, so it is there as soon as gradlint is installed,
and does nothing without ``--gradlint``. With it, every ``*.py`` file under the paths pytest
collects that imports torch (``setup.py`` and ``conftest.py`` excepted) gets an item named
``gradlint``, marked ``gradlint`` (``pytest --gradlint -m gradlint`` runs only these). The item

- fails on findings at or above ``--gradlint-fail-on`` (else ``fail-on`` of the file's
  ``[tool.gradlint]``, else ``info``), and on a file that could not be linted;
- is skipped for a file without a model (a test module, a helper);
- reads ``[tool.gradlint]`` exactly as the command line does (selection, per-file ignores,
  inline suppressions, baseline, thresholds, input shapes, probe settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SEVERITIES = ("info", "warning", "error")
_SKIPPED_FILES = frozenset({"setup.py", "conftest.py"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradlint", "gradlint: exploding and vanishing gradients in model files")
    group.addoption("--gradlint", action="store_true", default=False, help="lint model files with gradlint")
    group.addoption(
        "--gradlint-fail-on",
        choices=SEVERITIES,
        default=None,
        help="lowest finding severity that fails a gradlint item (default: fail-on of [tool.gradlint], else info)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gradlint: a gradlint check of one model file")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("gradlint"):
        return None
    if file_path.suffix != ".py" or file_path.name in _SKIPPED_FILES:
        return None
    from gradlint.load.targets import may_hold_model  # decided from the source: nothing is imported

    if not may_hold_model(str(file_path)):
        return None
    return GradlintFile.from_parent(parent, path=file_path)


class GradlintFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        return [GradlintItem.from_parent(self, name="gradlint")]


class GradlintFailure(Exception):
    """The file has findings at or above the threshold, or could not be linted."""


class GradlintItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("gradlint")

    def runtest(self) -> None:
        from gradlint.api import lint_paths
        from gradlint.config import Overrides, Settings
        from gradlint.errors import GradlintError
        from gradlint.testing import concise_line, failing_findings

        target = str(self.path)
        try:
            settings = Settings(Overrides(skip_no_model=True))
            settings.check([target])
            fail_on = self.config.getoption("gradlint_fail_on") or settings.config_for(target).fail_on or "info"
            report = lint_paths([target], settings.base_options(), options_for=settings.options_for)
        except GradlintError as error:  # a bad [tool.gradlint]: one line, not a traceback
            raise GradlintFailure(f"gradlint: {error}") from None
        if not report.models and not report.errors:
            pytest.skip("no model in this file")
        problems = [f"could not be linted: {e.message}" for e in report.errors]
        problems += [concise_line(f) for f in failing_findings(report, fail_on)]
        if problems:
            raise GradlintFailure(f"gradlint (fail-on {fail_on}):\n" + "\n".join(problems))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, GradlintFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"gradlint: {self.path.name}"
