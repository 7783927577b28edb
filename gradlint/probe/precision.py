"""``--probe --precision``: run the reference protocol in the dtype and judge the GL8xx findings.

Cast modes run a private copy cast to the dtype on inputs cast to it; mixed modes run a float32 copy
under ``torch.autocast`` (CPU or CUDA, wherever the probe runs). One seed: overflow and underflow are
decided by magnitudes that vary far less between seeds than the margins the findings state. A float32
run of the same seed says which gradient elements are not zero to begin with, so a zero counts as
flushed only where float32 has a value.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from gradlint.estimate.precision import DEFAULT_LOSS_SCALE
from gradlint.estimate.precision.formats import torch_dtype
from gradlint.probe.api import private_copy
from gradlint.probe.device import resolve_device, seeded_rng
from gradlint.probe.io import call_model, output_tensor, protocol_inputs
from gradlint.probe.weights import protocol_weights
from gradlint.trace.shapes import map_tensors
from gradlint.types import Finding, PrecisionCheck, PrecisionMeasurement, PrecisionMode, frozen_mapping

#: A gradient-underflow finding is confirmed when at least this share of the flagged gradients is zero or subnormal.
UNDERFLOW_CONFIRM_SHARE = 0.5


def probe_precision(
    model: nn.Module,
    example_inputs: Any,
    mode: PrecisionMode,
    predicted: PrecisionCheck | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 1,
    rebuild: Callable[[], nn.Module] | None = None,
) -> PrecisionMeasurement:
    """Measure ``model`` (never modified) in ``mode``'s dtype by the reference protocol; ``rebuild`` makes a
    fresh instance where the model cannot be deep-copied safely (as for ``probe``)."""
    dev = resolve_device(device)
    low = torch_dtype(mode.low)
    reference = _run(private_copy(model, rebuild).to(dev), example_inputs, dev, seed, None, None)
    private = private_copy(model, rebuild).to(dev)
    if not mode.autocast:
        private = private.to(low)
    try:
        measured = _run(private, example_inputs, dev, seed, low, mode)
    except RuntimeError as exc:  # e.g. a float32 tensor made in forward meeting half weights: what .half() does too
        return _failed(mode, dev, seed, f"the model does not run in {mode.name} on {dev}: {str(exc).splitlines()[0]}")
    module_max, grads, scaled_finite, finite = measured
    zero, subnormal = {}, {}
    for name, grad in grads.items():
        base = reference[1].get(name)
        if grad is None or base is None:
            continue
        nonzero = base != 0
        count = int(nonzero.sum())
        zero[name] = float(((grad == 0) & nonzero).sum()) / count if count else 0.0
        small = (grad.abs() < mode.low.min_normal) & nonzero  # a dead unit's row is zero in float32 too
        subnormal[name] = float(small.sum()) / count if count else 0.0
    stored, zero_share, bits = _constants(model, predicted, mode, dev)
    return PrecisionMeasurement(
        mode=mode.name,
        device=str(dev),
        seed=seed,
        output_finite=finite,
        module_max=frozen_mapping(module_max),
        grad_zero_share=frozen_mapping(zero),
        grad_subnormal_share=frozen_mapping(subnormal),
        grads_finite_at_default_scale=scaled_finite,
        constants_stored=frozen_mapping(stored),
        constants_zero_share=frozen_mapping(zero_share),
        constants_bits=frozen_mapping(bits),
    )


def _failed(mode: PrecisionMode, dev: torch.device, seed: int, error: str) -> PrecisionMeasurement:
    empty = frozen_mapping()
    return PrecisionMeasurement(mode.name, str(dev), seed, None, empty, empty, empty, None, empty, empty, empty, error)


def _run(
    model: nn.Module,
    example_inputs: Any,
    dev: torch.device,
    seed: int,
    low: torch.dtype | None,
    mode: PrecisionMode | None,
) -> tuple[dict[str, float], dict[str, torch.Tensor | None], bool | None, bool]:
    """(module -> largest |output|, weight -> gradient, finite at GradScaler's default scale, loss finite)."""
    refs = protocol_weights(model)
    largest: dict[str, float] = {}
    handles = [m.register_forward_hook(_max_hook(path, largest)) for path, m in model.named_modules() if path]
    generator = torch.Generator().manual_seed(seed)
    inputs = protocol_inputs(example_inputs, generator, dev)
    if low is not None and mode is not None and not mode.autocast:
        inputs = map_tensors(inputs, lambda t: t.to(low) if t.is_floating_point() else t)
    try:
        with seeded_rng(dev, seed), _autocast(dev, low, mode):
            y, _ = output_tensor(call_model(model, inputs))
        v = torch.randn(y.shape, generator=generator).to(dev)
        loss = (y.float() * v).sum() / y.shape[0]
        finite = bool(torch.isfinite(loss))
        loss.backward(retain_graph=low is not None)
        grads = {r.name: None if r.parameter.grad is None else r.parameter.grad.detach().clone() for r in refs}
        scaled_finite = None
        if low is not None:
            model.zero_grad(set_to_none=True)
            (loss * DEFAULT_LOSS_SCALE).backward()
            scaled_finite = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in model.parameters())
    finally:
        for handle in handles:
            handle.remove()
    return largest, grads, scaled_finite, finite


