"""Shared by the gradient-scale rules: which layers drive the gain, and the init fix as code."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gradlint.rulekit import (
    Estimates,
    ModelGraph,
    ParamStats,
    RuleContext,
    Severity,
    Verdict,
    VerdictThresholds,
    WeightEstimate,
    parameter_behind,
)


def contributing_layers(graph: ModelGraph, estimates: Estimates, *, growing: bool, count: int = 3) -> list[str]:
    """The layers whose predicted backward gain moves the gradient most in the given direction."""
    gains: dict[str, float] = {}
    nodes = estimates.nodes_by_name
    for node in graph.nodes:
        if node.op != "call_module" or node.module is None:
            continue
        found = nodes.get(node.name)
        if found is None or found.backward_gain is None or found.backward_gain <= 0:
            continue
        value = math.log10(found.backward_gain)
        gains[node.module] = gains.get(node.module, 0.0) + value
    ranked = sorted(gains.items(), key=lambda kv: -kv[1] if growing else kv[1])
    chosen = [(m, v) for m, v in ranked if (v > 0.05 if growing else v < -0.05)][:count]
    return [f"{m} (×10^{v:+.2f})" for m, v in chosen]


_MULTIPLY = frozenset({"mul", "mul_", "__mul__", "__rmul__", "imul"})
#: A learnable gate at or below this RMS is a branch scaled down on purpose (LayerScale starts at 1e-6 to 1e-1).
SMALL_GATE_RMS = 0.1


def small_gates(graph: ModelGraph) -> dict[str, ParamStats]:
    """Learnable scales that multiply a tensor and start small: LayerScale γ (CaiT, ConvNeXt, PoolFormer), ReZero α.

    A gate is a parameter with at most one dimension above 1 (a scalar or one scale per channel),
    reached from a multiply through reshapes only, with RMS at most ``SMALL_GATE_RMS``. The weights
    behind it get gradients that are small by the gate's factor, by design: the gate's own gradient
    does not depend on it, so it grows in the first steps and lets the branch in.
    """
    gates: dict[str, ParamStats] = {}
    for node in graph.nodes:
        if node.op not in ("call_function", "call_method") or node.target not in _MULTIPLY:
            continue
        for source in node.inputs:
            name = parameter_behind(graph, source)
            stats = graph.params.get(name) if name is not None else None
            if stats is None or sum(1 for size in stats.shape if size > 1) > 1:
                continue
            if 0.0 < stats.mean_sq <= SMALL_GATE_RMS**2:
                gates[stats.name] = stats
    return gates


def gain_severity(severe: bool, estimates: Estimates) -> Severity:
    """ERROR for a severe predicted gain on an estimate every op had a rule for; WARNING otherwise.

    Where a generic rule stood in (an op without a rule, a class-token readout), the end-to-end
    number can be off by orders of magnitude: the finding stands, but not as an error.
    """
    return Severity.ERROR if severe and not estimates.uncertain else Severity.WARNING


#: Weights whose predicted log10 gradient RMS is within this of the extreme are equally extreme: the
#: estimate cannot tell them apart, so the finding goes to the first of them, where the problem starts.
NEAR_ORDERS = 0.1


def where_it_starts(estimates: Estimates, name: str, value: float | None) -> WeightEstimate:
    """The first weight in forward order whose predicted value is within ``NEAR_ORDERS`` of the extreme
    ``value`` at ``name`` (``name`` itself when none comes before it)."""
    if value is not None and math.isfinite(value):
        for weight in estimates.weights:
            if weight.log10_grad_rms is not None and abs(weight.log10_grad_rms - value) <= NEAR_ORDERS:
                return weight
    return estimates.weight(name)


def unfixed_note(fix: object, tried: tuple[str, ...]) -> str:
    """Said when no candidate fix removed the finding on re-estimate: none is offered rather than one that fails."""
    if fix is not None:
        return ""
    return f"; no fix gradlint can verify removes it (re-estimated: {', '.join(tried) or 'nothing applicable'})"


def uncertainty_note(estimates: Estimates) -> str:
    if not estimates.uncertain:
        return ""
    node, reason = estimates.uncertain[0]
    more = f" and {len(estimates.uncertain) - 1} more" if len(estimates.uncertain) > 1 else ""
    return f" (uncertain: {node} {reason}{more})"


def verdict_evidence(
    found: Verdict,
    layers: list[str],
    after: Verdict,
    extreme: str,
    tried: tuple[str, ...],
    depth: DepthSpan | None = None,
) -> dict[str, Any]:
    """GL101's and GL102's evidence: the predicted ``extreme`` (``max`` or ``min``) and span, the layers
    that drive them, and the same numbers re-estimated with the fix applied (``after_fix``; ``tried`` names
    the candidate fixes re-estimated, the offered one last)."""
    return {
        f"pred_{extreme}_log10_grad_rms": getattr(found, f"{extreme}_value"),
        "pred_span_log10": found.span,
        "first_weight": found.first_weight,
        "last_weight": found.last_weight,
        "layers": layers,
        "depth_span": None
        if depth is None
        else {"role": depth.role, "first": depth.first, "last": depth.last, "span_log10": depth.span},
        "after_fix": {
            "verdict": after.verdict,
            f"{extreme}_log10_grad_rms": getattr(after, f"{extreme}_value"),
            "span_log10": after.span,
            "tried": list(tried),
        },
    }


@dataclass(frozen=True)
class DepthSpan:
    """How a gradient changes along depth between weights of one role: the first and last of them in forward order."""

    role: str
    """The weight name with its block indices as ``*``: ``layers.*.self_attn.q_proj.weight``, ``rnn.weight_hh_l*``."""
    first: str
    last: str
    span: float
    """log10 gradient RMS of ``first`` minus that of ``last``: > 0 grows toward the input, < 0 shrinks."""


def role_of(name: str) -> str:
    """``name`` with the indices that number blocks along depth replaced by ``*``."""
    parts = ["*" if part.isdigit() else _layer_suffix(part) for part in name.split(".")]
    return ".".join(parts)


def _layer_suffix(part: str) -> str:
    head, sep, tail = part.rpartition("_l")
    index = tail.split("_", 1)
    if sep and head and index[0].isdigit():
        return f"{head}_l*" + (f"_{index[1]}" if len(index) > 1 else "")
    return part


def depth_spans(estimates: Estimates) -> list[DepthSpan]:
    """One span per role held by two or more weights: like compared with like along depth, never a query
    projection (small at init in every attention model) with an output head."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for weight in estimates.weights:
        value = weight.log10_grad_rms
        if value is not None and math.isfinite(value):
            groups.setdefault(role_of(weight.name), []).append((weight.name, value))
    return [
        DepthSpan(role, found[0][0], found[-1][0], found[0][1] - found[-1][1])
        for role, found in groups.items()
        if len(found) >= 2
    ]


