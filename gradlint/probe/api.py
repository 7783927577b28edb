"""``probe()``: the reference protocol on a private copy, guarded, timed, and judged."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from gradlint.errors import GradlintError, UsageError
from gradlint.optimizers import optimizer_config
from gradlint.probe.deadline import Deadline
from gradlint.probe.device import available_memory, resolve_device, seeded_rng
from gradlint.probe.io import CallArgs, call_model, protocol_inputs
from gradlint.probe.memory import (
    activations_by_forward,
    activations_from_graph,
    activations_on_meta,
    check_fits,
    model_bytes,
)
from gradlint.probe.protocol import ProtocolRun, run_protocol
from gradlint.probe.result import MemoryEstimate, ProbeResult, StepsResult
from gradlint.probe.steps import run_steps
from gradlint.trace.copies import SharesUserState, full_copy, guard_user_state, user_state_ids
from gradlint.types import ModelGraph, OptimizerConfig
from gradlint.verdict import VerdictThresholds, verdict

DEFAULT_SEEDS = (1, 2, 3)

_T = TypeVar("_T")
# torch.OutOfMemoryError is the public name from torch 2.5 on; the CUDA alias is older.
_OUT_OF_MEMORY: type[Exception] = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def probe(
    model: nn.Module,
    example_inputs: Any,
    *,
    example_kwargs: Mapping[str, Any] | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    device: str | torch.device = "auto",
    thresholds: VerdictThresholds = VerdictThresholds(),
    steps: int = 0,
    optimizer: OptimizerConfig | str | None = None,
    lr: float | None = None,
    timeout_s: float | None = None,
    memory_limit_bytes: int | None = None,
    graph: ModelGraph | None = None,
    rebuild: Callable[[], nn.Module] | None = None,
) -> ProbeResult:
    """Measure per-weight gradient RMS by the reference protocol (DESIGN §2) and judge it.

    Works on ``copy.deepcopy(model)`` in ``train()`` mode on ``device`` (``auto``: CUDA when
    available); ``example_kwargs`` are ``forward``'s keyword arguments (any nesting, like the positional
    ones). ``model`` and the inputs are left exactly as they were, and so is the
    global RNG state. Each floating input is replaced by N(0, 1) from a CPU generator seeded
    by the seed; dropout draws from the global RNG, seeded the same way inside a fork.
    All floating parameters of the copy take gradients, frozen ones included: the protocol
    measures the architecture, not the fine-tuning setup.

    The private copy is a deep copy whose closures point at the copy (see ``trace.copies``); when that
    fails, or its forward still reads one of the user's parameters or buffers, ``rebuild`` (the class or
    factory that built ``model``, when load knows one) makes a fresh instance that takes a copy of
    ``model``'s state instead. Without ``rebuild`` that is a ``GradlintError``.

    ``steps > 0`` also trains a second private copy for that many steps by the training check's
    protocol (DESIGN §2b) with ``optimizer`` (an ``OptimizerConfig``, or a name with ``lr``: torch's
    defaults for the rest; None: the documented default, AdamW lr 1e-3) and says whether it trains,
    diverges or stalls.
    Before running, the memory needed is estimated (from a meta-device forward, ``graph``'s
    shapes, or a no-grad forward) and compared with what ``device`` has free, or with
    ``memory_limit_bytes``. Raises ``GradlintError`` with one line when it will not fit, on a
    timeout, when CUDA is asked for and absent, or when the model fails on the probe's inputs.
    """
    started = time.perf_counter()
    seeds = _check_args(seeds, steps, timeout_s)
    config = optimizer if isinstance(optimizer, OptimizerConfig) else optimizer_config(optimizer, lr=lr)
    dev = resolve_device(device)
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if example_kwargs:
        args = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
        example_inputs = CallArgs(args, dict(example_kwargs))
    deadline = Deadline(timeout_s)
    source_device = _model_device(model)
    # Memory on the target device, read before anything of ours is put there.
    available, available_source = available_memory(dev, memory_limit_bytes)

    copy_bytes = model_bytes(model)
    if source_device.type == dev.type:
        _check_copy_fits(copy_bytes, dev, available, available_source)
    copies = _Copies(model, rebuild)
    private = copies.make()
    weights_bytes = _weights_bytes(private, steps, config)
    with seeded_rng(torch.device("cpu"), 0):  # keep the user's RNG untouched by the estimate
        activations, source = _static_activations(private, example_inputs, graph)
    estimate = MemoryEstimate(
        weights_bytes + activations, weights_bytes, activations, available, source, available_source
    )
    check_fits(estimate, dev)

    while True:
        deadline.stage = f"moving the model copy to {dev}"
        _guarded(lambda private=private: private.to(dev), dev, deadline)
        if source == "none":
            estimate = _forward_estimate(private, example_inputs, dev, estimate)
            check_fits(estimate, dev)
        deadline.stage = "the reference protocol"
        try:
            run = _guarded(
                lambda private=private: run_protocol(
                    private, example_inputs, seeds, dev, deadline, first_forward=copies.guard
                ),
                dev,
                deadline,
            )
        except SharesUserState as shared:
            private = copies.instead(str(shared))  # raises when there is nothing else to try
            continue
        break
    del private  # the steps copy must not share memory with this one

    steps_result: StepsResult | None = None
    if steps > 0:
        deadline.stage = "copying the model for --probe-steps"
        trainee = _guarded(lambda: copies.make().to(dev), dev, deadline)
        steps_result = _guarded(lambda: run_steps(trainee, example_inputs, steps, config, dev, deadline), dev, deadline)
        del trainee

    return _result(run, seeds, dev, thresholds, steps_result, estimate, time.perf_counter() - started)


def _check_args(seeds: Sequence[int], steps: int, timeout_s: float | None) -> tuple[int, ...]:
    if isinstance(seeds, int):
        seeds = (seeds,)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise UsageError("--probe-seeds: give at least one seed")
    if steps < 0:
        raise UsageError(f"--probe-steps {steps}: must be 0 or more")
    if timeout_s is not None and not timeout_s > 0:
        raise UsageError(f"--probe-timeout {timeout_s}: must be a positive number of seconds")
    return seeds


def _model_device(model: nn.Module) -> torch.device:
    """Where the model's tensors live now (the first one's device; CPU for a model without any)."""
    tensors = list(model.parameters()) + list(model.buffers())
    if any(t.is_meta for t in tensors):
        raise GradlintError(
            "the model's weights are on the meta device (no values); the probe needs a model with real weights"
        )
    return tensors[0].device if tensors else torch.device("cpu")


class _Copies:
    """The probe's private copies of ``model``: deep copies while they are safe, else fresh instances from ``rebuild``."""

    def __init__(self, model: nn.Module, rebuild: Callable[[], nn.Module] | None) -> None:
        self.model = model
        self.rebuild = rebuild
        self.rebuilding = False
        self.problems: list[str] = []

    def make(self) -> nn.Module:
        if not self.rebuilding:
            try:
                return _prepared(full_copy(self.model))
            except Exception as exc:  # noqa: BLE001 - any failure here means the same thing to the user
                self.problems.append(f"copy.deepcopy failed: {type(exc).__name__}: {_first_line(exc)}")
                self.rebuilding = True
        return _prepared(self._rebuilt())

    def instead(self, problem: str) -> nn.Module:
        """Another copy after ``problem`` with the current one; ``GradlintError`` when none is left to try."""
        self.problems.append(problem)
        if self.rebuilding:
            raise self._failure()
        self.rebuilding = True
        return _prepared(self._rebuilt())

    def guard(self) -> contextlib.AbstractContextManager[None]:
        return guard_user_state(self.model)

    def _rebuilt(self) -> nn.Module:
        if self.rebuild is None:
            raise self._failure()
        try:
            with torch.random.fork_rng(devices=[]):
                fresh = self.rebuild()
        except GradlintError as exc:
            self.problems.append(f"rebuilding it failed: {exc}")
            raise self._failure() from exc
        if fresh is self.model or user_state_ids(fresh) & user_state_ids(self.model):
            self.problems.append("rebuilding it returned the same model, not a new one")
            raise self._failure()
        state = {name: t.detach().clone() for name, t in self.model.state_dict().items()}
        try:
            fresh.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as exc:
            self.problems.append(f"the rebuilt model does not match the linted one: {_first_line(exc)}")
            raise self._failure() from exc
        for name, buffer in self.model.named_buffers():
            if name not in state:  # non-persistent buffers are not in the state dict
                owner, _, leaf = name.rpartition(".")
                fresh.get_submodule(owner)._buffers[leaf] = buffer.detach().clone()
        return fresh

    def _failure(self) -> GradlintError:
        how = "" if self.rebuild is not None else "; name a class or factory (PATH:ATTR) so the probe can build its own"
        return GradlintError(
            "the probe needs a private copy of the model and could not make a safe one: "
            + "; ".join(self.problems)
            + how
        )


