"""The static training check: will this optimizer train the model, blow it up, or stall it? (DESIGN §2b)

From each weight's predicted gradient RMS (the reference estimate, rescaled from the protocol's loss
``Σ y·v / B`` to the training protocol's MSE against N(0, 1) targets) and the weight's own RMS, the
per-step update-to-weight ratio over the first steps:

- SGD: ``lr·g / (1 - momentum)`` (momentum's effective step once its buffer fills);
- Adam/AdamW: about ``lr`` per element (``m/√v`` is ±1 while the gradient keeps its sign), except
  where ``g`` is small against ``eps``: ``lr·g / (g + eps)``;
- RMSprop (torch's alpha 0.99, no bias correction): its first steps divide by ``√(1-alpha)·g``,
  ``lr·g / (0.1·g + eps) / (1 - momentum)``;
- weight decay adds ``lr·wd`` (AdamW, decoupled) or ``wd·w`` to the gradient (the others);
- ``clip_grad_norm_`` scales every gradient by ``max_norm / ‖g‖`` when the predicted global norm
  exceeds it.

The verdict is judged on two numbers of the ratios. Their **sum** over the weights is the predicted
relative change of the model's function in one step (layers in series compound their changes); above
``DIVERGE_STEP[family]`` (SGD, or the adaptive optimizers, whose steps do not shrink as the loss
does) it **diverges**. When the **median** weight's updates move it by less than ``STALL_MOVE`` of
its RMS over the protocol's steps (most of the model stays where it started) it **stalls**; else it
**trains**. The thresholds were fitted against ``--probe-steps`` on the calibration corpus by
``benchmarks/training.py``, which the README's "Training check" reports with the agreement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from gradlint.types import Estimates, ModelGraph, OptimizerConfig, TrainingCheck, WeightUpdate

DIVERGE_STEP = {"sgd": 0.42, "adaptive": 17.8}
"""The sum over weights of the per-step update/weight above which the protocol's loss is predicted to blow
up, per family (fitted by ``benchmarks/training.py``: 150 runs of 30 models, README "Training check")."""
STALL_MOVE = 0.1
"""Steps × the median weight's per-step update/weight below which the loss is predicted to stall (fitted)."""
RMSPROP_ALPHA = 0.99
"""torch.optim.RMSprop's default smoothing constant."""
CLIP_MARGIN = 0.5
"""A recommended clip keeps SGD's predicted step at this share of its divergence threshold."""
_LR_RANGE = (1e-7, 1e3)


def check_training(graph: ModelGraph, estimates: Estimates, optimizer: OptimizerConfig, steps: int) -> TrainingCheck:
    """Predict the training protocol's verdict for ``optimizer`` over ``steps`` steps (pure: reads the graph
    statistics and the estimate only)."""
    grads, uncertain = _mse_gradients(graph, estimates)
    weight_rms = {
        w.name: math.sqrt(max(graph.params[w.name].mean_sq, 0.0)) for w in graph.weights if w.name in graph.params
    }
    numels = {w.name: math.prod(w.shape) for w in graph.weights}
    norm = math.sqrt(sum(numels[name] * g * g for name, g in grads.items() if g is not None))
    updates = _updates(grads, weight_rms, norm, optimizer)
    top = _largest(updates)
    verdict, reason = _judge(updates, steps, optimizer)
    max_lr = _max_lr(
        lambda lr: _judge(_updates(grads, weight_rms, norm, replace(optimizer, lr=lr)), steps, optimizer)[0]
    )
    missing = [w.name for w in graph.weights if w.name not in weight_rms]
    if missing:
        uncertain = "; ".join(filter(None, (uncertain, f"no statistics for {len(missing)} weight(s)")))
    return TrainingCheck(
        optimizer=optimizer,
        steps=steps,
        verdict=verdict,
        reason=reason,
        max_update_ratio=top,
        step_change=step_change(updates),
        median_update_ratio=_median(updates),
        global_grad_norm=norm,
        max_lr=max_lr,
        recommended_clip_grad_norm=_recommended_clip(grads, weight_rms, norm, optimizer),
        weights=updates,
        uncertain=uncertain,
    )


