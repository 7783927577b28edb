"""Parameter statistics and spectral norms: what the estimator reads of the real weights.

Spectral norms: exact (``matrix_norm(ord=2)``) for matrices up to 256 on a side (an SVD of a
768² matrix already takes seconds on two cores), Lanczos beyond; a convolution's *operator* norm (an
``nn.Conv*`` layer's, or a kernel that ``F.conv*`` applies) at its real input size by Lanczos on
``conv`` and its adjoint (autograd gives ``AᵀA x``), a 1×1 convolution's as its matrix's; the spectral radius of recurrent matrices from their eigenvalues.
Lanczos converges from below.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gradlint.trace import ops
from gradlint.trace.init_scheme import moments_from_calls
from gradlint.types import InitCall, LayerNode, ParamStats

EXACT_LIMIT = 256
LANCZOS_TOLERANCE = 1e-2
"""Stop when the top Ritz value of AᵀA moves by less than this share between steps: σ is then within
~2.5 % from below (iid 768², 7 products; 0.8 % at 768×3072 in 8), enough for a norm reported and
applied once. GPT-2's 48 matrices take 0.4 s at 1e-2 against 0.6-0.8 s at 1e-3 (two cores)."""
COMPOUNDED_TOLERANCE = 1e-4
"""For a matrix applied step after step (an RNN's W_hh, a layer called in a loop) an error ε in σ
grows to T·ε in Pascanu et al.'s bound (σ·γ)^T: those settle to 1e-4 (σ within ~1e-4)."""
OPERATOR_TOLERANCE = 3e-3
"""For a convolution's operator: its top singular values crowd together (one per nearby frequency),
so a loose stop errs more: 3.6 % at 1e-2 on a 3×3, 8-channel kernel at 12², within 0.3 % at 3e-3 on six
such kernels (0.1 % at 1e-3). ResNet-50's 17 operators take ~0.5 s more than at 1e-2, ~0.5 s less than at 1e-3."""
LANCZOS_STEPS = {LANCZOS_TOLERANCE: 30, OPERATOR_TOLERANCE: 30, COMPOUNDED_TOLERANCE: 60}
"""At most this many products for each tolerance (iid matrices of 512² to 2048² settle to 1e-4 in 23-25)."""


def collect_param_stats(
    model: nn.Module,
    nodes: Sequence[LayerNode],
    init_records: Mapping[str, tuple[InitCall, ...]] | None = None,
    operator_norms: bool = False,
) -> dict[str, ParamStats]:
    """Statistics of every parameter: from its values, or on the meta device from the init calls recorded on it.

    A convolution applied once gets no operator norm unless ``operator_norms``: no rule and no part of
    the estimate reads it (the recurrence rules read the norms of weights applied step after step,
    which are always taken), and its Lanczos products were 1.37 s of ResNet-50's 2.19 s analysis.
    """
    init_records = init_records or {}
    modules = dict(model.named_modules(remove_duplicate=False))
    input_shapes = _layer_input_shapes(nodes)
    output_shapes = _layer_output_shapes(nodes)
    repeated = {n.module for n in nodes if n.op == "call_module" and n.call_count > 1}
    functional = _functional_convolutions(nodes)
    stats: dict[str, ParamStats] = {}
    # Every name of a tied weight (GPT's lm_head and wte) gets statistics: each owner reads its own name.
    for name, parameter in model.named_parameters(remove_duplicate=False):
        owner_path, _, local = name.rpartition(".")
        owner = modules[owner_path]
        if parameter.device.type == "meta":
            stats[name] = _recorded_stats(
                name, owner_path, local, parameter, owner, _records(name, parameter, model, init_records)
            )
        else:
            compounded = owner_path in repeated or (isinstance(owner, nn.RNNBase) and local.startswith("weight_hh"))
            tolerance = COMPOUNDED_TOLERANCE if compounded else LANCZOS_TOLERANCE
            use = functional.get(name)
            if use is None and isinstance(owner, nn.modules.conv._ConvNd) and owner_path in input_shapes:
                shape = input_shapes[owner_path]
                use = (shape, _with_inner_padding(ConvGeometry.of(owner), shape, output_shapes.get(owner_path)))
            stats[name] = _stats(
                name, owner_path, local, parameter.detach(), owner, use, tolerance, operator_norms or compounded
            )
    return stats


def _records(
    name: str, parameter: torch.Tensor, model: nn.Module, init_records: Mapping[str, tuple[InitCall, ...]]
) -> tuple[InitCall, ...]:
    if name in init_records:
        return init_records[name]
    # a tied weight's records sit under its first name
    for other, tensor in model.named_parameters():
        if tensor is parameter and other in init_records:
            return init_records[other]
    return ()