def private_copy(model: nn.Module, rebuild: Callable[[], nn.Module] | None = None) -> nn.Module:
    """One private copy as the probe makes them (a deep copy, else a rebuild), ready for the protocol."""
    return _Copies(model, rebuild).make()


def _prepared(private: nn.Module) -> nn.Module:
    """``private`` in train mode, its floating parameters all taking gradients and holding none yet."""
    for param in private.parameters():
        param.grad = None
        if param.is_floating_point():
            param.requires_grad_(True)
    return private.train()


def _weights_bytes(model: nn.Module, steps: int, optimizer: OptimizerConfig) -> int:
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    copy_bytes = model_bytes(model)
    protocol = copy_bytes + params  # the copy and the weights' gradients
    if steps <= 0:
        return protocol
    # Adam/AdamW: exp_avg and exp_avg_sq; RMSprop: square_avg (and a momentum buffer); SGD: a momentum buffer
    slots = {"adam": 2, "adamw": 2, "rmsprop": 1 + (optimizer.momentum > 0)}.get(
        optimizer.name, int(optimizer.momentum > 0)
    )
    state = slots * params
    return max(protocol, copy_bytes + params + state)


def _static_activations(model: nn.Module, example_inputs: Any, graph: ModelGraph | None) -> tuple[int, str]:
    try:
        return activations_on_meta(model, example_inputs), "meta"
    except Exception:  # noqa: BLE001 - data-dependent models cannot run on meta; try the next source
        pass
    if graph is not None:
        from_graph = activations_from_graph(graph)
        if from_graph is not None:
            return from_graph, "graph"
    return 0, "none"


