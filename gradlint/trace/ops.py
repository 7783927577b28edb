"""What an op *is*, whatever way it was traced: canonical names, roles and attributes.

fx sees ``F.relu`` / ``torch.relu`` / ``Tensor.relu`` / ``nn.ReLU``; torch.export sees
``aten.relu.default``; the hook tracer sees ``__torch_function__`` names. Everything
downstream reads only the canonical forms produced here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

# Canonical activation names, keyed by every spelling of the op.
_ACTIVATION_FUNCTIONS: dict[str, str] = {
    "relu": "relu",
    "relu_": "relu",
    "relu6": "relu6",
    "leaky_relu": "leaky_relu",
    "leaky_relu_": "leaky_relu",
    "prelu": "prelu",
    "rrelu": "rrelu",
    "elu": "elu",
    "elu_": "elu",
    "selu": "selu",
    "selu_": "selu",
    "celu": "celu",
    "celu_": "celu",
    "gelu": "gelu",
    "silu": "silu",
    "silu_": "silu",
    "mish": "mish",
    "softplus": "softplus",
    "hardswish": "hardswish",
    "hardswish_": "hardswish",
    "hardsigmoid": "hardsigmoid",
    "hardtanh": "hardtanh",
    "hardtanh_": "hardtanh",
    "tanh": "tanh",
    "tanh_": "tanh",
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
    "softsign": "softsign",
    "tanhshrink": "tanhshrink",
    "logsigmoid": "logsigmoid",
    "log_sigmoid": "logsigmoid",
    "glu": "glu",
}

_ACTIVATION_MODULES: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.RReLU: "rrelu",
    nn.ELU: "elu",
    nn.SELU: "selu",
    nn.CELU: "celu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.Softplus: "softplus",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Hardtanh: "hardtanh",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.Softsign: "softsign",
    nn.Tanhshrink: "tanhshrink",
    nn.LogSigmoid: "logsigmoid",
    nn.GLU: "glu",
}

# ReLU-family activations: they can leave units dead.
RELU_FAMILY = frozenset({"relu", "relu6", "hardtanh"})

_NORM_MODULES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)

_FUNCTION_ROLES: dict[str, str] = {
    "add": "add",
    "add_": "add",
    "iadd": "add",
    "__add__": "add",
    "__radd__": "add",
    "__iadd__": "add",
    "sub": "add",
    "__sub__": "add",
    "mul": "mul",
    "mul_": "mul",
    "__mul__": "mul",
    "__rmul__": "mul",
    "imul": "mul",
    "matmul": "matmul",
    "__matmul__": "matmul",
    "bmm": "matmul",
    "mm": "matmul",
    "baddbmm": "matmul",
    "einsum": "matmul",
    "linear": "linear",
    "conv1d": "conv",
    "conv2d": "conv",
    "conv3d": "conv",
    "convolution": "conv",
    "embedding": "embedding",
    "softmax": "softmax",
    "_softmax": "softmax",
    "log_softmax": "softmax",
    "scaled_dot_product_attention": "attention",
    "_scaled_dot_product_efficient_attention": "attention",
    "_scaled_dot_product_flash_attention_for_cpu": "attention",
    "layer_norm": "normalization",
    "native_layer_norm": "normalization",
    "group_norm": "normalization",
    "batch_norm": "normalization",
    "rms_norm": "normalization",
    "_native_batch_norm_legit_functional": "normalization",
    "dropout": "dropout",
    "native_dropout": "dropout",
    "max_pool1d": "pool",
    "max_pool2d": "pool",
    "max_pool3d": "pool",
    "avg_pool1d": "pool",
    "avg_pool2d": "pool",
    "avg_pool3d": "pool",
    "adaptive_avg_pool1d": "pool",
    "adaptive_avg_pool2d": "pool",
    "adaptive_max_pool2d": "pool",
    "max_pool2d_with_indices": "pool",
    "mean": "pool",
    "view": "reshape",
    "reshape": "reshape",
    "_unsafe_view": "reshape",
    "flatten": "reshape",
    "permute": "reshape",
    "transpose": "reshape",
    "t": "reshape",
    "contiguous": "reshape",
    "unsqueeze": "reshape",
    "squeeze": "reshape",
    "expand": "reshape",
    "clone": "reshape",
    "getitem": "reshape",
    "__getitem__": "reshape",
    "slice": "reshape",
    "select": "reshape",
    "split": "reshape",
    "chunk": "reshape",
    "split_with_sizes": "reshape",
    "cat": "reshape",
    "stack": "reshape",
    "alias": "reshape",
    "detach": "reshape",
    "to": "reshape",
    "type_as": "reshape",
}


def canonical_function_name(target: Any) -> str:
    """``torch.nn.functional.relu`` / ``aten.relu.default`` / ``operator.add`` / ``"relu"`` -> ``relu`` / ``add``."""
    if isinstance(target, str):
        return target
    if target is operator.getitem:
        return "getitem"
    overload = getattr(target, "overloadpacket", None)  # aten OpOverload
    if overload is not None:
        return overload.__name__
    name = getattr(target, "__name__", None) or str(target)
    return name


def activation_of_function(name: str) -> str | None:
    return _ACTIVATION_FUNCTIONS.get(name)


def activation_of_module(module: nn.Module) -> str | None:
    for cls in type(module).__mro__:
        if cls in _ACTIVATION_MODULES:
            return _ACTIVATION_MODULES[cls]
    return None


def is_hf_conv1d(module: nn.Module) -> bool:
    """transformers' ``Conv1D``: a linear layer whose weight is stored (in, out)."""
    # _parameters, not getattr: fx's tracer turns parameter attribute access into graph nodes.
    weight = module._parameters.get("weight")
    return (
        hasattr(module, "nf")
        and hasattr(module, "nx")
        and isinstance(weight, nn.Parameter)
        and weight.dim() == 2
        and tuple(weight.shape) == (module.nx, module.nf)
    )