def _recorded_stats(
    name: str, owner_path: str, local: str, tensor: torch.Tensor, owner: nn.Module, calls: Sequence[InitCall]
) -> ParamStats:
    """Meta-device statistics from the init calls, with random-matrix spectral estimates (marked as such)."""
    shape = tuple(tensor.shape)
    found = moments_from_calls(tensor, owner, calls)
    if found is None:
        return ParamStats(name, owner_path, shape, math.nan, math.nan)
    mean, mean_sq, kind = found
    count = _blocks_of(owner, local)
    blocks = tuple(_block_moments(calls, tensor, owner, count)) if count > 1 and shape and shape[0] % count == 0 else ()
    norm = radius = source = None
    if tensor.dim() >= 2 and not isinstance(owner, nn.Embedding | nn.EmbeddingBag):
        rows, cols = shape[0], math.prod(shape[1:])
        std = math.sqrt(max(mean_sq - mean * mean, 0.0))
        if kind == "orthogonal":
            norm = math.sqrt(mean_sq * max(rows, cols))
        else:
            # σ_max of an m×n iid matrix ≈ std·(√m + √n); a mean adds a rank-one part of size |mean|·√(mn)
            norm = std * (math.sqrt(rows) + math.sqrt(cols)) + abs(mean) * math.sqrt(rows * cols)
        source = "random-matrix estimate"
        if isinstance(owner, nn.RNNBase) and local.startswith("weight_hh"):
            # circular law: the eigenvalues of an n×n iid matrix fill a disc of radius std·√n
            size = shape[1]
            radius = math.sqrt(mean_sq) * math.sqrt(size) if kind != "orthogonal" else math.sqrt(mean_sq * size)
    return ParamStats(name, owner_path, shape, mean, mean_sq, blocks, norm, radius, source)


def _block_moments(
    calls: Sequence[InitCall], tensor: torch.Tensor, owner: nn.Module, count: int
) -> list[tuple[float, float]]:
    """Per-gate statistics: whole-tensor init, then partial writes (a forget-gate bias slice) on their rows."""
    found = moments_from_calls(tensor, owner, [c for c in calls if c.whole])
    base = (found[0], found[1]) if found is not None else (0.0, 0.0)
    return [base] * count


@dataclass(frozen=True)
class ConvGeometry:
    """How a convolution applies its kernel: an ``nn.Conv*`` module's attributes, or a ``F.conv*`` call's arguments."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...] | str
    dilation: tuple[int, ...]
    groups: int
    transposed: bool = False
    output_padding: tuple[int, ...] = ()
    inner_padding: tuple[int, ...] = ()
    """Zeros a module adds in its own ``forward`` before the kernel (total per spatial dimension, split as ``F.pad``'s
    TensorFlow-style "same": the smaller half first)."""

    @classmethod
    def of(cls, conv: nn.modules.conv._ConvNd) -> ConvGeometry:
        return cls(
            tuple(conv.kernel_size),
            tuple(conv.stride),
            conv.padding if isinstance(conv.padding, str) else tuple(conv.padding),
            tuple(conv.dilation),
            conv.groups,
            conv.transposed,
            tuple(conv.output_padding),
        )

    @property
    def pointwise(self) -> bool:
        # a transposed convolution's padding crops its output, which can lower the norm
        return all(k == 1 for k in self.kernel_size) and (not self.transposed or all(p == 0 for p in self.padding))


ConvUse = tuple[tuple[int, ...], ConvGeometry]
"""A kernel's convolution: the input shape it is applied at, and how."""


def _functional_convolutions(nodes: Sequence[LayerNode]) -> dict[str, ConvUse]:
    """Kernels that ``F.conv1d/2d/3d`` applies (Mamba's depthwise conv, a conv module called as a function)."""
    by_name = {n.name: n for n in nodes}
    found: dict[str, ConvUse] = {}
    for node in nodes:
        if node.op != "call_function" or node.target not in ops.FUNCTIONAL_CONVS or len(node.inputs) < 2:
            continue
        source, kernel = by_name.get(node.inputs[0]), by_name.get(node.inputs[1])
        while kernel is not None and kernel.op != "get_attr" and kernel.role == "reshape" and kernel.inputs:
            kernel = by_name.get(kernel.inputs[0])
        if source is None or source.shape is None or kernel is None or kernel.op != "get_attr" or kernel.shape is None:
            continue
        attrs = ops.functional_conv_attrs(node.attrs, kernel.shape)
        geometry = ConvGeometry(
            attrs["kernel_size"], attrs["stride"], attrs["padding"], attrs["dilation"], attrs["groups"]
        )
        found.setdefault(kernel.target, (tuple(source.shape), geometry))
    return found


