"""What one run produced: per model the graph, findings, estimates and probe result; the targets that failed.

Plain data: presenting it (JSON, notebooks, pictures) is the report stage's (``gradlint.report``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gradlint.types.estimates import Estimates
from gradlint.types.findings import Finding
from gradlint.types.graph import ModelGraph
from gradlint.types.probe import ProbeResult


@dataclass(frozen=True)
class ModelReport:
    graph: ModelGraph
    findings: tuple[Finding, ...]
    probe: ProbeResult | None = None
    """The measurement, when ``--probe`` ran."""
    estimates: Estimates | None = None
    """The static prediction of gradient scales."""
    probe_skipped: str | None = None
    """Why ``--probe`` did not run on this model (it was built on the meta device)."""


@dataclass(frozen=True)
class TargetError:
    """A target that could not be linted (load or trace failure the user can fix)."""

    target: str
    message: str
    """One line that names the file itself (``path:line: syntax error: ...``)."""
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    """The error behind it, for ``--debug``."""


@dataclass(frozen=True)
class Report:
    models: tuple[ModelReport, ...]
    errors: tuple[TargetError, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for m in self.models for f in m.findings)
