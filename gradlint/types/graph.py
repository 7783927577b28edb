"""What load and trace hand on: the loaded model and the traced graph of one model.

Nothing here holds a reference to the user's model except ``LoadedModel``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gradlint.types.base import SourceLocation, frozen_mapping

if TYPE_CHECKING:
    import torch
    from torch import nn


META_NOTE = "statistics come from the recorded init calls and spectral norms are random-matrix estimates"
"""What meta mode changes in the numbers (``ModelGraph.meta``), said wherever the report says the model was on the meta device."""


@dataclass(frozen=True)
class InputSpec:
    """One example input as the model receives it."""

    shape: tuple[int, ...]
    dtype: str
    origin: str
    """Where it came from: ``example_inputs()``, ``--input-shape``, or the first layer."""
    name: str | None = None
    """Where it sits in the call when not simply the next positional argument: ``args[1][0]``
    (a hidden state inside a tuple), ``kwargs['context']``; None for a plain positional tensor."""


@dataclass(frozen=True)
class InitCall:
    """One initialisation call recorded on a tensor while the model was built."""

    name: str
    """``kaiming_uniform_``, ``normal_``, ``zero_``, ``mul_``, ``copy_`` ..."""
    args: Mapping[str, Any] = field(default_factory=frozen_mapping)
    """Scalar arguments of the call (``std``, ``a``, ``mode``, ``nonlinearity``, ``gain`` ...)."""
    whole: bool = True
    """False when the call wrote only part of the tensor (a slice, e.g. an LSTM forget-gate bias)."""
    elements: int = 0
    """How many elements the call wrote."""

    def __str__(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.args.items())
        where = "" if self.whole else f" on {self.elements} elements"
        return f"{self.name}({args}){where}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class LoadedModel:
    """What the load stage hands to the rest of the pipeline."""

    target: str
    """The target as the user can write it again, e.g. ``examples/mlp.py:DeepMLP``."""
    name: str
    source_path: str
    model: nn.Module
    example_inputs: tuple[Any, ...]
    inputs: tuple[InputSpec, ...]
    construction_sites: Mapping[str, SourceLocation]
    """Module path -> the line that constructed that module."""
    init_records: Mapping[str, tuple[InitCall, ...]]
    """Parameter name -> the init calls recorded on it while the model was built, oldest first."""
    meta: str | None = None
    """Why the model was built on the meta device (``--meta``, or too large for memory); None: real weights."""
    example_kwargs: Mapping[str, Any] = field(default_factory=frozen_mapping)
    """Keyword arguments of ``forward`` (``--input-kwargs``, ``example_kwargs()``), beside ``example_inputs``."""
    built: str | None = None
    """How the model was built: ``GPT(GPTConfig(n_layer=4))``, ``build_model()``; None for an instance the file made."""
    rebuild: Callable[[], nn.Module] | None = field(default=None, compare=False, repr=False)
    """Builds a fresh instance of the same architecture (the class or factory called again); None when load
    only knows the instance. The probe uses it when a deep copy of ``model`` fails or would share its state."""


@dataclass(frozen=True)
class InitInfo:
    """How a weight was initialised."""

    scheme: str
    """``pytorch-default``, ``kaiming_normal(relu, fan_in)``, ``xavier_uniform(gain=1)``, ``lecun_normal``,
    ``orthogonal(gain=1)``, ``normal(std=0.02)``, ``uniform(±0.1)``, ``zeros``, ``constant(0.5)`` or ``unknown``."""
    source: str
    """``recorded`` (an init call seen while the model was built) or ``statistics`` (inferred from the values)."""
    calls: tuple[str, ...] = ()
    """The recorded calls on this tensor, oldest first."""


@dataclass(frozen=True)
class WeightInfo:
    """A weight as the reference protocol defines it: a parameter with ``dim >= 2`` not owned by an ``nn.Embedding``."""

    name: str
    module: str
    module_type: str
    shape: tuple[int, ...]
    init: InitInfo
    std: float
    mean: float
    forward_index: int
    """Rank in forward order: by the first call of the owning module (or of its nearest ancestor that ran)."""


@dataclass(frozen=True)
class ParamStats:
    """Statistics of one parameter that the estimator needs: all it reads of the real weights."""

    name: str
    module: str
    shape: tuple[int, ...]
    mean: float
    mean_sq: float
    """E[w²] over all entries (mean² + variance)."""
    blocks: tuple[tuple[float, float], ...] = ()
    """(mean, E[w²]) of equal row blocks: the gates of an RNN's weights and biases (4 for an LSTM,
    3 for a GRU) and the q/k/v parts of ``in_proj_weight``; empty otherwise."""
    spectral_norm: float | None = None
    """Largest singular value (for a convolution, of the operator at the layer's real input size)."""
    spectral_radius: float | None = None
    """Largest |eigenvalue| of a recurrent matrix (per gate block, the largest)."""
    spectral_source: str | None = None
    """``exact``, ``lanczos`` (a large matrix, a convolution's operator) or ``random-matrix estimate`` (meta device)."""

    @property
    def finite(self) -> bool:
        """Every element is finite: a NaN or ±inf would have reached the mean or E[w²] (False without values)."""
        return math.isfinite(self.mean) and math.isfinite(self.mean_sq)

    @property
    def std(self) -> float | None:
        """The standard deviation (unbiased, as ``Tensor.std``) from ``mean`` and ``mean_sq``; None where
        the mean carries most of E[w²] (the difference would lose its digits) or they are not finite."""
        count = math.prod(self.shape)
        if count < 2 or not self.finite or self.mean**2 > 0.5 * self.mean_sq:
            return None
        return math.sqrt(max(self.mean_sq - self.mean**2, 0.0) * count / (count - 1))


@dataclass(frozen=True)
class TensorHealth:
    """Finite-ness of one parameter or buffer."""

    name: str
    module: str
    kind: str
    """``parameter`` or ``buffer``."""
    numel: int
    nan: int
    inf: int


@dataclass(frozen=True)
class LayerNode:
    """One node of the traced graph, in execution order."""

    name: str
    """Unique node name (from the fx graph, or the module path plus call index)."""
    op: str
    """``placeholder``, ``call_module``, ``call_function``, ``call_method``, ``get_attr`` or ``output``."""
    target: str
    """Readable target: a module class name, a function name (``relu``, ``add``) or a method name."""
    inputs: tuple[str, ...]
    """Names of the nodes whose outputs this node consumes."""
    module: str | None = None
    """Dotted module path for module calls; for functional calls, the module whose forward holds the call."""
    module_type: str | None = None
    shape: tuple[int, ...] | None = None
    """Shape of the (first tensor) output."""
    dtype: str | None = None
    role: str | None = None
    """``linear``, ``conv``, ``embedding``, ``recurrent``, ``attention``, ``activation``, ``normalization``,
    ``residual-add``, ``add``, ``mul``, ``matmul``, ``softmax``, ``pool``, ``dropout``, ``reshape`` or None."""
    activation: str | None = None
    """For an activation node, its canonical name (``relu``, ``tanh``, ``gelu``, ``leaky_relu`` ...)."""
    feeds_activation: str | None = None
    """For a layer, the activation applied to its output (through dropout/reshape), if any."""
    params: int = 0
    """Parameters owned by this node's module (recursively), for module calls."""
    call_index: int = 0
    """0 for the first call of this module in one forward, 1 for the second..."""
    call_count: int = 1
    """How many times this node's module is applied in one forward (> 1 for recurrence through a loop)."""
    location: SourceLocation | None = None
    """Where the layer was constructed (module calls) or the op's line in ``forward`` (functional calls)."""
    forward_location: SourceLocation | None = None
    """The line in a ``forward`` that makes this call, when known."""
    attrs: Mapping[str, Any] = field(default_factory=frozen_mapping)
    """Op details read from the module or call: ``negative_slope``, ``kernel_size``, ``stride``, ``eps`` ..."""


@dataclass(frozen=True)
class TraceAttempt:
    method: str
    error: str


@dataclass(frozen=True)
class TraceInfo:
    method: str
    """``fx``, ``export`` or ``hooks``."""
    failed: tuple[TraceAttempt, ...] = ()
    """Methods tried before ``method``, each with why it failed."""


@dataclass(frozen=True)
class ModelGraph:
    """Everything the rules and the estimator know about one model."""

    target: str
    name: str
    source_path: str
    trace: TraceInfo
    inputs: tuple[InputSpec, ...]
    nodes: tuple[LayerNode, ...]
    weights: tuple[WeightInfo, ...]
    tensors: tuple[TensorHealth, ...]
    params: Mapping[str, ParamStats]
    """Every parameter, by its ``named_parameters()`` name."""
    module_types: Mapping[str, str]
    """Module path -> class name, for every module of the model."""
    module_locations: Mapping[str, SourceLocation]
    """Module path -> the line that constructed it (inherited from the parent when not recorded)."""
    parameter_count: int
    training: bool
    meta: str | None = None
    """Why the model was analysed on the meta device (no weight values: statistics from the recorded
    init calls, random-matrix spectral norms); None when it has real weights."""
    built: str | None = None
    """How the model was built (``LoadedModel.built``)."""

    def node(self, name: str) -> LayerNode:
        return self.nodes_by_name[name]

    # The estimator, the rules and the formatters look nodes and weights up by name while walking the
    # graph: one index each, built once, instead of a scan (or a rebuilt dict) per consumer.
    @cached_property
    def nodes_by_name(self) -> Mapping[str, LayerNode]:
        return {node.name: node for node in self.nodes}

    @cached_property
    def weights_by_name(self) -> Mapping[str, WeightInfo]:
        return {weight.name: weight for weight in self.weights}

    @cached_property
    def consumers(self) -> Mapping[str, tuple[LayerNode, ...]]:
        """Node name -> the nodes that take its output as an input, in execution order."""
        found: dict[str, list[LayerNode]] = {node.name: [] for node in self.nodes}
        for node in self.nodes:
            for name in node.inputs:
                found.setdefault(name, []).append(node)
        return {name: tuple(users) for name, users in found.items()}

    @cached_property
    def output_node(self) -> LayerNode | None:
        return next((node for node in reversed(self.nodes) if node.op == "output"), None)

    def input_node(self, node: LayerNode, index: int = 0) -> LayerNode | None:
        """The node whose output is ``node``'s ``index``-th input (None past the last, or for a constant)."""
        return self.nodes_by_name.get(node.inputs[index]) if index < len(node.inputs) else None

    def upstream(self, node: LayerNode | None, *, limit: int = 64, inclusive: bool = False) -> Iterator[LayerNode]:
        """Back along main inputs: ``node``'s first input, that node's first input ... nearest first.

        At most ``limit`` nodes (a guard against long chains, not a cycle: the graph is acyclic); with
        ``inclusive`` the walk starts at ``node`` itself. The caller stops when what it looks for is found.
        """
        current = node if inclusive else (self.input_node(node) if node is not None else None)
        for _ in range(limit):
            if current is None:
                return
            yield current
            current = self.input_node(current)

    def downstream(self, node: LayerNode, *, limit: int = 64) -> Iterator[LayerNode]:
        """Forward while the value has a single consumer: that consumer, its single consumer ... nearest first."""
        current = node
        for _ in range(limit):
            users = self.consumers.get(current.name, ())
            if len(users) != 1:
                return
            current = users[0]
            yield current

    def layer_nodes(self) -> tuple[LayerNode, ...]:
        """Module calls, the rows of the layer table."""
        return tuple(n for n in self.nodes if n.op == "call_module")


def nearest_site(path: str, sites: Mapping[str, SourceLocation]) -> SourceLocation | None:
    """The location recorded for module ``path``, or for its nearest ancestor that has one."""
    while True:
        if path in sites:
            return sites[path]
        if not path:
            return None
        path = path.rpartition(".")[0]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