def _with_inner_padding(
    conv: ConvGeometry, input_shape: tuple[int, ...], output_shape: tuple[int, ...] | None
) -> ConvGeometry:
    """The geometry with the padding a convolution module applies inside its own ``forward``, read off its output.

    efficientnet-pytorch's ``Conv2dStaticSamePadding`` has ``padding=0`` and runs a ``ZeroPad2d`` before
    ``F.conv2d``: its kernel sees a larger input than the module is called with, and the operator is
    the padded convolution. The smallest padding that gives the recorded output is what it applied.
    """
    spatial = len(conv.kernel_size)
    if (
        conv.transposed
        or isinstance(conv.padding, str)
        or output_shape is None
        or len(output_shape) != len(input_shape)
    ):
        return conv
    inner = tuple(
        max(0, (o - 1) * s + (k - 1) * d + 1 - 2 * p - n)
        for n, o, k, s, d, p in zip(
            input_shape[-spatial:], output_shape[-spatial:], conv.kernel_size, conv.stride, conv.dilation, conv.padding
        )
    )
    return dataclasses.replace(conv, inner_padding=inner) if any(inner) else conv


def _layer_output_shapes(nodes: Sequence[LayerNode]) -> dict[str, tuple[int, ...]]:
    found: dict[str, tuple[int, ...]] = {}
    for node in nodes:
        if node.op == "call_module" and node.module is not None and node.module not in found and node.shape is not None:
            found[node.module] = tuple(node.shape)
    return found


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
    conv: ConvUse | None,
    tolerance: float = LANCZOS_TOLERANCE,
    operator_norm: bool = True,
) -> ParamStats:
    shape = tuple(tensor.shape)
    if tensor.device.type == "meta" or tensor.numel() == 0:
        return ParamStats(name, owner_path, shape, math.nan, math.nan)
    values = tensor.float()
    # ‖x‖²/n instead of mean(x·x): one reduction, no temporary the size of the weight
    mean, mean_sq = float(values.mean()), float(torch.linalg.vector_norm(values)) ** 2 / values.numel()
    count = _blocks_of(owner, local)
    blocks: tuple[tuple[float, float], ...] = ()
    if count > 1 and shape[0] % count == 0:
        blocks = tuple((float(b.mean()), float((b * b).mean())) for b in values.chunk(count, dim=0))
    norm = radius = source = None
    # NaN and ±inf reach the mean or E[w²]: finite both, finite every element (no third pass over the weight)
    finite = math.isfinite(mean) and math.isfinite(mean_sq)
    if tensor.dim() >= 2 and finite and not isinstance(owner, nn.Embedding | nn.EmbeddingBag):
        norm, source = _spectral_norm(values, owner, local, conv, tolerance, operator_norm)
        if isinstance(owner, nn.RNNBase) and local.startswith("weight_hh"):
            radius = max(_spectral_radius(block) for block in values.chunk(count, dim=0))
    return ParamStats(name, owner_path, shape, mean, mean_sq, blocks, norm, radius, source)


def _spectral_norm(
    weight: torch.Tensor, owner: nn.Module, local: str, conv: ConvUse | None, tolerance: float, operator: bool = True
) -> tuple[float | None, str | None]:
    # Only the convolution's own kernel is an operator over the input; a per-channel parameter beside it
    # (nfnet's ``gain``, shaped [out, 1, 1, 1]) is a matrix of one column.
    is_kernel = local == "weight" and tuple(weight.shape) == tuple(getattr(owner, "weight", weight).shape)
    if conv is not None and weight.dim() >= 3 and (is_kernel or not isinstance(owner, nn.modules.conv._ConvNd)):
        input_shape, geometry = conv
        if geometry.pointwise:
            # A 1×1 convolution applies its c_out×c_in matrix at every (kept) pixel, one group's block
            # each: its operator norm is the largest matrix norm, at any input size.
            norms = [
                _matrix_norm(block.reshape(block.shape[0], -1), tolerance)
                for block in weight.chunk(geometry.groups, dim=0)
            ]
            return max(n for n, _ in norms), norms[0][1]
        if not operator:
            return None, None
        return _conv_operator_norm(weight, geometry, input_shape, min(tolerance, OPERATOR_TOLERANCE)), "lanczos"
    matrix = weight.reshape(weight.shape[0], -1)
    if ops.is_hf_conv1d(owner):
        matrix = matrix.T
    return _matrix_norm(matrix, tolerance)


def _matrix_norm(matrix: torch.Tensor, tolerance: float) -> tuple[float, str]:
    if max(matrix.shape) <= EXACT_LIMIT:
        return float(torch.linalg.matrix_norm(matrix.double(), ord=2)), "exact"
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T  # iterate in the smaller space: same σ, shorter vectors
    return _lanczos_norm(lambda v: matrix.T @ (matrix @ v), matrix.shape[1:], matrix, tolerance), "lanczos"


