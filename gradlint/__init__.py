"""gradlint: a linter for PyTorch model architectures that finds exploding and vanishing gradients before training.

The package face is lazy (PEP 562): ``import gradlint`` loads no stage and no torch, so
``gradlint --version``, ``--help`` and ``gradlint rule`` start in a fraction of a second; a name
below is imported from its module the first time it is used.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from gradlint._version import __version__

if TYPE_CHECKING:
    from gradlint.api import LintOptions, lint, lint_paths
    from gradlint.probe import ProbeResult, probe
    from gradlint.report.lint_report import LintReport as Report
    from gradlint.types import Finding, ModelGraph, Severity

# public name -> (the module that defines it, its name there)
_LAZY = {
    "LintOptions": ("gradlint.api", "LintOptions"),
    "lint": ("gradlint.api", "lint"),
    "lint_paths": ("gradlint.api", "lint_paths"),
    "ProbeResult": ("gradlint.probe", "ProbeResult"),
    "probe": ("gradlint.probe", "probe"),
    "Finding": ("gradlint.types", "Finding"),
    "ModelGraph": ("gradlint.types", "ModelGraph"),
    "Report": ("gradlint.report.lint_report", "LintReport"),  # the record plus its presentations
    "Severity": ("gradlint.types", "Severity"),
}

__all__ = [
    "Finding",
    "LintOptions",
    "ModelGraph",
    "ProbeResult",
    "Report",
    "Severity",
    "__version__",
    "lint",
    "lint_paths",
    "probe",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gradlint' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Face(types.ModuleType):
    """Keeps ``gradlint.probe`` the function, as the eager face had it.

    Importing the subpackage ``gradlint.probe`` sets the attribute ``probe`` on this module to
    the subpackage; the function, which the README documents as ``gradlint.probe(model, inputs)``,
    keeps the name instead (the subpackage stays importable through ``sys.modules``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Face
