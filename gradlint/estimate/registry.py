"""Which op rule applies to a node."""

from __future__ import annotations

from gradlint.estimate.attention import MultiheadAttentionOp, SdpaOp, SoftmaxOp
from gradlint.estimate.cells import CellOp
from gradlint.estimate.context import parameter_behind
from gradlint.estimate.functions import (
    AddOp,
    ConcatOp,
    ConstantOp,
    CopyOp,
    DetachOp,
    EinsumOp,
    ElementwiseOp,
    MaskOp,
    MatmulOp,
    MulOp,
    PowOp,
    ReduceOp,
)
from gradlint.estimate.layers import (
    ActivationOp,
    BatchNormOp,
    ClampOp,
    ConvOp,
    DropoutOp,
    EmbeddingOp,
    FeatureNormOp,
    FunctionalConvOp,
    GluOp,
    IdentityOp,
    LinearOp,
    NormalizeOp,
    Op,
    OpaqueOp,
    PoolOp,
    VectorNormOp,
)
from gradlint.estimate.recurrent import RecurrentOp
from gradlint.estimate.spatial import PadOp, ResampleOp
from gradlint.types import LayerNode, ModelGraph

_BATCH_NORMS = ("BatchNorm", "SyncBatchNorm")
_PAD_LAYERS = ("ReflectionPad", "ReplicationPad", "ZeroPad", "ConstantPad", "CircularPad")
_CELLS = ("RNNCell", "GRUCell", "LSTMCell")

_FUNCTION_RULES = {
    "add": lambda: AddOp(),
    "add_": lambda: AddOp(),
    "iadd": lambda: AddOp(),
    "__add__": lambda: AddOp(),
    "__radd__": lambda: AddOp(),
    "__iadd__": lambda: AddOp(),
    "sub": lambda: AddOp(subtract=True),
    "__sub__": lambda: AddOp(subtract=True),
    "rsub": lambda: AddOp(subtract=True),
    "mul": lambda: MulOp(),
    "mul_": lambda: MulOp(),
    "__mul__": lambda: MulOp(),
    "__rmul__": lambda: MulOp(),
    "imul": lambda: MulOp(),
    "truediv": lambda: MulOp(divide=True),
    "div": lambda: MulOp(divide=True),
    "__truediv__": lambda: MulOp(divide=True),
    "matmul": lambda: MatmulOp(),
    "einsum": lambda: EinsumOp(),
    "copy_": lambda: CopyOp(),
    "setitem": lambda: CopyOp(),
    "__matmul__": lambda: MatmulOp(),
    "bmm": lambda: MatmulOp(),
    "mm": lambda: MatmulOp(),
    "softmax": lambda: SoftmaxOp(),
    "_softmax": lambda: SoftmaxOp(),
    "log_softmax": lambda: SoftmaxOp(log=True),
    "_log_softmax": lambda: SoftmaxOp(log=True),
    "scaled_dot_product_attention": lambda: SdpaOp(),
    "mean": lambda: ReduceOp(),
    "sum": lambda: ReduceOp(total=True),
    "avg_pool1d": lambda: PoolOp("avg"),
    "avg_pool2d": lambda: PoolOp("avg"),
    "avg_pool3d": lambda: PoolOp("avg"),
    "adaptive_avg_pool1d": lambda: PoolOp("avg"),
    "adaptive_avg_pool2d": lambda: PoolOp("avg"),
    "adaptive_avg_pool3d": lambda: PoolOp("avg"),
    "max_pool1d": lambda: PoolOp("max"),
    "max_pool2d": lambda: PoolOp("max"),
    "max_pool3d": lambda: PoolOp("max"),
    "max_pool2d_with_indices": lambda: PoolOp("max"),
    "adaptive_max_pool2d": lambda: PoolOp("max"),
    "pow": lambda: PowOp(),
    "__pow__": lambda: PowOp(),
    "square": lambda: PowOp(2.0),
    "sqrt": lambda: PowOp(0.5),
    "rsqrt": lambda: PowOp(-0.5),
    "reciprocal": lambda: PowOp(-1.0),
    "cat": lambda: ConcatOp(),
    "concat": lambda: ConcatOp(),
    "stack": lambda: ConcatOp(),
    "masked_fill": lambda: MaskOp(),
    "masked_fill_": lambda: MaskOp(),
    "where": lambda: MaskOp(),
    "detach": lambda: DetachOp(),
    "dropout": lambda: DropoutOp(),
    "native_dropout": lambda: DropoutOp(),
    "glu": lambda: GluOp(),
    "pad": lambda: PadOp(),
    "constant_pad_nd": lambda: PadOp("constant"),
    "reflection_pad1d": lambda: PadOp("reflect"),
    "reflection_pad2d": lambda: PadOp("reflect"),
    "reflection_pad3d": lambda: PadOp("reflect"),
    "replication_pad1d": lambda: PadOp("replicate"),
    "replication_pad2d": lambda: PadOp("replicate"),
    "replication_pad3d": lambda: PadOp("replicate"),
    "interpolate": lambda: ResampleOp(),
    "upsample": lambda: ResampleOp(),
    "upsample_nearest1d": lambda: ResampleOp("nearest"),
    "upsample_nearest2d": lambda: ResampleOp("nearest"),
    "upsample_nearest3d": lambda: ResampleOp("nearest"),
    "upsample_linear1d": lambda: ResampleOp("linear"),
    "upsample_bilinear2d": lambda: ResampleOp("bilinear"),
    "upsample_bicubic2d": lambda: ResampleOp("bicubic"),
    "upsample_trilinear3d": lambda: ResampleOp("trilinear"),
    "layer_norm": lambda: FeatureNormOp(),
    "group_norm": lambda: FeatureNormOp(),
    "instance_norm": lambda: FeatureNormOp(),
    "rms_norm": lambda: FeatureNormOp(subtract_mean=False),
    "normalize": lambda: NormalizeOp(),
    "norm": lambda: VectorNormOp(),
    "linalg_vector_norm": lambda: VectorNormOp(),
    "clamp": lambda: ClampOp(),
    "clamp_min": lambda: ClampOp(),
    "batch_norm": lambda: BatchNormOp(),
    "embedding": lambda: EmbeddingOp(),
    "exp": lambda: ElementwiseOp("exp"),
    "abs": lambda: ElementwiseOp("abs"),
    "neg": lambda: ElementwiseOp("neg"),
    "erf": lambda: ElementwiseOp("erf"),
    "cos": lambda: ElementwiseOp("cos"),
    "sin": lambda: ElementwiseOp("sin"),
}

