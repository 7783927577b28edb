"""First choice: ``torch.fx`` symbolic tracing, then shape propagation on the meta device."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from gradlint.trace import ops
from gradlint.trace.builder import RawOp
from gradlint.trace.copies import meta_copy, shared_copy, to_meta
from gradlint.trace.shapes import ForwardFailure, first_tensor_meta


class _Tracer(fx.Tracer):
    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return ops.is_layer(m)


def _forward_parameters(model: nn.Module) -> list[inspect.Parameter] | None:
    """``forward``'s named parameters in order, fx's placeholders; None when the signature cannot be read."""
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p for p in signature.parameters.values() if p.kind in kinds]


def _concrete_args(
    model: nn.Module, example_inputs: Sequence[Any], example_kwargs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Forward arguments the example inputs do not give keep their defaults (``mask=None``), so ``if mask is not None`` traces."""
    params = _forward_parameters(model)
    if params is None:
        return None
    concrete = {
        p.name: p.default
        for p in params[len(example_inputs) :]
        if p.default is not inspect.Parameter.empty and p.name not in example_kwargs
    }
    return concrete or None


def _placeholder_values(
    model: nn.Module, example_inputs: Sequence[Any], example_kwargs: Mapping[str, Any]
) -> list[Any]:
    """The values of fx's placeholders, in order: keyword inputs put in their parameter's place."""
    values = list(example_inputs)
    params = _forward_parameters(model)
    if not example_kwargs or params is None:
        return values
    unknown = sorted(set(example_kwargs) - {p.name for p in params})
    if unknown:
        error = TypeError(f"forward() got an unexpected keyword argument {unknown[0]!r}")
        raise ForwardFailure(error, "", at_inputs=True)
    last = max(i for i, p in enumerate(params) if p.name in example_kwargs)
    for p in params[len(values) : last + 1]:
        values.append(example_kwargs.get(p.name, p.default))
    return values


def trace_fx(
    model: nn.Module,
    example_inputs: Sequence[Any],
    example_kwargs: Mapping[str, Any] | None = None,
    tracer: fx.Tracer | None = None,
) -> list[RawOp]:
    """Trace with ``tracer`` (default: gradlint's, which keeps known layers whole) and propagate shapes."""
    kwargs = example_kwargs or {}
    tracer = tracer if tracer is not None else _Tracer()
    # Tracing runs the forward with proxies: one that caches on ``self`` (``self.freqs_cis = ...``) must do it on a copy.
    traced = shared_copy(model)
    graph = tracer.trace(traced, concrete_args=_concrete_args(model, example_inputs, kwargs))
    _refuse_hidden_weights(graph, model)
    # fx keeps tensor constants (``_tensor_constant0``: a tensor a forward makes from Python values, Swin's
    # relative-position index) as attributes of the module it traced: the copy, so shapes propagate on it.
    values = _propagate(traced, graph, _placeholder_values(model, example_inputs, kwargs))
    raw: list[RawOp] = []
    for node in graph.nodes:
        if node.op == "placeholder" and node.name not in values:
            continue  # a concrete (default) argument, not an input
        shape, dtype = values.get(node.name, (None, None))
        inputs = tuple(a.name for a in node.all_input_nodes)
        stack = node.meta.get("nn_module_stack") or {}
        enclosing = next(reversed(stack.values()))[0] if stack else ""
        if node.op == "call_module":
            raw.append(
                RawOp(
                    node.name, "call_module", str(node.target), inputs, str(node.target), shape, dtype, node.stack_trace
                )
            )
        elif node.op in ("call_function", "call_method"):
            name = ops.canonical_function_name(node.target)
            if name in ("_assert_is_none",):
                continue
            attrs = ops.scalar_args(tuple(node.args), dict(node.kwargs))
            raw.append(
                RawOp(node.name, "call_function", name, inputs, enclosing, shape, dtype, node.stack_trace, attrs)
            )
        elif node.op == "get_attr":
            raw.append(RawOp(node.name, "get_attr", str(node.target), (), None, shape, dtype))
        else:
            raw.append(RawOp(node.name, node.op, node.op, inputs, None, shape, dtype))
    return raw


