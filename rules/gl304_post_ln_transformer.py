"""A deep Post-LN Transformer: LayerNorm after every residual add, which needs learning-rate warm-up to train.

## What it does
Finds LayerNorm/RMSNorm layers applied directly to the output of a residual add (`LN(x + F(x))`,
PyTorch's `norm_first=False` default, BERT, the original Transformer), follows the chain they form
(each norm's output is the next block's residual input) and counts the layers whose branch holds
an attention op. Six or more such layers are reported, with the DeepNorm constants for this depth.

## Why is this bad
Xiong et al. (2020) show that at initialisation the expected gradient of a Post-LN Transformer's
last layers is O(d·√(ln d)), independent of depth, where Pre-LN's is O(d·√(ln d / L)): the norms
after each add rescale the stream but not the gradient. With Adam's first steps at the target
learning rate the last layers blow up; Post-LN models therefore train only with a learning-rate
warm-up, and deep ones (tens of layers) often not even then. It is a warning, not an error: BERT and
the original Transformer train with warm-up.

## Example
```python
layer = nn.TransformerEncoderLayer(d_model=256, nhead=8, batch_first=True)  # norm_first=False
self.encoder = nn.TransformerEncoder(layer, num_layers=12)
```

## Use instead
Pre-LN (`norm_first=True`, plus a final LayerNorm), or keep Post-LN with DeepNorm's residual
scaling α = (2N)^(1/4) and branch init gain β = (8N)^(-1/4) (Wang et al. 2022), or warm up the
learning rate:
```python
layer = nn.TransformerEncoderLayer(d_model=256, nhead=8, batch_first=True, norm_first=True)
self.encoder = nn.TransformerEncoder(layer, num_layers=12, norm=nn.LayerNorm(256))
```
"""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.rulekit import Example, Fix, Hit, LayerNode, ModelGraph, RuleContext, Severity, View, frozen_mapping

CODE = "GL304"
NAME = "post-ln-transformer"
SEVERITY = Severity.WARNING
KIND = "normalization"

#: Post-LN layers (each with an attention branch) before the depth matters (Xiong et al. 2020 train
#: 6-layer Post-LN models only with warm-up).
MIN_LAYERS = 6
FEATURE_NORMS = ("LayerNorm", "RMSNorm", "FusedLayerNorm", "T5LayerNorm")
ATTENTION_ROLES = frozenset({"attention", "softmax"})
#: Warm-up length in steps suggested with the fix (Vaswani et al. 2017 used 4000).
WARMUP_STEPS = 4000


def check(ctx: RuleContext) -> Iterator[Hit]:
    graph = ctx.graph
    view = ctx.view
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    post = _post_norms(view)
    for chain in _chains(view, post):
        layers = []
        for add, norm in chain:
            skip = _skip_source(view, add, post)
            start = order.get(skip, 0) if skip else 0
            if any(n.role in ATTENTION_ROLES for n in graph.nodes[start : order[add.name]]):
                layers.append(norm)
        count = len(layers)
        if count < MIN_LAYERS:
            continue
        alpha, beta = (2 * count) ** 0.25, (8 * count) ** -0.25
        first_norm = layers[0]
        torch_layer = _torch_layer(graph, first_norm)
        yield Hit(
            message=(
                f"{count} Transformer layers are Post-LN (LayerNorm after each residual add, e.g. `{first_norm.module}`): "
                f"at init the last layers' gradients are O(d·√(ln d)) instead of Pre-LN's O(d·√(ln d / L)) "
                f"(Xiong et al. 2020), so Adam's first steps at the full learning rate blow the last layers up: it needs learning-rate warm-up"
            ),
            module=first_norm.module,
            fix=Fix(
                (
                    f"use Pre-LN: `{torch_layer}(..., norm_first=True)` and a final LayerNorm; "
                    if torch_layer
                    else "move each LayerNorm to the start of its branch (Pre-LN: `x + F(LN(x))`) and add a final LayerNorm; "
                )
                + f"or keep Post-LN with DeepNorm for N = {count}: `LN(α·x + F(x))` with α = (2N)^(1/4) = {alpha:.3g} "
                f"and the value, output and feed-forward weights initialised with gain β = (8N)^(-1/4) = {beta:.3g}; "
                f"or warm the learning rate up over ~{WARMUP_STEPS} steps",
                _snippet(torch_layer, count, alpha, beta),
            ),
            evidence=frozen_mapping(
                {
                    "layers": count,
                    "norms": [n.module for n in layers],
                    "deepnorm_alpha": round(alpha, 4),
                    "deepnorm_beta": round(beta, 4),
                }
            ),
        )