_PASS_THROUGH = frozenset(
    {
        "view",
        "reshape",
        "_unsafe_view",
        "flatten",
        "unflatten",
        "permute",
        "transpose",
        "t",
        "contiguous",
        "unsqueeze",
        "squeeze",
        "expand",
        "expand_as",
        "clone",
        "getitem",
        "__getitem__",
        "index",
        "slice",
        "select",
        "narrow",
        "split",
        "chunk",
        "split_with_sizes",
        "unbind",
        "alias",
        "to",
        "_to_copy",
        "type",
        "type_as",
        "float",
        "half",
        "bfloat16",
        "double",
        "lift_fresh_copy",
        "view_as",
        "repeat",
        "roll",
        "flip",
        "pixel_shuffle",  # a permutation of values between channels and positions
        "pixel_unshuffle",
        "channel_shuffle",
        "movedim",
        "swapaxes",
        "identity",
        "dropout_",
        "getattr",  # ``torch.sort(x).values``, ``x.T``: a field or view of a tensor (``.shape`` is a size, not a signal)
    }
)

ZERO_CONSTRUCTORS = frozenset({"zeros", "zeros_like", "new_zeros"})

# Ops that build tensors from sizes only (positions, masks): no signal, no gradient.
_CONSTRUCTORS = frozenset(
    {
        "arange",
        "ones",
        "zeros",
        "full",
        "empty",
        "ones_like",
        "zeros_like",
        "full_like",
        "empty_like",
        "tril",
        "triu",
        "eye",
        "randn",
        "rand",
        "rand_like",
        "randn_like",
        "randint_like",
        "new_ones",
        "new_zeros",
        "new_full",
        "new_empty",
        "scalar_tensor",
        "tensor",
        "linspace",
        "bernoulli",
    }
)

# Comparisons and tests give booleans: nothing flows back through them (a distribution's argument
# checks, ``x > 0`` masks); the mask's effect is the rule of the op that applies it.
_BOOLEAN = frozenset(
    {
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        *(f"__{op}__" for op in ("eq", "ne", "gt", "ge", "lt", "le")),
        "_is_all_true",
        "_is_any_true",
        "all",
        "any",
        "isfinite",
        "isnan",
        "isinf",
        "logical_and",
        "logical_or",
        "logical_not",
        "logical_xor",
    }
)


def op_for(node: LayerNode, graph: ModelGraph) -> Op:
    if node.op == "call_module":
        return _module_op(node)
    return _function_op(node, graph)


