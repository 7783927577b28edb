"""Functional ops in ``forward`` and what feeds them: the GL6xx numerically-unstable-op rules (DESIGN §3).

Names are the canonical ones the trace stage writes (``torch.log``, ``Tensor.log`` and ``aten.log``
all read ``log``).
"""

from __future__ import annotations

from gradlint.rules._graphs import View
from gradlint.types import LayerNode

#: Ops that only move or view values: an eps added before them still protects the op after them.
VIEWS = frozenset(
    {"view", "reshape", "_unsafe_view", "flatten", "unsqueeze", "squeeze", "expand", "expand_as", "permute", "transpose",
     "contiguous", "clone", "to", "float", "double", "half", "type_as", "alias", "getitem", "select", "slice"}
)
DIVIDE = frozenset({"truediv", "div", "__truediv__", "div_", "true_divide"})
NORMS = frozenset({"norm", "linalg_vector_norm", "linalg_norm", "frobenius_norm", "vector_norm", "std"})
#: Ops whose output is strictly positive whatever their input.
POSITIVE = frozenset({"exp", "softplus", "sigmoid", "cosh", "elu_plus_one"})
ADD = frozenset({"add", "add_", "__add__", "__radd__", "iadd"})
CLAMPS = frozenset({"clamp", "clamp_", "clamp_min", "clamp_min_", "clip", "clip_", "maximum"})


def through_views(view: View, node: LayerNode | None) -> LayerNode | None:
    """The first node behind ``node`` that is not a view or reshape."""
    for _ in range(16):
        if node is None or node.target not in VIEWS:
            return node
        node = view.input_node(node)
    return node


def scalar_values(node: LayerNode) -> list[float]:
    return [float(v) for v in node.attrs.get("scalars", ()) if isinstance(v, int | float) and not isinstance(v, bool)]


def has_floor(view: View, node: LayerNode | None) -> bool:
    """``node``'s value is kept away from 0: ``+ eps``, ``clamp(min=eps)``, or an op that is always positive."""
    node = through_views(view, node)
    if node is None:
        return False
    if node.target in POSITIVE or node.activation in POSITIVE:
        return True
    if node.target in ADD:
        if any(v > 0 for v in scalar_values(node)) or float(node.attrs.get("alpha", 0) or 0) > 0:
            return True
        # ``x + self.eps`` with eps a buffer or parameter: an operand that is a stored tensor
        return any((source := view.by_name.get(name)) is not None and source.op == "get_attr" for name in node.inputs)
    if node.target in CLAMPS:
        low = node.attrs.get("min")
        if isinstance(low, int | float) and low > 0:
            return True
        values = scalar_values(node)
        return bool(values) and values[0] > 0
    return False
