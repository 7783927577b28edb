"""gradlint: a linter for PyTorch model architectures that finds exploding and vanishing gradients before training."""

from gradlint._version import __version__
from gradlint.api import LintOptions, lint, lint_paths
from gradlint.probe import ProbeResult, probe
from gradlint.types import Finding, ModelGraph, Report, Severity

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