def module_role(module: nn.Module) -> str | None:
    if activation_of_module(module) is not None:
        return "activation"
    if isinstance(module, (nn.Linear, nn.Bilinear)) or is_hf_conv1d(module):
        return "linear"
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    if isinstance(module, nn.RNNBase):
        return "recurrent"
    if isinstance(module, nn.MultiheadAttention):
        return "attention"
    if isinstance(module, _NORM_MODULES):
        return "normalization"
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return "dropout"
    if isinstance(
        module,
        (
            nn.modules.pooling._MaxPoolNd,
            nn.modules.pooling._AvgPoolNd,
            nn.modules.pooling._AdaptiveAvgPoolNd,
            nn.modules.pooling._AdaptiveMaxPoolNd,
        ),
    ):
        return "pool"
    if isinstance(module, (nn.Flatten, nn.Unflatten, nn.Identity)):
        return "reshape"
    if isinstance(module, nn.Sequential) and len(module) == 0:
        return "reshape"  # an empty Sequential is the identity (a ResNet's plain shortcut)
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
        return "softmax"
    return None


def is_layer(module: nn.Module) -> bool:
    """A module traced as one unit: one whose semantics gradlint knows, or a childless torch.nn module.

    Anything else — user modules, torch.nn containers such as ``nn.TransformerEncoderLayer`` —
    is traced through, so the ops inside are seen.
    """
    if module_role(module) is not None:
        return True
    return type(module).__module__.startswith("torch.nn") and next(module.children(), None) is None


def function_role(name: str) -> str | None:
    if activation_of_function(name) is not None:
        return "activation"
    return _FUNCTION_ROLES.get(name)


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, tuple | list) and all(isinstance(v, bool | int | float | str) for v in value):
        return tuple(value)
    return None


_MODULE_ATTRS = (
    "in_features",
    "out_features",
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "transposed",
    "output_padding",
    "num_embeddings",
    "embedding_dim",
    "padding_idx",
    "input_size",
    "hidden_size",
    "num_layers",
    "bidirectional",
    "batch_first",
    "nonlinearity",
    "proj_size",
    "embed_dim",
    "num_heads",
    "eps",
    "affine",
    "elementwise_affine",
    "normalized_shape",
    "num_groups",
    "num_features",
    "momentum",
    "track_running_stats",
    "p",
    "negative_slope",
    "alpha",
    "beta",
    "threshold",
    "approximate",
    "min_val",
    "max_val",
    "lambd",
    "dim",
    "output_size",
    "num_parameters",
    "nf",
    "nx",
    "mode",
    "align_corners",
    "scale_factor",
    "value",
)