def _lanczos_norm(
    gram: Callable[[torch.Tensor], torch.Tensor],
    shape: Sequence[int],
    like: torch.Tensor,
    tolerance: float = LANCZOS_TOLERANCE,
) -> float:
    """σ_max of A from ``gram(v) = AᵀA v``: Lanczos on AᵀA, fully reorthogonalised, until the top Ritz value settles.

    Ritz values converge from below like power iteration's, but for an iid matrix (no spectral gap)
    to 1e-4 in ~20 products where power iteration is still 1 % low after 30; the Krylov space is
    kept as the rows of one preallocated matrix, on ``like``'s device and in its dtype (the same start
    vector on every device: drawn on the CPU).
    """
    steps = LANCZOS_STEPS.get(tolerance, max(LANCZOS_STEPS.values()))
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(math.prod(shape), generator=generator, dtype=like.dtype).to(like.device)
    basis = torch.empty(
        steps, start.numel(), dtype=like.dtype, device=like.device
    )  # rows: the orthonormal Krylov vectors
    basis[0] = start / start.norm()
    alphas: list[float] = []
    betas: list[float] = []
    top = 0.0
    for step in range(steps):
        current = basis[step]
        flat = gram(current.reshape(tuple(shape))).reshape(-1)
        alphas.append(float(flat @ current))
        done = basis[: step + 1]
        for _ in range(2):  # twice is enough (Kahan), once loses orthogonality in float32
            flat = flat - done.T @ (done @ flat)
        tridiagonal = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            tridiagonal += torch.diag(off, 1) + torch.diag(off, -1)
        ritz = max(float(torch.linalg.eigvalsh(tridiagonal)[-1]), 0.0)
        beta = float(flat.norm())
        settled = step > 0 and abs(ritz - top) <= tolerance * ritz
        top = ritz
        if settled or step + 1 == steps or beta <= 1e-9 * max(ritz, 1e-30):
            break  # converged, out of steps, or the Krylov space is exhausted
        betas.append(beta)
        basis[step + 1] = flat / beta
    return math.sqrt(top)


#: Spatial length (per dimension) at which a convolution's operator norm is taken.
OPERATOR_LENGTH = 32


def _conv_operator_norm(
    weight: torch.Tensor, conv: ConvGeometry, input_shape: tuple[int, ...], tolerance: float
) -> float:
    spatial = len(conv.kernel_size)
    # A zero-padded convolution's norm grows with the input toward the circular one (the largest
    # transfer matrix over frequencies) and is within 2 % of it at 32 pixels for the usual kernels
    # (ResNet's 3×3 at 56: 1.149, at 32: 1.147; its 7×7 stem at 224: 2.064, at 32: 2.031): the norm
    # is taken at that size, which made ResNet-50 at 224×224 spend most of its lint here.
    extents = [(k - 1) * d + 1 for k, d in zip(conv.kernel_size, conv.dilation)]
    lengths = [min(n, max(OPERATOR_LENGTH, 4 * e * s)) for n, e, s in zip(input_shape[-spatial:], extents, conv.stride)]
    inner = conv.inner_padding or (0,) * spatial
    if not conv.transposed and not isinstance(conv.padding, str):
        # never below the smallest input the kernel fits in (a size the trace misread must not raise
        # here): the norm only grows with the input, so a larger size errs on the safe side
        lengths = [max(n, e - 2 * p - q) for n, e, p, q in zip(lengths, extents, conv.padding, inner)]
    # F.pad takes (before, after) pairs from the last dimension backwards
    pads = [side for q in reversed(inner) for side in (q // 2, q - q // 2)]
    sample_shape = (1, input_shape[-spatial - 1], *lengths)
    functional = {
        1: (F.conv1d, F.conv_transpose1d),
        2: (F.conv2d, F.conv_transpose2d),
        3: (F.conv3d, F.conv_transpose3d),
    }[spatial]
    forward = functional[1] if conv.transposed else functional[0]
    kwargs = {"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation, "groups": conv.groups}
    if conv.transposed:
        kwargs["output_padding"] = conv.output_padding

    def gram(vector: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            vector = vector.detach().requires_grad_(True)
            output = forward(F.pad(vector, pads) if any(pads) else vector, weight, None, **kwargs)
            (adjoint,) = torch.autograd.grad(0.5 * (output * output).sum(), vector)
        return adjoint

    return _lanczos_norm(gram, sample_shape, weight, tolerance)


def _spectral_radius(matrix: torch.Tensor) -> float:
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        return math.nan
    return float(torch.linalg.eigvals(matrix.double()).abs().max())