# Functions fx may record as one call without hiding a layer: torch's own ops and Python's operators.
_TRANSPARENT_MODULES = frozenset({"torch", "_operator", "operator", "math", "builtins"})


class HiddenWeights(Exception):
    """fx kept a library function whole (``torch.fx.wrap``, autowrap) that takes weights: the layers inside are invisible."""


def _refuse_hidden_weights(graph: fx.Graph, model: nn.Module) -> None:
    """Raise ``HiddenWeights`` when a wrapped function takes a weight (dim >= 2), so a finer method traces the model.

    torchvision's Swin passes its attention weights to ``shifted_window_attention``, kept whole by
    ``torch.fx.wrap``: the graph would hold neither its linear layers nor their shapes.
    """
    parameters = dict(model.named_parameters())
    for node in graph.nodes:
        if (
            node.op != "call_function"
            or (getattr(node.target, "__module__", None) or "").split(".")[0] in _TRANSPARENT_MODULES
        ):
            continue
        weights = [
            str(a.target)
            for a in node.all_input_nodes
            if a.op == "get_attr" and (p := parameters.get(str(a.target))) is not None and p.dim() >= 2
        ]
        if weights:
            more = f" and {len(weights) - 1} more" if len(weights) > 1 else ""
            raise HiddenWeights(
                f"fx keeps {ops.canonical_function_name(node.target)}() whole, and it takes the weight {weights[0]}{more}"
            )


# Layers whose output has their input's shape and dtype. On meta tensors only the shape is wanted, and
# torch's meta batch norm runs a Python decomposition: 11 ms a layer, 3/4 of ResNet-50's shape propagation.
_SAME_SHAPE = frozenset({nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity})
_BATCH_NORMS = frozenset({nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d})


class _Recorder(fx.Interpreter):
    def __init__(self, module: nn.Module, graph: fx.Graph, *, on_meta: bool = False) -> None:
        super().__init__(fx.GraphModule(module, graph))
        self.values: dict[str, tuple[tuple[int, ...] | None, str | None]] = {}
        self.layers_done = 0
        self.on_meta = on_meta

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        x = args[0] if self.on_meta and len(args) == 1 and not kwargs else None
        if isinstance(x, torch.Tensor) and x.device.type == "meta":
            module = self.fetch_attr(target)
            kind = type(module)  # exactly these classes: a subclass may change its forward
            if kind in _SAME_SHAPE:
                return torch.empty_like(x)
            # one value per channel in training mode is the real forward's error: the kernel runs and says so
            single = module.training and x.shape[0] * math.prod(x.shape[2:]) == 1 if x.dim() >= 2 else True
            if kind in _BATCH_NORMS and not single and x.shape[1] == module.num_features:
                module._check_input_dim(x)  # the real forward's errors (a 3-D input to BatchNorm2d) stay errors
                return torch.empty_like(x)
        return super().call_module(target, args, kwargs)

    def run_node(self, n: fx.Node) -> Any:
        try:
            result = super().run_node(n)
        except ForwardFailure:
            raise
        except Exception as exc:  # the user's forward: any exception type is possible
            stack = n.meta.get("nn_module_stack") or {}
            where = str(n.target) if n.op == "call_module" else (next(reversed(stack.values()))[0] if stack else "")
            raise ForwardFailure(exc, where, n.stack_trace, at_inputs=not self.layers_done) from exc
        self.values[n.name] = first_tensor_meta(result)
        self.layers_done += n.op == "call_module"
        return result


def _propagate(model: nn.Module, graph: fx.Graph, example_inputs: Sequence[Any]) -> dict[str, Any]:
    """Shapes of every node (``example_inputs``: the placeholders' values, in order): on the meta device when it can, else with a real forward on a private copy."""
    try:
        recorder = _Recorder(meta_copy(model), graph, on_meta=True)
        with torch.no_grad():
            recorder.run(*to_meta(list(example_inputs)))
        return recorder.values
    except ForwardFailure:
        pass  # some ops have no meta kernel or need concrete values: measure for real
    recorder = _Recorder(shared_copy(model), graph)
    with torch.no_grad(), torch.random.fork_rng():
        recorder.run(*example_inputs)
    return recorder.values
