"""Mark findings confirmed or refuted by a probe, with the measured numbers beside the predicted ones."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gradlint.probe.result import ProbedActivation, ProbedWeight, ProbeResult
from gradlint.types import Finding, frozen_mapping

#: Measured dead fraction above which a ``dead-units`` finding counts as confirmed.
DEAD_CONFIRM_FRACTION = 0.5

_GRADIENT_KINDS = {"exploding-gradient": "exploding", "vanishing-gradient": "vanishing"}


def confirm_findings(findings: Sequence[Finding], result: ProbeResult) -> tuple[Finding, ...]:
    """Set ``confirmed`` on the findings a probe can judge and add ``probe_*`` evidence.

    - ``exploding-gradient`` / ``vanishing-gradient``: confirmed iff the measured verdict agrees.
    - ``non-finite``: confirmed iff a NaN or an infinity was measured anywhere.
    - ``dead-units``: confirmed iff the measured dead fraction on that module is above 0.5;
      left unjudged (None) when no ReLU-family module could be measured there.
    Other kinds are returned unchanged.
    """
    return tuple(_confirm(f, result) for f in findings)


def _confirm(finding: Finding, result: ProbeResult) -> Finding:
    if finding.kind in _GRADIENT_KINDS:
        confirmed: bool | None = result.verdict == _GRADIENT_KINDS[finding.kind]
        evidence = _gradient_evidence(finding.module, result)
    elif finding.kind == "non-finite":
        confirmed, evidence = _nonfinite_evidence(result)
    elif finding.kind == "dead-units":
        confirmed, evidence = _dead_evidence(finding.module, result)
    else:
        return finding
    return replace(finding, confirmed=confirmed, evidence=frozen_mapping({**finding.evidence, **evidence}))


def _gradient_evidence(module: str | None, result: ProbeResult) -> dict[str, Any]:
    d = result.verdict_details
    evidence: dict[str, Any] = {
        "probe_verdict": result.verdict,
        "probe_verdict_reason": result.verdict_reason,
        "probe_span": _round(d.span),
        "probe_max_log10_grad_rms": _round(d.max_value),
        "probe_min_log10_grad_rms": _round(d.min_value),
        "probe_first_weight": d.first_weight,
        "probe_last_weight": d.last_weight,
        "probe_device": result.device,
    }
    if module is not None:
        own = _module_weights(module, result.weights)
        evidence["probe_weights"] = len(own)
        evidence["probe_log10_grad_rms"] = _round(pooled_log10(own))
    return evidence


def _nonfinite_evidence(result: ProbeResult) -> tuple[bool, dict[str, Any]]:
    site = result.first_nonfinite
    bad_weights = [w.name for w in result.weights if w.nonfinite]
    evidence: dict[str, Any] = {"probe_nonfinite_weights": len(bad_weights)}
    if site is not None:
        evidence.update(
            probe_nonfinite_phase=site.phase,
            probe_nonfinite_module=site.module,
            probe_nonfinite_what=site.what,
        )
    return site is not None or bool(bad_weights), evidence


def _dead_evidence(module: str | None, result: ProbeResult) -> tuple[bool | None, dict[str, Any]]:
    measured = _dead_candidates(module, result.activations)
    if not measured:
        return None, {}
    worst = max(measured, key=lambda a: a.dead_fraction or 0.0)
    fraction = worst.dead_fraction or 0.0
    evidence = {"probe_dead_fraction": round(fraction, 4), "probe_dead_module": worst.module}
    return fraction > DEAD_CONFIRM_FRACTION, evidence


def _dead_candidates(module: str | None, activations: Sequence[ProbedActivation]) -> list[ProbedActivation]:
    """The ReLU-family modules a dead-units finding on ``module`` is about.

    The module itself or those inside it; for a layer that feeds an activation
    (``Linear`` then ``ReLU``), the module called right after it when that is ReLU-family.
    """
    dead_capable = [a for a in activations if a.dead_fraction is not None]
    if module is None or module == "":
        return dead_capable
    inside = [a for a in dead_capable if a.module == module or a.module.startswith(module + ".")]
    if inside:
        return inside
    ordered = sorted(activations, key=lambda a: a.forward_index)
    for i, a in enumerate(ordered):
        if a.module == module:
            after = [b for b in ordered[i + 1 :] if not b.module.startswith(module + ".")]
            if after and after[0].dead_fraction is not None:
                return [after[0]]
            break
    return []


def _module_weights(module: str, weights: Sequence[ProbedWeight]) -> list[ProbedWeight]:
    if module == "":
        return list(weights)
    return [w for w in weights if w.module == module or w.module.startswith(module + ".")]


def pooled_log10(weights: Sequence[ProbedWeight]) -> float | None:
    """log10 of the gradient RMS over all elements of ``weights`` together (blocked ones count as zero).

    None when there is nothing measured or every gradient is exactly zero; NaN when one is non-finite.
    """
    if not weights:
        return None
    if any(w.nonfinite for w in weights):
        return math.nan
    numel = sum(math.prod(w.shape) for w in weights)
    # log10(sqrt(sum_i n_i 10^(2 g_i) / N)), summed in log space so that huge values do not overflow.
    terms = [math.log10(math.prod(w.shape)) + 2 * w.log10_grad_rms for w in weights if w.log10_grad_rms is not None]
    if not terms:
        return None
    top = max(terms)
    total = top + math.log10(sum(10 ** (t - top) for t in terms))
    return (total - math.log10(numel)) / 2


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 4)