def training_trouble(estimates: Estimates | None) -> str | None:
    """``diverges`` or ``stalls`` when the model's training check predicts it, else None (no check, or it trains).

    What the gradient-scale rules consult to decide whether a finding is an error for the optimizer in use."""
    check = getattr(estimates, "training", None)
    return check.verdict if check is not None and check.predicts_trouble else None


def _mse_gradients(graph: ModelGraph, estimates: Estimates) -> tuple[dict[str, float | None], str | None]:
    """Predicted gradient RMS of every weight under the MSE loss, and why it may be off.

    The reference loss has ∂L/∂y = v/B (RMS 1/B); MSE against N(0, 1) targets t has 2(y - t)/n (RMS
    2·√(E[y²] + 1)/n, n = numel(y)). Both are independent across positions, so every weight's gradient
    scales by the same factor 2·B·√(E[y²] + 1)/n."""
    factor, note = _loss_factor(graph, estimates)
    grads: dict[str, float | None] = {}
    for weight in estimates.weights:
        grads[weight.name] = None if weight.log10_grad_rms is None else factor * 10.0**weight.log10_grad_rms
    notes = [note] if note else []
    if estimates.uncertain:
        notes.append(f"{len(estimates.uncertain)} op(s) without an estimate rule")
    return grads, "; ".join(notes) or None


def _loss_factor(graph: ModelGraph, estimates: Estimates) -> tuple[float, str | None]:
    output = next((n for n in reversed(graph.nodes) if n.op == "output"), None)
    nodes = {n.name: n for n in estimates.nodes}
    for name in output.inputs if output is not None else ():
        node_estimate = nodes.get(name)
        shape = graph.node(name).shape if node_estimate is not None else None
        if node_estimate is None or node_estimate.gradient_rms is None or not shape:
            continue
        second_moment = node_estimate.forward_rms**2 if math.isfinite(node_estimate.forward_rms) else 1.0
        return 2.0 * shape[0] * math.sqrt(second_moment + 1.0) / max(math.prod(shape), 1), None
    return 1.0, "the model's output was not found in the estimate (the loss scale is the reference one)"


def _updates(
    grads: dict[str, float | None], weight_rms: dict[str, float], norm: float, optimizer: OptimizerConfig
) -> tuple[WeightUpdate, ...]:
    clip = optimizer.clip_grad_norm
    scale = clip / norm if clip is not None and norm > clip else 1.0
    updates = []
    for name, grad in grads.items():
        w = weight_rms.get(name, 0.0)
        g = 0.0 if grad is None else grad * scale
        ratio, below_eps = _step(g, w, optimizer)
        updates.append(WeightUpdate(name, grad, w, ratio, below_eps and grad is not None))
    return tuple(updates)


def _step(g: float, w: float, opt: OptimizerConfig) -> tuple[float | None, bool]:
    """(RMS of one step's update over the weight's RMS, whether eps dominates the step)."""
    if w <= 0.0:
        return None, False
    lr, wd, eps = opt.lr, opt.weight_decay, opt.eps or 0.0
    coupled = math.hypot(g, wd * w) if opt.name != "adamw" else g
    if opt.name == "sgd":
        return lr * coupled / (1.0 - opt.momentum) / w, False
    if opt.name == "rmsprop":
        denominator = math.sqrt(1.0 - RMSPROP_ALPHA) * coupled + eps
        step = lr * coupled / denominator if denominator > 0 else 0.0
        return step / (1.0 - opt.momentum) / w, coupled < eps
    step = lr * coupled / (coupled + eps) if coupled + eps > 0 else 0.0
    if opt.name == "adamw":
        step = math.hypot(step, lr * wd * w)
    return step / w, coupled < eps


def _largest(updates: tuple[WeightUpdate, ...]) -> float:
    return max((u.update_ratio for u in updates if u.update_ratio is not None), default=0.0)


