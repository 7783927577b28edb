"""Errors that end a run with exit code 2 and one clear line."""

from __future__ import annotations

ISSUE_URL = "https://github.com/gradlint/gradlint/issues"


class GradlintError(Exception):
    """Something the user can fix: a bad path, a broken model file, inputs that do not fit.

    The CLI prints ``str(error)`` on one line and exits 2; ``--debug`` shows the traceback.
    """


class UsageError(GradlintError):
    """Bad command-line arguments or configuration."""


class LoadError(GradlintError):
    """The target could not be imported, found or constructed."""


class InputError(GradlintError):
    """No example inputs could be found, or the ones found do not fit the model."""


class TraceError(GradlintError):
    """Every tracing method failed."""


HOW_TO_REPORT = (
    f"This is a bug in gradlint; please report it at {ISSUE_URL} with the output of the same command run with --debug."
)


def internal_error_message(exc: BaseException) -> str:
    return f"gradlint: internal error: {type(exc).__name__}: {exc}. {HOW_TO_REPORT}"


class InternalError(Exception):
    """A bug in gradlint met while linting one target, tagged with the stage it happened in.

    ``lint_paths`` turns it into that target's error entry, so the other targets' results stay.
    """

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(
            f"internal error while {_DOING.get(stage, stage)}: {type(cause).__name__}: {_first_line(cause)}"
        )
        self.stage = stage
        self.cause = cause


_DOING = {
    "load": "loading",
    "trace": "tracing",
    "estimate": "estimating gradient scales",
    "rules": "running the rules",
    "probe": "probing",
}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"