def module_attrs(module: nn.Module) -> dict[str, Any]:
    """Scalar hyper-parameters of a layer that the estimator and the rules read."""
    attrs: dict[str, Any] = {}
    for key in _MODULE_ATTRS:
        if key in vars(module) or hasattr(type(module), key) and not callable(getattr(type(module), key, None)):
            value = _plain(getattr(module, key, None))
            if value is not None:
                attrs[key] = value
    if isinstance(module, nn.Linear | nn.modules.conv._ConvNd):
        attrs["bias"] = module.bias is not None
    if isinstance(module, _NORM_MODULES):
        # timm's LayerNorm2d, GroupNorm1 ... subclass a torch norm and keep its arithmetic (over other axes)
        attrs["norm_base"] = next(c.__name__ for c in type(module).__mro__ if c.__module__.startswith("torch.nn"))
    if _standardizes_weight(module):
        # W_used = (W - mean) / std per output channel, times gain·scale where the layer has them
        attrs["weight_standardized"] = True
        attrs["weight_scale"] = float(getattr(module, "scale", 1.0))
    if isinstance(module, nn.MultiheadAttention):
        attrs["bias"] = module.in_proj_bias is not None
    if is_hf_conv1d(module):
        attrs.update(in_features=int(module.nx), out_features=int(module.nf), weight_layout="in_out")
    if isinstance(module, nn.PReLU):
        attrs["negative_slope"] = (
            float(module.weight.detach().float().mean()) if module.weight.device.type != "meta" else 0.25
        )
    return attrs


def _standardizes_weight(module: nn.Module) -> bool:
    """timm's weight-standardised convolutions (``StdConv2d``, ``ScaledStdConv2d`` of NFNets and BiT).

    They subclass ``nn.Conv2d`` and are traced as one, but their forward normalises the kernel
    first: the raw weight's scale then does not reach the output, and its gradient scales as 1/std.
    """
    module_path = type(module).__module__
    return isinstance(module, nn.modules.conv._ConvNd) and module_path.startswith(
        ("timm.layers.std_conv", "timm.models.layers.std_conv")
    )


NODE_ARG = "<node>"


def scalar_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Scalar arguments of a functional call (``pow``'s exponent, ``softmax``'s dim, ``eps`` ...).

    ``layout`` keeps the positional order, with ``NODE_ARG`` where a traced value stands, so
    ``1.0 / sqrt(d)`` and ``d / 2`` can be told apart and evaluated.
    """
    out: dict[str, Any] = {}
    positional = [(_plain(a)) for a in args]
    scalars = tuple(v for v in positional if v is not None)
    if scalars:
        out["scalars"] = scalars
    if args:
        out["layout"] = tuple(NODE_ARG if v is None else v for v in positional)
    for key, value in kwargs.items():
        plain = _plain(value)
        if plain is not None:
            out[key] = plain
    return out


FUNCTIONAL_CONVS = frozenset({"conv1d", "conv2d", "conv3d"})


def functional_conv_attrs(attrs: Mapping[str, Any], weight_shape: Sequence[int]) -> dict[str, Any]:
    """A ``F.conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups)`` call's geometry,
    from its recorded arguments (positional or keyword) and its kernel's shape, as a module's attributes."""
    shape = tuple(weight_shape) or (1, 1, 1)
    dims = max(len(shape) - 2, 1)
    layout = list(attrs.get("layout", ()))
    given = dict(zip(("stride", "padding", "dilation", "groups"), layout[3:7]))
    given.update({k: attrs[k] for k in ("stride", "padding", "dilation", "groups") if k in attrs})

    def spatial(value: Any, default: int) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, int):
            return (value,) * dims
        return tuple(value) if isinstance(value, tuple) and len(value) == dims else (default,) * dims

    groups = int(given.get("groups", 1)) if isinstance(given.get("groups", 1), int) else 1
    return {
        "kernel_size": tuple(shape[2:]) or (1,),
        "stride": spatial(given.get("stride", 1), 1),
        "padding": spatial(given.get("padding", 0), 0),
        "dilation": spatial(given.get("dilation", 1), 1),
        "groups": groups,
        "in_channels": shape[1] * groups,
        "out_channels": shape[0],
    }
