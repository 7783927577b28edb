"""No error-severity finding on standard architectures known to train (issue 5's done criterion).

torchvision ResNet-18 and ViT-B/16, Hugging Face GPT-2 and BERT from their default configs (12
layers), a Pre-LN GPT written here with `F.scaled_dot_product_attention`, and an LSTM with forget
bias 1. Each one's warnings are pinned too: every warning on a model that trains needs a reason,
written beside it, and a new one fails the test until it is explained.
"""

from __future__ import annotations

import importlib.util
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradlint.api import LintOptions, lint_paths
from gradlint.types import Severity

pytestmark = pytest.mark.real

PRE_LN_GPT = """
import math
import torch
from torch import nn
import torch.nn.functional as F

class Block(nn.Module):
    def __init__(self, d, heads, layers):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)
        for layer in (self.qkv, self.proj, self.fc, self.out):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)
        for layer in (self.proj, self.out):  # GPT-2: residual projections scaled by 1/sqrt(2L)
            nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))

class GPT(nn.Module):
    def __init__(self, vocab=1000, d=256, heads=8, layers=6, context=64):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.blocks = nn.ModuleList(Block(d, heads, layers) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        nn.init.normal_(self.head.weight, std=0.02)

    def forward(self, tokens):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.wte(tokens) + self.wpe(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

EXAMPLE_INPUTS = (torch.randint(0, 1000, (4, 64)),)
"""

LSTM_FORGET_BIAS_1 = """
import torch
from torch import nn

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(32, 128, num_layers=2, batch_first=True)
        H = self.lstm.hidden_size
        for name, bias in self.lstm.named_parameters():
            if name.startswith("bias_ih"):
                with torch.no_grad():
                    bias[H:2 * H].fill_(1.0)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out)

EXAMPLE_INPUTS = (torch.randn(8, 32, 32),)
"""


@dataclass(frozen=True)
class Standard:
    target: str
    """A zoo target, ``hf:MODEL_TYPE`` (its default config, written to a config.json), or ``file:NAME``."""
    warnings: frozenset[str] = frozenset()
    """Warning codes this model is known to get, each explained in ``WHY``."""
    shape: tuple[int, ...] | None = None


WHY = {
    # BERT is Post-LN: Xiong et al. 2020's case, and BERT's own recipe warms the learning rate up over 10k steps.
    ("hf:bert", "GL304"): "Post-LN encoder at 12 layers: trains, with learning-rate warm-up",
}

STANDARD = (
    Standard("torchvision:resnet18", shape=(2, 3, 32, 32)),
    Standard("torchvision:vit_b_16"),
    Standard("hf:gpt2"),
    Standard("hf:bert", frozenset({"GL304"})),
    Standard("file:pre_ln_gpt"),
    Standard("file:lstm_forget_bias_1"),
)

_SOURCES = {"pre_ln_gpt": PRE_LN_GPT, "lstm_forget_bias_1": LSTM_FORGET_BIAS_1}
_HF_CLASSES = {"gpt2": "GPT2LMHeadModel", "bert": "BertForMaskedLM"}
_LIBRARIES = {"torchvision": "torchvision", "hf": "transformers"}


def _params() -> list[object]:
    params = []
    for standard in STANDARD:
        library = _LIBRARIES.get(standard.target.partition(":")[0])
        missing = library is not None and importlib.util.find_spec(library) is None
        marks = [pytest.mark.skipif(missing, reason=f"{library} is not installed")]
        params.append(pytest.param(standard, id=standard.target, marks=marks))
    return params


def _target(standard: Standard, tmp_path: Path) -> str:
    family, _, name = standard.target.partition(":")
    if family == "file":
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(_SOURCES[name]), encoding="utf-8")
        return str(path)
    if family == "hf":
        import transformers

        # the model type's default config: GPT-2 small and bert-base, 12 layers each
        transformers.AutoConfig.for_model(name, architectures=[_HF_CLASSES[name]]).save_pretrained(tmp_path)
        return f"hf:{tmp_path / 'config.json'}"
    return standard.target


@pytest.mark.parametrize("standard", _params())
def test_no_error_on_architectures_that_train(standard: Standard, tmp_path: Path) -> None:
    options = LintOptions(input_shapes=(standard.shape,) if standard.shape else ())
    report = lint_paths([_target(standard, tmp_path)], options)
    assert not report.errors, report.errors[0].message
    assert len(report.models) == 1
    errors = [f"{f.code} {f.module}: {f.message}" for f in report.findings if f.severity is Severity.ERROR]
    assert errors == []
    warnings = {f.code for f in report.findings if f.severity is Severity.WARNING}
    assert warnings == standard.warnings, [f"{f.code} {f.module}: {f.message}" for f in report.findings]
    assert all((standard.target, code) in WHY for code in standard.warnings)