def _forward_estimate(
    model: nn.Module, example_inputs: Any, dev: torch.device, estimate: MemoryEstimate
) -> MemoryEstimate:
    def forward() -> Any:
        inputs = protocol_inputs(example_inputs, torch.Generator().manual_seed(0), dev)
        return call_model(model, inputs)

    saved = {name: b.detach().clone() for name, b in model.named_buffers()}
    try:
        with seeded_rng(dev, 0):
            activations = activations_by_forward(forward)
    except Exception:  # noqa: BLE001 - the protocol run will report the model's failure properly
        return estimate
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                if name in saved:
                    b.copy_(saved[name])
    return MemoryEstimate(
        estimate.weights_bytes + activations,
        estimate.weights_bytes,
        activations,
        estimate.available_bytes,
        "forward",
        estimate.available_source,
    )


def _check_copy_fits(copy_bytes: int, dev: torch.device, available: int | None, source: str) -> None:
    check_fits(MemoryEstimate(copy_bytes, copy_bytes, 0, available, "none", source), dev)


def _guarded(fn: Callable[[], _T], dev: torch.device, deadline: Deadline) -> _T:
    """Run a probe phase; the model's own failures become one-line ``GradlintError``s."""
    try:
        return fn()
    except GradlintError:
        raise
    except _OUT_OF_MEMORY as exc:
        raise GradlintError(
            f"out of memory on {dev} during {deadline.stage}: {_first_line(exc)}; "
            "use a smaller --input-shape (batch size first) or --device cpu"
        ) from exc
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AssertionError) as exc:
        raise GradlintError(
            f"the model failed during the probe ({deadline.stage}): {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _result(
    run: ProtocolRun,
    seeds: tuple[int, ...],
    dev: torch.device,
    thresholds: VerdictThresholds,
    steps: StepsResult | None,
    estimate: MemoryEstimate,
    wall_time_s: float,
) -> ProbeResult:
    judged = verdict(((w.name, w.log10_grad_rms, w.nonfinite) for w in run.weights), thresholds)
    forward_site = next((s for s in run.nonfinite_sites if s.phase == "forward"), None)
    return ProbeResult(
        weights=run.weights,
        verdict=judged.verdict,
        verdict_reason=judged.reason,
        verdict_details=judged,
        thresholds=thresholds,
        device=str(dev),
        seeds=seeds,
        output=run.output,
        output_shape=run.output_shape,
        activations=run.activations,
        first_nonfinite=forward_site or (run.nonfinite_sites[0] if run.nonfinite_sites else None),
        nonfinite_sites=run.nonfinite_sites,
        steps=steps,
        memory=estimate,
        wall_time_s=wall_time_s,
    )