def _post_norms(view: View) -> dict[str, LayerNode]:
    """residual add name -> the feature norm applied directly to it (through dropout)."""
    found = {}
    for node in view.graph.nodes:
        if node.role != "normalization" or not (node.module_type or "").endswith(FEATURE_NORMS):
            continue
        source = view.input_node(node)
        while source is not None and source.role == "dropout":
            source = view.input_node(source)
        if source is not None and source.role == "residual-add":
            found[source.name] = node
    return found


def _skip_source(view: View, add: LayerNode, post: dict[str, LayerNode]) -> str | None:
    """The input of ``add`` that comes from the previous Post-LN norm (through dropout/reshape), if any."""
    norms = {n.name for n in post.values()}
    for name in add.inputs:
        node = view.by_name.get(name)
        while node is not None and node.role in ("dropout", "reshape"):
            node = view.input_node(node)
        if node is not None and node.name in norms:
            return node.name
    return None


def _chains(view: View, post: dict[str, LayerNode]) -> list[list[tuple[LayerNode, LayerNode]]]:
    """Runs of (add, norm) where each add's skip input is the previous norm's output."""
    by_norm = {norm.name: view.by_name[add] for add, norm in post.items()}
    previous: dict[str, str] = {}
    for add_name in post:
        source = _skip_source(view, view.by_name[add_name], post)
        if source is not None:
            previous[add_name] = by_norm[source].name
    has_next = set(previous.values())
    chains = []
    for add_name in post:
        if add_name in has_next:
            continue
        run = [add_name]
        while run[-1] in previous and len(run) < 10_000:
            run.append(previous[run[-1]])
        chains.append([(view.by_name[a], post[a]) for a in reversed(run)])
    return chains


def _torch_layer(graph: ModelGraph, norm: LayerNode) -> str | None:
    """``nn.TransformerEncoderLayer`` / ``DecoderLayer`` when the norm belongs to one (``norm_first`` exists)."""
    parent = (norm.module or "").rpartition(".")[0]
    kind = graph.module_types.get(parent, "")
    return f"nn.{kind}" if kind in ("TransformerEncoderLayer", "TransformerDecoderLayer") else None


def _snippet(torch_layer: str | None, count: int, alpha: float, beta: float) -> str:
    pre_ln = (
        f"layer = {torch_layer}(d_model, nhead, batch_first=True, norm_first=True)\n"
        f"encoder = nn.TransformerEncoder(layer, num_layers={count}, norm=nn.LayerNorm(d_model))\n"
        if torch_layer
        else "# Pre-LN block\nx = x + self.attn(self.norm1(x))\nx = x + self.mlp(self.norm2(x))\n"
    )
    return (
        pre_ln + f"\n# or DeepNorm (Wang et al. 2022), N = {count}\n"
        f"alpha, beta = (2 * {count}) ** 0.25, (8 * {count}) ** -0.25  # {alpha:.3g}, {beta:.3g}\n"
        "x = self.norm1(alpha * x + self.attn(x))  # and nn.init.xavier_normal_(w, gain=beta) on v/out/FFN weights\n"
        "\n# or learning-rate warm-up\n"
        f"scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / {WARMUP_STEPS}))"
    )


VALID = [
    """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=6, norm=nn.LayerNorm(64), enable_nested_tensor=False)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.encoder(x))

EXAMPLE_INPUTS = (torch.randn(4, 16, 64),)
""",
]

INVALID = [
    Example(
        """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.encoder(x))

EXAMPLE_INPUTS = (torch.randn(4, 16, 64),)
""",
        module="encoder.layers.0.norm1",
        says="are Post-LN",
    ),
]