def _max_hook(path: str, largest: dict[str, float]) -> Any:
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        tensor = output if isinstance(output, torch.Tensor) else next(iter(_tensors(output)), None)
        if tensor is None or not tensor.is_floating_point() or tensor.numel() == 0:
            return
        with torch.no_grad():
            value = float(tensor.detach().abs().float().max())
        largest[path] = max(largest.get(path, 0.0), value if math.isfinite(value) else math.inf)

    return hook


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


def _autocast(dev: torch.device, low: torch.dtype | None, mode: PrecisionMode | None) -> Any:
    if low is None or mode is None or not mode.autocast:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=low)


def _constants(
    model: nn.Module, predicted: PrecisionCheck | None, mode: PrecisionMode, dev: torch.device
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Each predicted vanishing constant after the dtype's arithmetic: an eps added to a zero of the dtype,
    a parameter cast to it (its RMS, and the share of its nonzero elements that became zero), and the
    mantissa bits it keeps there."""
    stored: dict[str, float] = {}
    zero_share: dict[str, float] = {}
    bits: dict[str, float] = {}
    if predicted is None:
        return stored, zero_share, bits
    low = torch_dtype(mode.low)
    params = dict(model.named_parameters())
    for constant in predicted.constants:
        if constant.what == "eps":
            value = float(torch.zeros((), dtype=low, device=dev) + constant.value)
            stored[constant.name], zero_share[constant.name] = value, float(value == 0.0)
        elif constant.name in params:
            with torch.no_grad():
                original = params[constant.name].detach().to(dev)
                cast = original.to(low)
                nonzero = original != 0
                stored[constant.name] = float(cast.float().pow(2).mean().sqrt())
                count = int(nonzero.sum())
                zero_share[constant.name] = float(((cast == 0) & nonzero).sum()) / count if count else 0.0
        if constant.name in stored:
            bits[constant.name] = _bits_kept(stored[constant.name], low, dev)
    return stored, zero_share, bits


def _bits_kept(value: float, low: torch.dtype, dev: torch.device) -> float:
    """Mantissa bits of ``value`` in ``low``: -log2 of the spacing to the next value, relative to it."""
    if value == 0.0 or not math.isfinite(value):
        return 0.0
    here = torch.tensor(value, dtype=low, device=dev)
    step = float(torch.nextafter(here, torch.tensor(math.inf, dtype=low, device=dev)) - here)
    return max(0.0, -math.log2(step / float(here)))


def confirm_precision(
    findings: Sequence[Finding], measured: PrecisionMeasurement, mode: PrecisionMode
) -> tuple[Finding, ...]:
    """Set ``confirmed`` on the ``precision`` findings from the run in the dtype, with the measured numbers."""
    return tuple(_confirm(f, measured, mode) if f.kind == "precision" else f for f in findings)


def _confirm(finding: Finding, measured: PrecisionMeasurement, mode: PrecisionMode) -> Finding:
    evidence = dict(finding.evidence)
    confirmed: bool | None = None
    if measured.error is not None:
        evidence["probe_error"] = measured.error  # not judged: nothing was measured
    elif finding.code == "GL801":
        seen = measured.module_max.get(finding.module or "")
        overflowed = [m for m, v in measured.module_max.items() if not v <= mode.low.max]
        evidence["probe_max"] = seen
        evidence["probe_overflowing_modules"] = overflowed[:10]
        evidence["probe_first_overflow"] = overflowed[0] if overflowed else None
        evidence["probe_output_finite"] = measured.output_finite
        confirmed = bool(overflowed) or not measured.output_finite
    elif finding.code == "GL802":
        names = list(evidence.get("weights", ()))
        shares = [measured.grad_subnormal_share[n] for n in names if n in measured.grad_subnormal_share]
        zeros = [measured.grad_zero_share[n] for n in names if n in measured.grad_zero_share]
        if shares:
            evidence["probe_subnormal_share"] = round(sum(shares) / len(shares), 4)
            evidence["probe_zero_share"] = round(sum(zeros) / len(zeros), 4) if zeros else None
            confirmed = sum(shares) / len(shares) >= UNDERFLOW_CONFIRM_SHARE
    elif finding.code in ("GL803", "GL804"):
        name = evidence.get("constant")
        if name in measured.constants_stored:
            kept = measured.constants_bits.get(name, 0.0)
            evidence["probe_stored"] = measured.constants_stored[name]
            evidence["probe_zero_share"] = measured.constants_zero_share.get(name)
            evidence["probe_bits_left"] = round(kept, 2)
            confirmed = kept < mode.low.mantissa_bits / 2 or measured.constants_zero_share.get(name, 0.0) > 0.5
    return replace(finding, confirmed=confirmed, evidence=frozen_mapping(evidence))
