"""The weights of the reference protocol, in forward order, and the finiteness of every tensor."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from gradlint.trace.init_scheme import classify_init
from gradlint.trace.shapes import all_finite
from gradlint.types import InitCall, LayerNode, ParamStats, TensorHealth, WeightInfo


def module_first_calls(nodes: Sequence[LayerNode]) -> dict[str, int]:
    """Module path -> index of the first node that ran inside it (its first call, as a forward pre-hook would see it)."""
    first: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if node.module is None:
            continue
        path = node.module
        while True:
            first.setdefault(path, index)
            if not path:
                break
            path = path.rpartition(".")[0]
    return first


def forward_order_key(module_path: str, first_calls: Mapping[str, int]) -> tuple[float, int]:
    """Sort key: the first call of the module, or of its nearest ancestor below the root that ran
    (``MultiheadAttention.out_proj`` is used without being called); ancestors sort before their children;
    modules that never ran sort last."""
    path = module_path
    while path and path not in first_calls:
        path = path.rpartition(".")[0]
    # The model itself always runs: a module whose only running ancestor is the root sat in a branch that did not run.
    position = first_calls.get(path) if path or not module_path else None
    depth = module_path.count(".") + 1 if module_path else 0
    return (float("inf") if position is None else float(position), depth)


def is_protocol_weight(parameter: torch.Tensor, owner: nn.Module) -> bool:
    return parameter.dim() >= 2 and not isinstance(owner, nn.Embedding)


def collect_weights(
    model: nn.Module,
    nodes: Sequence[LayerNode],
    init_records: Mapping[str, tuple[InitCall, ...]],
    params: Mapping[str, ParamStats] | None = None,
) -> tuple[WeightInfo, ...]:
    modules = dict(model.named_modules())
    first_calls = module_first_calls(nodes)
    entries = []
    for order, (name, parameter) in enumerate(model.named_parameters()):
        owner_path = name.rpartition(".")[0]
        owner = modules[owner_path]
        if not is_protocol_weight(parameter, owner):
            continue
        entries.append((forward_order_key(owner_path, first_calls), order, name, parameter, owner_path, owner))
    entries.sort(key=lambda e: (e[0], e[1]))
    weights = []
    for rank, (_key, _order, name, parameter, owner_path, owner) in enumerate(entries):
        stats = (params or {}).get(name)
        std, mean = _moments(parameter, stats)
        if parameter.device.type == "meta" and stats is not None and math.isfinite(stats.mean_sq):
            # no values on the meta device: the statistics implied by the recorded init calls
            mean, std = stats.mean, math.sqrt(max(stats.mean_sq - stats.mean**2, 0.0))
        weights.append(
            WeightInfo(
                name=name,
                module=owner_path,
                module_type=type(owner).__name__,
                shape=tuple(parameter.shape),
                init=classify_init(parameter, owner, init_records.get(name, ()), stats),
                std=std,
                mean=mean,
                forward_index=rank,
            )
        )
    return tuple(weights)


def _moments(tensor: torch.Tensor, stats: ParamStats | None) -> tuple[float, float]:
    if tensor.device.type == "meta" or tensor.numel() == 0:
        return float("nan"), float("nan")
    if stats is not None and stats.std is not None:
        return stats.std, stats.mean  # what collect_param_stats read already: no second pass over the weight
    values = tensor.detach().float()
    return float(values.std()) if values.numel() > 1 else 0.0, float(values.mean())


def tensor_health(model: nn.Module, params: Mapping[str, ParamStats] | None = None) -> tuple[TensorHealth, ...]:
    """NaN and inf counts of every parameter and buffer; a parameter whose mean and E[w²] in ``params``
    are finite has neither (both would carry them), so only the others are scanned."""
    params = params or {}
    health = []
    named = [(n, t, "parameter") for n, t in model.named_parameters()] + [
        (n, t, "buffer") for n, t in model.named_buffers()
    ]
    for name, tensor, kind in named:
        stats = params.get(name) if kind == "parameter" else None
        if (
            tensor.device.type == "meta"
            or not (tensor.is_floating_point() or tensor.is_complex())
            or stats is not None
            and stats.finite
        ):
            nan = inf = 0
        else:
            detached = tensor.detach()
            if all_finite(detached):
                nan = inf = 0
            else:
                nan = int(torch.isnan(detached).sum())
                inf = int(torch.isinf(detached).sum())
        health.append(TensorHealth(name, name.rpartition(".")[0], kind, tensor.numel(), nan, inf))
    return tuple(health)
