"""What a rule file works with: the graph it reads, and the ``Hit`` it yields.

A rule yields ``Hit``s; the engine turns each into a ``Finding`` with the rule's
code, name, severity and kind, and points it at the line that built the layer
unless the hit names another location.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradlint.types import Fix, LayerNode, ModelGraph, Severity, SourceLocation, frozen_mapping

__all__ = ["Fix", "Hit", "LayerNode", "ModelGraph", "Severity", "SourceLocation"]


@dataclass(frozen=True)
class Hit:
    message: str
    module: str | None
    fix: Fix | None = None
    evidence: Mapping[str, Any] = field(default_factory=frozen_mapping)
    location: SourceLocation | None = None
    """Defaults to where ``module`` was constructed."""
    severity: Severity | None = None
    """Defaults to the rule's severity."""
