"""Parameter statistics and spectral norms: what the estimator reads of the real weights.

Spectral norms: exact (``matrix_norm(ord=2)``) for matrices up to 256 on a side (an SVD of a
768² matrix already takes seconds on two cores), power iteration beyond; a convolution's *operator* norm at the layer's real input size by power
iteration on ``conv`` and its adjoint (autograd gives ``AᵀA x``); the spectral radius of
recurrent matrices from their eigenvalues. Power iteration converges from below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gradlint.trace import ops
from gradlint.types import LayerNode, ParamStats

EXACT_LIMIT = 256
POWER_STEPS = 30


def collect_param_stats(model: nn.Module, nodes: Sequence[LayerNode]) -> dict[str, ParamStats]:
    modules = dict(model.named_modules(remove_duplicate=False))
    input_shapes = _layer_input_shapes(nodes)
    stats: dict[str, ParamStats] = {}
    # Every name of a tied weight (GPT's lm_head and wte) gets statistics: each owner reads its own name.
    for name, parameter in model.named_parameters(remove_duplicate=False):
        owner_path, _, local = name.rpartition(".")
        owner = modules[owner_path]
        stats[name] = _stats(name, owner_path, local, parameter.detach(), owner, input_shapes.get(owner_path))
    return stats


def _layer_input_shapes(nodes: Sequence[LayerNode]) -> dict[str, tuple[int, ...]]:
    shapes = {n.name: n.shape for n in nodes}
    found: dict[str, tuple[int, ...]] = {}
    for node in nodes:
        if node.op == "call_module" and node.module is not None and node.module not in found and node.inputs:
            shape = shapes.get(node.inputs[0])
            if shape is not None:
                found[node.module] = shape
    return found


def _blocks_of(owner: nn.Module, local: str) -> int:
    if isinstance(owner, nn.RNNBase) and (local.startswith("weight_") or local.startswith("bias_")):
        return {"LSTM": 4, "GRU": 3}.get(owner.mode, 1)
    if isinstance(owner, nn.MultiheadAttention) and local in ("in_proj_weight", "in_proj_bias"):
        return 3
    return 1


def _stats(
    name: str,
    owner_path: str,
    local: str,
    tensor: torch.Tensor,
    owner: nn.Module,
    input_shape: tuple[int, ...] | None,
) -> ParamStats:
    shape = tuple(tensor.shape)
    if tensor.device.type == "meta" or tensor.numel() == 0:
        return ParamStats(name, owner_path, shape, math.nan, math.nan)
    values = tensor.float()
    mean, mean_sq = float(values.mean()), float((values * values).mean())
    count = _blocks_of(owner, local)
    blocks: tuple[tuple[float, float], ...] = ()
    if count > 1 and shape[0] % count == 0:
        blocks = tuple((float(b.mean()), float((b * b).mean())) for b in values.chunk(count, dim=0))
    norm = radius = source = None
    if tensor.dim() >= 2 and torch.isfinite(values).all() and not isinstance(owner, nn.Embedding | nn.EmbeddingBag):
        norm, source = _spectral_norm(values, owner, input_shape)
        if isinstance(owner, nn.RNNBase) and local.startswith("weight_hh"):
            radius = max(_spectral_radius(block) for block in values.chunk(count, dim=0))
    return ParamStats(name, owner_path, shape, mean, mean_sq, blocks, norm, radius, source)


def _spectral_norm(weight: torch.Tensor, owner: nn.Module, input_shape: tuple[int, ...] | None) -> tuple[float, str]:
    if isinstance(owner, nn.modules.conv._ConvNd) and input_shape is not None and weight.dim() >= 3:
        return _conv_operator_norm(weight, owner, input_shape), "power-iteration"
    matrix = weight.reshape(weight.shape[0], -1)
    if ops.is_hf_conv1d(owner):
        matrix = matrix.T
    if max(matrix.shape) <= EXACT_LIMIT:
        return float(torch.linalg.matrix_norm(matrix.double(), ord=2)), "exact"
    return _power_iteration(matrix), "power-iteration"


def _power_iteration(matrix: torch.Tensor) -> float:
    generator = torch.Generator().manual_seed(0)
    vector = torch.randn(matrix.shape[1], generator=generator, dtype=matrix.dtype)
    sigma = 0.0
    for _ in range(POWER_STEPS):
        vector = matrix.T @ (matrix @ vector)
        length = float(vector.norm())
        if length == 0.0:
            return 0.0
        sigma = math.sqrt(length)
        vector = vector / length
    return sigma


def _conv_operator_norm(weight: torch.Tensor, conv: nn.modules.conv._ConvNd, input_shape: tuple[int, ...]) -> float:
    spatial = len(conv.kernel_size)
    sample_shape = (1, *input_shape[-spatial - 1 :])
    functional = {1: (F.conv1d, F.conv_transpose1d), 2: (F.conv2d, F.conv_transpose2d), 3: (F.conv3d, F.conv_transpose3d)}[spatial]
    forward = functional[1] if conv.transposed else functional[0]
    kwargs = {"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation, "groups": conv.groups}
    if conv.transposed:
        kwargs["output_padding"] = conv.output_padding
    generator = torch.Generator().manual_seed(0)
    vector = torch.randn(sample_shape, generator=generator)
    sigma = 0.0
    with torch.enable_grad():
        for _ in range(POWER_STEPS):
            vector = vector.detach().requires_grad_(True)
            output = forward(vector, weight, None, **kwargs)
            (adjoint,) = torch.autograd.grad(0.5 * (output * output).sum(), vector)
            length = float(adjoint.norm())
            if length == 0.0:
                return 0.0
            sigma = math.sqrt(length)
            vector = adjoint / length
    return sigma


def _spectral_radius(matrix: torch.Tensor) -> float:
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        return math.nan
    return float(torch.linalg.eigvals(matrix.double()).abs().max())
