"""The reference protocol of DESIGN §2 on a private copy, seed by seed, and the medians over seeds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradlint.probe.activations import ActivationRecorder, ActivationSample
from gradlint.probe.deadline import Deadline
from gradlint.probe.device import seeded_rng
from gradlint.probe.io import call_model, output_tensor, protocol_inputs
from gradlint.probe.nonfinite import NonFiniteWatcher
from gradlint.probe.result import NonFiniteSite, ProbedActivation, ProbedWeight
from gradlint.probe.weights import ForwardOrder, WeightRef, forward_sorted, grad_log10_rms, protocol_weights


@dataclass(frozen=True)
class ProtocolRun:
    """What the seeds measured, aggregated."""

    weights: tuple[ProbedWeight, ...]
    activations: tuple[ProbedActivation, ...]
    nonfinite_sites: tuple[NonFiniteSite, ...]
    output: str
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class _SeedRun:
    grads: dict[str, tuple[float, bool]]
    """Weight name -> (log10 gradient RMS, -inf when exactly zero; non-finite)."""
    activations: dict[str, ActivationSample]
    sites: tuple[NonFiniteSite, ...]
    output: str
    output_shape: tuple[int, ...]


def run_protocol(
    model: nn.Module,
    example_inputs: Any,
    seeds: Sequence[int],
    device: torch.device,
    deadline: Deadline,
    first_forward: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> ProtocolRun:
    """Measure ``model`` (already the private copy, on ``device``, in train mode) for every seed.

    The first seed's forward runs inside ``first_forward()`` (the probe's check that the copy does
    not reach the user's model: it raises before anything is written).
    """
    refs = protocol_weights(model)
    order = ForwardOrder()
    recorder = ActivationRecorder()
    watcher = NonFiniteWatcher(model)
    handles: list[RemovableHandle] = []
    handles += deadline.attach(model)
    handles += order.attach(model)
    handles += recorder.attach(model)
    handles += watcher.attach(model, refs)
    # Train-mode forwards update BatchNorm running stats (and e.g. spectral-norm vectors);
    # every seed starts from the model as built.
    initial_buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    runs: list[_SeedRun] = []
    try:
        for i, seed in enumerate(seeds):
            _restore_buffers(model, initial_buffers)
            recorder.reset()
            watcher.reset(seed)
            order.start()
            deadline.stage = f"seed {seed} ({i + 1} of {len(seeds)})"
            with first_forward() if i == 0 else nullcontext():
                run = _run_seed(model, example_inputs, seed, device, refs, deadline, recorder, watcher)
            runs.append(run)
            order.finish()
            deadline.done.append(f"seed {seed}")
    finally:
        for handle in handles:
            handle.remove()
        _restore_buffers(model, initial_buffers)
    return _aggregate(refs, order, runs)


def _run_seed(
    model: nn.Module,
    example_inputs: Any,
    seed: int,
    device: torch.device,
    refs: list[WeightRef],
    deadline: Deadline,
    recorder: ActivationRecorder,
    watcher: NonFiniteWatcher,
) -> _SeedRun:
    generator = torch.Generator().manual_seed(seed)
    inputs = protocol_inputs(example_inputs, generator, device)
    with seeded_rng(device, seed), torch.enable_grad():
        output = call_model(model, inputs)
        y, where = output_tensor(output)
        watcher.check_output(y, where)
        # Half-precision outputs are promoted so that the loss itself cannot overflow.
        y_loss = y if y.dtype in (torch.float32, torch.float64) else y.float()
        v = torch.randn(tuple(y.shape), generator=generator, dtype=y_loss.dtype).to(device)
        batch = y.shape[0] if y.dim() > 0 else 1  # a scalar output has no batch dimension
        loss = (y_loss * v).sum() / batch
        deadline.stage += ", backward pass"
        deadline.check()
        if loss.requires_grad and refs:
            grads: Sequence[torch.Tensor | None] = torch.autograd.grad(
                loss, [r.parameter for r in refs], allow_unused=True
            )
        else:
            grads = [None] * len(refs)
    measured = {ref.name: grad_log10_rms(g, ref.parameter.numel()) for ref, g in zip(refs, grads)}
    sites = tuple(s for s in (watcher.forward, watcher.backward) if s is not None)
    return _SeedRun(measured, dict(recorder.samples), sites, where, tuple(y.shape))


def _restore_buffers(model: nn.Module, saved: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name in saved:
                buffer.copy_(saved[name])


def _aggregate(refs: list[WeightRef], order: ForwardOrder, runs: list[_SeedRun]) -> ProtocolRun:
    weights = []
    for ref, index in forward_sorted(refs, order):
        values = [run.grads[ref.name][0] for run in runs]
        nonfinite = any(run.grads[ref.name][1] for run in runs) or any(math.isnan(v) or v == math.inf for v in values)
        median = math.nan if nonfinite else statistics.median(values)
        blocked = not nonfinite and median == -math.inf
        weights.append(
            ProbedWeight(
                name=ref.name,
                module=ref.module,
                module_type=ref.module_type,
                shape=tuple(ref.parameter.shape),
                forward_index=index,
                log10_grad_rms=None if blocked else median,
                per_seed=tuple(None if v == -math.inf else v for v in values),
                blocked=blocked,
                nonfinite=nonfinite,
            )
        )
    sites = next((run.sites for run in runs if run.sites), ())
    return ProtocolRun(
        weights=tuple(weights),
        activations=_aggregate_activations(order, runs),
        nonfinite_sites=sites,
        output=runs[0].output if runs else "output",
        output_shape=runs[0].output_shape if runs else (),
    )


def _aggregate_activations(order: ForwardOrder, runs: list[_SeedRun]) -> tuple[ProbedActivation, ...]:
    # A data-dependent forward may run different modules per seed: take the union,
    # each module's median over the seeds that ran it.
    paths = sorted({p for run in runs for p in run.activations}, key=lambda p: order.first_call.get(p, -1))
    out = []
    for path in paths:
        samples = [run.activations[path] for run in runs if path in run.activations]
        nonfinite = any(s.nonfinite for s in samples)
        rms = math.nan if nonfinite else statistics.median(s.log10_rms for s in samples)
        dead = [s.dead_fraction for s in samples if s.dead_fraction is not None]
        out.append(
            ProbedActivation(
                module=path,
                module_type=samples[0].module_type,
                forward_index=order.first_call.get(path, -1),
                log10_rms=None if rms == -math.inf else rms,
                dead_fraction=statistics.median(dead) if dead else None,
                nonfinite=nonfinite,
                shape=samples[0].shape,
            )
        )
    return tuple(out)