def _median(updates: tuple[WeightUpdate, ...]) -> float:
    ratios = sorted(u.update_ratio for u in updates if u.update_ratio is not None)
    if not ratios:
        return 0.0
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else 0.5 * (ratios[middle - 1] + ratios[middle])


def family(optimizer: OptimizerConfig) -> str:
    """``sgd``, or ``adaptive`` for Adam, AdamW and RMSprop: the two have their own divergence threshold."""
    return "sgd" if optimizer.name == "sgd" else "adaptive"


def step_change(updates: tuple[WeightUpdate, ...]) -> float:
    """The sum of the per-step update ratios: the predicted relative change of the model in one step."""
    return sum(u.update_ratio for u in updates if u.update_ratio is not None)


def judge(change: float, median: float, steps: int, family_: str) -> str:
    """The verdict from the two numbers (what ``benchmarks/training.py`` fits the thresholds of)."""
    if change > DIVERGE_STEP[family_]:
        return "diverges"
    if steps * median < STALL_MOVE:
        return "stalls"
    return "trains"


def _judge(updates: tuple[WeightUpdate, ...], steps: int, optimizer: OptimizerConfig) -> tuple[str, str]:
    change, median, kind = step_change(updates), _median(updates), family(optimizer)
    verdict = judge(change, median, steps, kind)
    at = f"at lr {optimizer.lr:g}"
    if verdict == "diverges":
        return verdict, (
            f"one step is predicted to change the weights by {change:.3g} of their RMS summed over the "
            f"{len(updates)} weights (above {DIVERGE_STEP[kind]:g} for {optimizer.name}) {at}"
        )
    if verdict == "stalls":
        return verdict, (
            f"the median weight's predicted updates move it by {steps * median:.3g} of its RMS over {steps} steps "
            f"(below {STALL_MOVE:g}) {at}"
        )
    return verdict, (
        f"one step changes the weights by {change:.3g} of their RMS summed over the {len(updates)} weights "
        f"(diverges above {DIVERGE_STEP[kind]:g}); the median weight moves {steps * median:.3g} of its RMS over "
        f"{steps} steps (stalls below {STALL_MOVE:g}) {at}"
    )


def _max_lr(verdict_at: Callable[[float], str]) -> float | None:
    """The largest lr in ``_LR_RANGE`` predicted to train, by bisection on log10 lr (the predicted
    update grows with lr, so the verdict goes stalls → trains → diverges along it)."""
    low, high = math.log10(_LR_RANGE[0]), math.log10(_LR_RANGE[1])
    if verdict_at(10.0**high) == "trains":
        return 10.0**high
    # the largest lr that does not diverge, then check it trains rather than stalls
    if verdict_at(10.0**low) == "diverges":
        return None
    for _ in range(40):
        middle = 0.5 * (low + high)
        if verdict_at(10.0**middle) == "diverges":
            high = middle
        else:
            low = middle
    best = 10.0**low
    return float(f"{best:.3g}") if verdict_at(best) == "trains" else None


def _recommended_clip(
    grads: dict[str, float | None], weight_rms: dict[str, float], norm: float, optimizer: OptimizerConfig
) -> float | None:
    """The predicted global gradient norm at init, rounded up to two significant digits: a clip that leaves the
    first steps as they are and cuts a gradient that grows past them. For SGD, whose step scales with the
    gradient, when the unclipped step change exceeds ``CLIP_MARGIN`` of its divergence threshold it is
    lowered in proportion until the predicted step sits there. Adam/AdamW/RMSprop steps hardly scale with
    the gradient, so there it only guards against spikes."""
    if not norm > 0 or not math.isfinite(norm):
        return None
    clip = norm
    if optimizer.name == "sgd":
        change = step_change(_updates(grads, weight_rms, norm, replace(optimizer, clip_grad_norm=None)))
        target = CLIP_MARGIN * DIVERGE_STEP["sgd"]
        if change > target:
            clip = norm * target / change
    exponent = math.floor(math.log10(clip)) - 1
    return float(f"{math.ceil(clip / 10.0**exponent) * 10.0**exponent:.2g}")