def _module_op(node: LayerNode) -> Op:
    role, kind = node.role, node.module_type or ""
    if role == "linear":
        return LinearOp()
    if role == "conv":
        return ConvOp()
    if role == "activation":
        if node.activation == "glu":
            return GluOp()
        return ActivationOp(node.activation or "identity")
    if role == "normalization":
        kind = str(node.attrs.get("norm_base", kind))
        if any(kind.startswith(prefix) for prefix in _BATCH_NORMS):
            return BatchNormOp()
        if "RMSNorm" in kind:
            return FeatureNormOp(subtract_mean=False)
        if kind in ("LayerNorm", "GroupNorm") or kind.startswith("InstanceNorm"):
            return FeatureNormOp()
        return OpaqueOp(f"normalization layer {kind} has no rule: assumed gain 1")
    if role == "dropout":
        return DropoutOp()
    if role == "pool":
        return PoolOp("max" if "Max" in kind else "avg")
    if role == "embedding":
        if kind == "EmbeddingBag":
            return OpaqueOp("EmbeddingBag: pooled lookups approximated by the table's statistics")
        return EmbeddingOp()
    if role == "recurrent":
        return RecurrentOp()
    if role == "attention":
        return MultiheadAttentionOp()
    if role == "softmax":
        return SoftmaxOp(log=kind == "LogSoftmax")
    if role == "reshape" or kind in ("PixelShuffle", "PixelUnshuffle", "ChannelShuffle"):
        return IdentityOp()
    if kind.startswith(_PAD_LAYERS):
        return PadOp()
    if kind in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
        return ResampleOp()
    if kind in _CELLS:
        return CellOp()
    return OpaqueOp(f"layer {kind} has no rule: assumed gain 1")


def _function_op(node: LayerNode, graph: ModelGraph) -> Op:
    name = node.target
    if node.activation is not None:
        if node.activation == "glu":
            return GluOp()
        return ActivationOp(node.activation)
    if name in ("linear",):
        return _functional_linear(node, graph)
    if name in ("conv1d", "conv2d", "conv3d"):
        return _functional_conv(node, graph)
    if name in _FUNCTION_RULES:
        return _FUNCTION_RULES[name]()
    if name in ("getitem", "__getitem__", "select") and _reads_one_position(node, graph):
        return OpaqueOp(
            "reads one position of a token sequence (a class token): the estimate keeps one scale per tensor, "
            "and this position's scale and gradient can differ from the average by orders of magnitude"
        )
    if name in _PASS_THROUGH:
        return IdentityOp()
    if name in _BOOLEAN:
        return ConstantOp()
    if name in _CONSTRUCTORS:
        # shaped like their input (``x.new_empty(...).bernoulli_(keep)``: stochastic depth's mask), not from its values
        return ConstantOp(zero=name in ZERO_CONSTRUCTORS)
    return OpaqueOp(f"no rule for {name!r}: assumed gain 1")


def _functional_linear(node: LayerNode, graph: ModelGraph) -> Op:
    params = [graph.node(i).target for i in node.inputs[1:] if graph.node(i).op == "get_attr"]
    weight = params[0] if params else None
    bias = params[1] if len(params) > 1 else None
    return LinearOp(weight, bias)


def _reads_one_position(node: LayerNode, graph: ModelGraph) -> bool:
    """``x[:, 0]`` or ``x[:, 0:1]`` on a (B, T, D) sequence: a head or a fusion reading the class token."""
    if not node.inputs or node.shape is None:
        return False
    source = graph.node(node.inputs[0]).shape
    if source is None or len(source) != 3 or source[1] <= 1:
        return False
    batch, _, width = source
    return tuple(node.shape) in ((batch, width), (batch, 1, width)) and _prepends_learned_token(graph)


def _prepends_learned_token(graph: ModelGraph) -> bool:
    """A parameter (a class or distillation token, expanded over the batch) is concatenated to a sequence.

    Only then is one position's scale its own: a loop reading ``x[:, t]`` step by step reads positions alike.
    """
    for node in graph.nodes:
        if node.op != "call_function" or node.target not in ("cat", "concat") or node.attrs.get("dim") not in (1, -2):
            continue
        if any(parameter_behind(graph, source) is not None for source in node.inputs):
            return True
    return False


def _functional_conv(node: LayerNode, graph: ModelGraph) -> Op:
    weight = parameter_behind(graph, node.inputs[1]) if len(node.inputs) > 1 else None
    if weight is None:
        return OpaqueOp(f"{node.target} with a computed kernel: assumed gain 1")
    bias = parameter_behind(graph, node.inputs[2]) if len(node.inputs) > 2 else None
    return FunctionalConvOp(weight, bias)


def is_constructor(node: LayerNode) -> bool:
    return node.op == "call_function" and node.target in _CONSTRUCTORS
