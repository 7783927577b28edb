"""Typed, frozen records that flow between the pipeline stages: the ground floor every stage imports.

load -> ``LoadedModel``; trace -> ``ModelGraph``; estimate -> ``Estimates``; rules -> ``Finding``;
probe -> ``ProbeResult``; the api bundles them into ``ModelReport`` / ``Report`` for the formatters.
These modules import nothing of gradlint outside ``gradlint.types`` (a test checks it), and no torch:
records hold data and indices over it, and nothing here presents or computes (that is the stages').
"""

from gradlint.types.base import Severity, SourceLocation, frozen_mapping
from gradlint.types.estimates import Estimates, NodeEstimate, WeightEstimate
from gradlint.types.findings import FINDING_KINDS, Finding, Fix, RelatedLocation
from gradlint.types.graph import (
    InitCall,
    InitInfo,
    InputSpec,
    LayerNode,
    LoadedModel,
    ModelGraph,
    ParamStats,
    TensorHealth,
    TraceAttempt,
    TraceInfo,
    WeightInfo,
    dtype_name,
    nearest_site,
)
from gradlint.types.precision import (
    ActivationOverflow,
    GradientUnderflow,
    LossScale,
    NumberFormat,
    PrecisionCheck,
    PrecisionMeasurement,
    PrecisionMode,
    VanishingConstant,
)
from gradlint.types.probe import (
    MemoryEstimate,
    NonFiniteSite,
    ProbedActivation,
    ProbedWeight,
    ProbeResult,
    StepsResult,
)
from gradlint.types.report import ModelReport, Report, TargetError
from gradlint.types.training import (
    OPTIMIZER_NAMES,
    TRAINING_VERDICTS,
    OptimizerConfig,
    TrainingCheck,
    WeightUpdate,
)
from gradlint.types.verdict import Verdict, VerdictThresholds

__all__ = [
    "ActivationOverflow",
    "GradientUnderflow",
    "LossScale",
    "NumberFormat",
    "PrecisionCheck",
    "PrecisionMeasurement",
    "PrecisionMode",
    "VanishingConstant",
    "FINDING_KINDS",
    "OPTIMIZER_NAMES",
    "TRAINING_VERDICTS",
    "Estimates",
    "Finding",
    "Fix",
    "InitCall",
    "InitInfo",
    "InputSpec",
    "LayerNode",
    "LoadedModel",
    "MemoryEstimate",
    "ModelGraph",
    "ModelReport",
    "NodeEstimate",
    "NonFiniteSite",
    "OptimizerConfig",
    "ParamStats",
    "ProbeResult",
    "ProbedActivation",
    "ProbedWeight",
    "RelatedLocation",
    "Report",
    "Severity",
    "SourceLocation",
    "StepsResult",
    "TargetError",
    "TensorHealth",
    "TraceAttempt",
    "TraceInfo",
    "TrainingCheck",
    "Verdict",
    "VerdictThresholds",
    "WeightEstimate",
    "WeightInfo",
    "WeightUpdate",
    "dtype_name",
    "frozen_mapping",
    "nearest_site",
]
