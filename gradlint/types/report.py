"""What one run produced: per model the graph, findings, estimates and probe result; the targets that failed.

Plain data: presenting it (JSON, notebooks, pictures) is the report stage's (``gradlint.report``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gradlint.types.base import SourceLocation
from gradlint.types.estimates import Estimates
from gradlint.types.findings import Finding
from gradlint.types.graph import ModelGraph
from gradlint.types.precision import PrecisionMeasurement
from gradlint.types.probe import Agreement, ProbeResult


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
    probe_error: str | None = None
    """Why ``--probe`` ran and failed (one line); the static result above still stands."""
    agreement: Agreement | None = None
    """Where the probe's measurement and the estimate disagree, per weight (when both ran)."""
    precision_probe: PrecisionMeasurement | None = None
    """``--probe --precision``: the precision quantities measured in the dtype."""


@dataclass(frozen=True)
class TargetError:
    """A target that could not be linted: a load or trace failure the user can fix, or an internal error."""

    target: str
    message: str
    """One line that names the file itself (``path:line: syntax error: ...``)."""
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    """The error behind it, for ``--debug``."""
    stage: str = "load"
    """The pipeline stage that failed: ``load``, ``trace``, ``estimate``, ``rules`` or ``probe``."""
    internal: bool = False
    """A bug in gradlint rather than in the user's model or command; ``how_to_report`` says what to do."""
    how_to_report: str | None = None
    """For internal errors: where to report it and what to attach."""
    path: str | None = None
    """The file the target names (``path.py`` of ``path.py:ATTR``), parsed once by the api; None: the
    ``target`` is itself the path (a record built by hand)."""

    @property
    def file(self) -> str:
        return self.path if self.path is not None else self.target


@dataclass(frozen=True)
class Report:
    models: tuple[ModelReport, ...]
    errors: tuple[TargetError, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for m in self.models for f in m.findings)


def model_label(graph: ModelGraph) -> str:
    """The model's name in a baseline key or a SARIF log: the part of its target after the last ``:``."""
    return graph.target.rpartition(":")[2] or graph.name


def finding_file(finding: Finding, graph: ModelGraph) -> str:
    """The file a finding belongs to: where it points, else the model's source."""
    location: SourceLocation | None = finding.location
    return location.path if location is not None else graph.source_path
