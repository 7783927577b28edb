"""What the rules produce: findings and their fixes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradlint.types.base import Severity, SourceLocation, frozen_mapping

#: The ``kind`` vocabulary every finding draws from.
FINDING_KINDS = frozenset(
    {
        "exploding-gradient",
        "vanishing-gradient",
        "saturation",
        "init-mismatch",
        "normalization",
        "residual-scaling",
        "attention",
        "recurrent",
        "unstable-op",
        "dead-units",
        "non-finite",
        "optimizer",
        "precision",
    }
)


@dataclass(frozen=True)
class Fix:
    description: str
    code: str | None = None


@dataclass(frozen=True)
class RelatedLocation:
    """A finding folded into another because both report one root cause (the same run of layers)."""

    code: str
    module: str | None
    location: SourceLocation | None
    message: str
    severity: Severity
    confirmed: bool | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    kind: str
    message: str
    module: str | None
    location: SourceLocation | None
    fix: Fix | None = None
    evidence: Mapping[str, Any] = field(default_factory=frozen_mapping)
    confirmed: bool | None = None
    """Set by the probe: True when a measurement confirms the finding, False when it refutes it."""
    related: tuple[RelatedLocation, ...] = ()
    """Findings of other rules about the same root cause, merged into this one (``engine.merge_root_causes``)."""
