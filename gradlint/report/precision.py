"""The precision check in the reports: ``models[i].precision`` of the JSON and the text's precision line."""

from __future__ import annotations

import math
from typing import Any

from gradlint.report.paths import display_path
from gradlint.types import ModelReport, PrecisionCheck, PrecisionMeasurement, SourceLocation


def _num(value: float | None) -> float | str | None:
    """A figure to 4 significant digits; non-finite ones as ``"inf"`` / ``"nan"`` strings, as elsewhere."""
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.4g}")


def _where(location: SourceLocation | None) -> dict[str, Any] | None:
    return None if location is None else {"path": display_path(location.path), "line": location.line}


def precision_dict(model: ModelReport) -> dict[str, Any]:
    """``{"precision": {...}}`` under ``--precision``, else ``{}`` (docs/json-report.md)."""
    found = model.estimates.precision if model.estimates is not None else None
    if found is None:
        return {}
    measured = model.precision_probe
    fmt = found.mode.low
    modules = measured.module_max if measured is not None else {}
    return {
        "precision": {
            "mode": found.mode.name,
            "dtype": fmt.name,
            "autocast": found.mode.autocast,
            "format": {
                "max": fmt.max,
                "min_normal": fmt.min_normal,
                "min_subnormal": fmt.min_subnormal,
                "eps": fmt.eps,
                "mantissa_bits": fmt.mantissa_bits,
            },
            "low_nodes": found.low_nodes,
            "checked_nodes": found.checked_nodes,
            "uncertain_nodes": found.uncertain_nodes,
            "overflows": [
                {
                    "node": o.node,
                    "module": o.module,
                    "location": _where(o.location),
                    "predicted_rms": _num(o.rms),
                    "predicted_max": _num(o.predicted_max),
                    "tail": o.tail,
                    "elements": o.elements,
                    "bits_over": _num(o.bits_over),
                    "measured_max": _num(modules.get(o.module)) if o.module in modules else None,
                }
                for o in found.overflows
            ],
            "underflows": [
                {
                    "weight": u.weight,
                    "module": u.module,
                    "log10_grad_rms": round(u.log10_grad_rms, 4),
                    "below": u.below,
                    "flush_share": _num(u.flush_share),
                    "subnormal_share": _num(u.subnormal_share),
                    "measured_zero_share": _num(measured.grad_zero_share.get(u.weight)) if measured else None,
                    "measured_subnormal_share": _num(measured.grad_subnormal_share.get(u.weight)) if measured else None,
                }
                for u in found.underflows
            ],
            "loss_scale": {
                "init_scale": found.loss_scale.init_scale,
                "default_scale": found.loss_scale.default_scale,
                "largest_gradient": _num(found.loss_scale.largest_gradient),
                "overflows_at_default": found.loss_scale.overflows_at_default,
                "overflows_at_init_scale": found.loss_scale.overflows_at_init_scale,
                "measured_finite_at_default": measured.grads_finite_at_default_scale if measured else None,
            },
            "constants": [
                {
                    "what": c.what,
                    "name": c.name,
                    "module": c.module,
                    "location": _where(c.location),
                    "value": _num(c.value),
                    "stored": _num(c.stored),
                    "bits_left": _num(c.bits_left),
                    "zero_share": _num(c.zero_share),
                    "measured_stored": _num(measured.constants_stored.get(c.name)) if measured else None,
                    "measured_bits_left": _num(measured.constants_bits.get(c.name)) if measured else None,
                }
                for c in found.constants
            ],
            "measured": _measured(measured, fmt.max) if measured is not None else None,
        }
    }


def _measured(measured: PrecisionMeasurement, limit: float) -> dict[str, Any]:
    return {
        "device": measured.device,
        "seed": measured.seed,
        "output_finite": measured.output_finite,
        "overflowing_modules": [m for m, v in measured.module_max.items() if not v <= limit],
        "largest_activation": _num(max(measured.module_max.values(), default=0.0)),
        "grads_finite_at_default_scale": measured.grads_finite_at_default_scale,
        "error": measured.error,
    }


def precision_lines(model: ModelReport) -> tuple[str, ...]:
    """One line of the check (and one of the measurement under ``--probe``); () without ``--precision``."""
    found: PrecisionCheck | None = model.estimates.precision if model.estimates is not None else None
    if found is None:
        return ()
    fmt = found.mode.low
    how = "autocast" if found.mode.autocast else "cast"
    parts = [f"{len(found.overflows)} overflowing node(s)"]
    if found.overflows:
        first = found.overflows[0]
        parts[0] += f" (first {first.module or first.node}, {first.bits_over:.1f} bits past {fmt.max:.6g})"
    parts.append(f"{len(found.underflows)} weight(s) with gradients below {fmt.min_normal:.2g}")
    if found.loss_scale.init_scale is not None:
        parts.append(f"loss scale 2^{round(math.log2(found.loss_scale.init_scale))} lifts them")
    if fmt.name == "float16" and found.loss_scale.overflows_at_default:
        parts.append(f"GradScaler's default {found.loss_scale.default_scale:.0f} overflows at first (it backs off)")
    parts.append(f"{len(found.constants)} vanishing constant(s)")
    lines = [
        f"precision {found.mode.name} ({fmt.name}, {how}; {found.low_nodes} of {found.checked_nodes} nodes low): "
        + "; ".join(parts)
    ]
    measured = model.precision_probe
    if measured is not None and measured.error is not None:
        lines.append(f"precision probe ({measured.device}): {measured.error}")
    elif measured is not None:
        over = [m for m, v in measured.module_max.items() if not v <= fmt.max]
        largest = max(measured.module_max.values(), default=0.0)
        lines.append(
            f"precision probe ({measured.device}, seed {measured.seed}): output {'finite' if measured.output_finite else 'NOT finite'}; "
            f"{len(over)} overflowing module(s)"
            + (f" (first {over[0]})" if over else f", largest |activation| {largest:.3g}")
        )
    return tuple(lines)
