"""Evaluate the Python numbers a traced forward computes from shapes: ``d = q.size(-1)``, ``1 / math.sqrt(d)``.

fx keeps such expressions as nodes; their values follow from the traced shapes, and an
attention scale hidden in them decides whether the softmax saturates.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from gradlint.trace.ops import NODE_ARG
from gradlint.types import LayerNode

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "add": operator.add,
    "sub": operator.sub,
    "pow": operator.pow,
    "mod": operator.mod,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "sqrt": math.sqrt,
    "rsqrt": lambda v: 1 / math.sqrt(v),
    "neg": operator.neg,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "exp": math.exp,
    "int": int,
    "float": float,
}


def evaluate(node: LayerNode, nodes: Mapping[str, LayerNode], values: Mapping[str, Any]) -> Any:
    """The value of a non-tensor node, or None when it cannot be known statically."""
    target, attrs = node.target, node.attrs
    operands = _operands(node, values)
    try:
        if target in ("size", "dim") and node.inputs:
            shape = nodes[node.inputs[0]].shape
            if shape is None:
                return None
            if target == "dim":
                return len(shape)
            dims = [v for v in attrs.get("scalars", ()) if isinstance(v, int) and not isinstance(v, bool)]
            return shape[dims[0]] if dims else tuple(shape)
        if target == "getattr" and node.inputs and "shape" in attrs.get("scalars", ()):
            return nodes[node.inputs[0]].shape
        if target in ("getitem", "__getitem__") and len(operands) == 2 and isinstance(operands[0], tuple):
            return operands[0][operands[1]]
        if target in _BINARY and len(operands) == 2 and all(_number(v) for v in operands):
            return _BINARY[target](*operands)
        if target in _UNARY and len(operands) == 1 and _number(operands[0]):
            return _UNARY[target](operands[0])
    except (ArithmeticError, IndexError, TypeError, ValueError):
        return None
    return None


def _operands(node: LayerNode, values: Mapping[str, Any]) -> list[Any]:
    layout = node.attrs.get("layout")
    inputs = iter(values.get(i) for i in node.inputs)
    if layout is None:
        return [values.get(i) for i in node.inputs]
    return [next(inputs, None) if item == NODE_ARG else item for item in layout]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
