"""In which format each node computes under a ``PrecisionMode``.

Cast mode (``float16``, ``bfloat16``): the model and its inputs are cast, so every floating node is in
the low format, except after an explicit ``.float()`` / ``.double()``. Mixed mode follows CUDA
``torch.autocast``'s op lists: matmuls, linear layers, convolutions, recurrent cells and attention's
projections run in the low format; ``exp``, ``log``, ``pow``, ``rsqrt``, sums, softmax, layer and group
norms and losses in float32; every other op in the widest format of its floating inputs (a float32
residual plus a float16 branch is float32). CPU autocast's lists keep softmax and layer norm in the low
format; their outputs are bounded, so the difference does not change what overflows.
"""

from __future__ import annotations

from collections.abc import Mapping

from gradlint.types import LayerNode, ModelGraph, PrecisionMode

LOW = "low"
FLOAT32 = "float32"

_LOW_ROLES = frozenset({"linear", "conv", "recurrent", "attention", "matmul"})
_LOW_TARGETS = frozenset(
    {
        "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
        "matmul", "__matmul__", "mm", "bmm", "addmm", "baddbmm", "addbmm", "einsum", "prelu",
        "scaled_dot_product_attention",
    }
)  # fmt: skip
_FLOAT32_TARGETS = frozenset(
    {
        "exp", "expm1", "log", "log2", "log10", "log1p", "pow", "__pow__", "__rpow__", "rsqrt", "reciprocal",
        "softmax", "log_softmax", "layer_norm", "group_norm", "norm", "sum", "prod", "cumsum", "cumprod",
        "softplus", "mse_loss", "cross_entropy", "nll_loss", "cosine_similarity", "acos", "asin", "cosh",
        "sinh", "tan", "erfinv", "logsumexp", "normalize",
    }
)  # fmt: skip
_FLOAT32_MODULES = frozenset({"LayerNorm", "GroupNorm", "Softmax", "LogSoftmax", "Softplus"})
_TO_FLOAT32 = frozenset({"float", "double"})
_TO_LOW = frozenset({"half", "bfloat16"})
_FLOATING = ("float", "half", "bfloat16", "double")


def node_dtypes(
    graph: ModelGraph, mode: PrecisionMode, float32_nodes: frozenset[str] = frozenset()
) -> Mapping[str, str]:
    """Node name -> ``low`` or ``float32`` for every node with a floating output (others are left out).

    ``float32_nodes`` are kept in float32 (an autocast-disabled region around them): the re-check of a fix.
    """
    found: dict[str, str] = {}
    for node in graph.nodes:
        if node.op == "output" or node.dtype is None or not node.dtype.startswith(_FLOATING):
            continue
        explicit = FLOAT32 if node.name in float32_nodes else _explicit_cast(node)
        if explicit is not None:
            found[node.name] = explicit
        elif not mode.autocast:
            found[node.name] = LOW
        else:
            found[node.name] = _autocast_dtype(node, found)
    return found


def _explicit_cast(node: LayerNode) -> str | None:
    if node.op != "call_method":
        return None
    if node.target in _TO_FLOAT32:
        return FLOAT32
    if node.target in _TO_LOW:
        return LOW
    if node.target == "to" and any("float32" in str(v) for v in node.attrs.values()):
        return FLOAT32
    return None


def _autocast_dtype(node: LayerNode, found: Mapping[str, str]) -> str:
    if node.op in ("placeholder", "get_attr"):
        return FLOAT32  # inputs and parameters stay float32; autocast casts them where a low op reads them
    if node.op == "call_module":
        if node.role in _LOW_ROLES:
            return LOW
        if node.module_type in _FLOAT32_MODULES or node.role == "softmax":
            return FLOAT32
    elif node.target in _LOW_TARGETS:
        return LOW
    elif node.target in _FLOAT32_TARGETS or node.role == "softmax":
        return FLOAT32
    formats = {found[i] for i in node.inputs if i in found}
    return LOW if formats == {LOW} else FLOAT32