def steepest(estimates: Estimates, *, exploding: bool) -> DepthSpan | None:
    spans = depth_spans(estimates)
    if not spans:
        return None
    return max(spans, key=lambda s: s.span) if exploding else min(spans, key=lambda s: s.span)


def optimizer_known(estimates: Estimates) -> bool:
    """The user configured the optimizer (``--optimizer`` or ``[tool.gradlint]``), so the training check speaks for it."""
    training = estimates.training
    return training is not None and not training.optimizer.default


def thresholds_of(ctx: RuleContext) -> VerdictThresholds:
    found = getattr(ctx.options, "thresholds", None) if ctx.options is not None else None
    return found if isinstance(found, VerdictThresholds) else VerdictThresholds()


def explodes(estimates: Estimates, t: VerdictThresholds) -> bool:
    """GL101 fires: a non-finite gradient, a span along depth of like weights at or above ``explode_span``, or
    (without a configured optimizer, whose training check judges the scale instead) a weight at ``explode_max``."""
    found = estimates.verdict
    if found.nonfinite:
        return True
    depth = steepest(estimates, exploding=True)
    if depth is not None and depth.span >= t.explode_span:
        return True
    return not optimizer_known(estimates) and found.max_value is not None and found.max_value >= t.explode_max


def vanishes(estimates: Estimates, t: VerdictThresholds) -> bool:
    """GL102 fires (when GL101 does not, as DESIGN §2 checks exploding first): a span along depth of like
    weights at or below ``vanish_span``, or (without a configured optimizer) a weight at ``vanish_min``."""
    if explodes(estimates, t):
        return False
    found = estimates.verdict
    depth = steepest(estimates, exploding=False)
    if depth is not None and depth.span <= t.vanish_span:
        return True
    return not optimizer_known(estimates) and found.min_value is not None and found.min_value <= t.vanish_min


def training_severity(severe: bool, estimates: Estimates, trouble: str) -> Severity:
    """With a configured optimizer: the usual severity when its training check predicts ``trouble``
    (``diverges`` for GL101, ``stalls`` for GL102), a warning for the other trouble, info when it trains.
    Without one: :func:`gain_severity`."""
    if not optimizer_known(estimates):
        return gain_severity(severe, estimates)
    training = estimates.training
    assert training is not None
    if training.verdict == trouble:
        return gain_severity(severe, estimates)
    return Severity.WARNING if training.predicts_trouble else Severity.INFO


def training_note(estimates: Estimates) -> str:
    training = estimates.training
    if not optimizer_known(estimates) or training is None:
        return ""
    return f"; the training check predicts {training.optimizer.name} at lr {training.optimizer.lr:g} {training.verdict}"
