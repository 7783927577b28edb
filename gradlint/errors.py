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


def internal_error_message(exc: BaseException) -> str:
    return (
        f"gradlint: internal error: {type(exc).__name__}: {exc}. "
        f"This is a bug in gradlint; please report it at {ISSUE_URL} "
        "with the output of the same command run with --debug."
    )
