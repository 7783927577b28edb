"""Real architectures from torchvision, timm and transformers, linted by their zoo targets.

Every model is built from code with random weights (nothing is downloaded): torchvision and timm
by name, Hugging Face models from a ``config.json`` written here, small configs where the default
would be slow on a CPU. Each one must lint without an error (load, trace, estimate, rules), name
the trace method the table below expects, list every weight of the reference protocol with an
init scheme, and give no error-severity finding: these architectures train with their standard
recipes. A second test measures each one with the probe and compares the static estimate,
weight by weight; a last one prints the table and checks the median over the group.

Inputs are small (2x3x64x64) where the architecture allows any size; models built for one size
(ViTs, Swin, MViTv2, LeViT ...) get their own default input, as ``gradlint timm:NAME`` would.

The architecture group is marked ``zoo`` (off by default: ``pytest -m zoo``; ``.ci/run`` runs it); the zoo-loading
tests before it are only ``real``.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.real

#: The static estimate must be within this many decades (log10) of the probe: the median over
#: every compared weight of the group (issue #7's target), and, looser, the median within each model,
#: which guards against one architecture drifting far off (BatchNorm CNNs at batch 2 sit at 0.3-0.36).
GROUP_MEDIAN_LIMIT = 0.2
MODEL_MEDIAN_LIMIT = 0.4

SMALL = (2, 3, 64, 64)
#: The comparison probes with one seed: the protocol's median over seeds 1, 2, 3 moves a weight's
#: log10 gradient RMS by at most 0.04 here (resnet18, mobilevit_xxs, Llama), at a third of the time.
PROBE_SEEDS = (1,)


@dataclass(frozen=True)
class Arch:
    target: str
    """The zoo target; ``hf:NAME`` is rewritten to the ``config.json`` of ``HF_CONFIGS[NAME]``."""
    method: str
    """The trace method expected to win."""
    shape: tuple[int, ...] | None = None
    """``--input-shape``; None keeps the default input of the family."""
    known_off: str | None = None
    """Why the static estimate is known to miss the probe on this model (the comparison is then xfail)."""

    @property
    def family(self) -> str:
        return self.target.partition(":")[0]


CLASS_TOKEN = (
    "crossvit fuses each branch's class token into the other branch (its cross-attention reads one branch's token "
    "and projects it to the other's width): estimate/positions.py tracks a prepended token only through ops that "
    "act on each position alone, so the fused tokens fall back to one scale per tensor (median 0.60 measured)"
)

BATCH_MEAN = (
    "at batch 2 each BatchNorm's backward takes the batch mean out of the position-shared gradient; the estimate "
    "takes it out again at every BatchNorm, not tracking how much of it the activation between two puts back "
    "(ResNets' ReLUs most of it, MobileViT's SiLU stacks little): 0.86 here, 0.21 before that BN correction"
)

ARCHITECTURES = (
    # torchvision classification
    Arch("torchvision:resnet18", "fx", SMALL),
    Arch("torchvision:resnet50", "fx", SMALL),
    Arch("torchvision:vgg11_bn", "fx", SMALL),
    Arch("torchvision:mobilenet_v3_small", "fx", SMALL),
    Arch("torchvision:efficientnet_b0", "fx", SMALL),
    Arch("torchvision:densenet121", "fx", SMALL),
    Arch("torchvision:squeezenet1_1", "fx", SMALL),
    Arch("torchvision:shufflenet_v2_x0_5", "fx", SMALL),
    Arch("torchvision:regnet_y_400mf", "fx", SMALL),
    Arch("torchvision:convnext_tiny", "fx", SMALL),
    Arch("torchvision:swin_t", "hooks", SMALL),
    Arch("torchvision:googlenet", "fx", SMALL),
    Arch("torchvision:vit_b_16", "fx"),
    # timm: the five of issue #7 (nfnet traces with plain fx; the other four and nest do not), then a spread
    Arch("timm:crossvit_tiny_240", "fx-timm", known_off=CLASS_TOKEN),
    Arch("timm:nfnet_l0", "fx", SMALL),
    Arch("timm:mobilevit_xxs", "hooks", SMALL, known_off=BATCH_MEAN),
    Arch("timm:twins_svt_small", "hooks", SMALL),
    Arch("timm:mvitv2_tiny", "hooks"),
    Arch("timm:nest_tiny", "fx-timm"),
    Arch("timm:convnext_atto", "fx", SMALL),
    Arch("timm:resnet18d", "fx", SMALL),
    Arch("timm:vit_tiny_patch16_224", "fx"),  # its class token: estimate/positions.py (median 0.04)
    # its heads' BatchNorm1d standardises a batch of 2 to exactly ±1, passing no gradient: batch 8
    Arch(
        "timm:levit_128s",
        "fx",
        (8, 3, 224, 224),
        known_off=(
            "every layer is Linear + BatchNorm1d over batch x tokens flattened, and the attention downsampling "
            "subsamples its queries: below the head the estimate is 10^-0.8 low throughout, not yet explained"
        ),
    ),
    Arch("timm:poolformer_s12", "fx", SMALL),
    Arch("timm:mixer_s16_224", "fx"),
    Arch("timm:swin_tiny_patch4_window7_224", "fx"),
    Arch("timm:ghostnet_100", "fx", SMALL),
    # transformers, from config.json files written below
    Arch("hf:gpt2", "hooks"),
    Arch("hf:bert", "hooks"),
    Arch("hf:t5", "hooks"),
    Arch("hf:llama", "hooks"),
    Arch("hf:mamba", "hooks"),
)

#: model type -> (config arguments, model class). Small where the default config is slow on a CPU.
HF_CONFIGS = {
    "gpt2": ({"n_layer": 2}, "GPT2LMHeadModel"),  # GPT-2 small's width and vocabulary, 2 of its 12 blocks
    "bert": ({"num_hidden_layers": 2}, "BertForMaskedLM"),  # bert-base width, 2 of 12 layers
    "t5": ({"num_layers": 2, "num_decoder_layers": 2}, "T5ForConditionalGeneration"),  # t5-small, 2+2 of 6+6 blocks
    "llama": (
        {
            "hidden_size": 256,
            "intermediate_size": 688,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "vocab_size": 32000,
        },
        "LlamaForCausalLM",
    ),
    "mamba": ({"hidden_size": 256, "num_hidden_layers": 4, "vocab_size": 32000}, "MambaForCausalLM"),
}

_LIBRARIES = {"torchvision": "torchvision", "timm": "timm", "hf": "transformers"}


def _params() -> list[object]:
    params = []
    for arch in ARCHITECTURES:
        library = _LIBRARIES[arch.family]
        marks = [pytest.mark.skipif(importlib.util.find_spec(library) is None, reason=f"{library} is not installed")]
        params.append(pytest.param(arch, id=arch.target, marks=marks))
    return params


# -- fixtures -------------------------------------------------------------------------------------

_TORCHVISION_LIBRARY: list[torch.library.Library] = []


@pytest.fixture(scope="module", autouse=True)
def torchvision_operators() -> None:
    """Let the registry's torchvision (a CUDA build) import beside the CPU torch: test-only, never in the package.

    Its Python side registers fake kernels for ``torchvision::nms``/``qnms``, whose schemas come from
    the compiled extension that cannot load; defining the two schemas first lets it import (timm and
    transformers import torchvision too). A torchvision that imports as it is is left alone.
    """
    if importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        library = torch.library.Library("torchvision", "FRAGMENT")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TORCHVISION_LIBRARY.append(library)  # the schemas live as long as the Library object
        import torchvision  # noqa: F401


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf_configs")


def _target(arch: Arch, hf_dir: Path) -> str:
    if arch.family != "hf":
        return arch.target
    import transformers

    model_type = arch.target.partition(":")[2]
    kwargs, cls = HF_CONFIGS[model_type]
    directory = hf_dir / model_type
    if not (directory / "config.json").exists():
        transformers.AutoConfig.for_model(model_type, architectures=[cls], **kwargs).save_pretrained(directory)
    return f"hf:{directory / 'config.json'}"


# -- zoo loading: names, inputs, overrides -------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "close"),
    [("timm:convnext_tinny", "convnext_tiny"), ("torchvision:resnet51", "resnet50")],
)
def test_unknown_model_name_lists_close_matches(target: str, close: str) -> None:
    pytest.importorskip(target.partition(":")[0])
    from gradlint.errors import LoadError
    from gradlint.load import load_target, parse_target

    with pytest.raises(LoadError, match=rf"^{target}: .* has no model '.*'; did you mean .*{close}"):
        load_target(parse_target(target))


def test_torchvision_detection_models_are_refused() -> None:
    pytest.importorskip("torchvision")
    from gradlint.errors import LoadError
    from gradlint.load import load_target, parse_target

    with pytest.raises(LoadError, match="is a detection model"):
        load_target(parse_target("torchvision:fasterrcnn_resnet50_fpn"))


def test_image_inputs_follow_the_model_and_input_shape_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("timm")
    import torchvision.models._api as weights_api

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a zoo target must not download weights")

    monkeypatch.setattr(weights_api, "load_state_dict_from_url", no_download)
    from gradlint.load import load_target, parse_target

    (crossvit,) = load_target(parse_target("timm:crossvit_tiny_240"))
    assert [s.shape for s in crossvit.inputs] == [(2, 3, 240, 240)]
    assert "input_size of timm crossvit_tiny_240" in crossvit.inputs[0].origin
    (resnet,) = load_target(parse_target("torchvision:resnet18"), input_shapes=((1, 3, 40, 40),))
    assert [tuple(x.shape) for x in resnet.example_inputs] == [(1, 3, 40, 40)]
    assert resnet.inputs[0].origin == "--input-shape"
    # a segmentation model builds without fetching its ImageNet backbone
    (segmentation,) = load_target(parse_target("torchvision:deeplabv3_mobilenet_v3_large"))
    assert [s.shape for s in segmentation.inputs] == [(2, 3, 224, 224)]


def test_timm_registry_traces_what_plain_fx_cannot() -> None:
    pytest.importorskip("timm")
    from gradlint.load import load_target, parse_target
    from gradlint.trace import trace_model

    (nest,) = load_target(parse_target("timm:nest_tiny"))
    trace = trace_model(nest).trace
    assert trace.method == "fx-timm"
    assert [a.method for a in trace.failed] == ["fx"]


def test_hf_inputs_and_construction_records(hf_dir: Path) -> None:
    pytest.importorskip("transformers")
    from gradlint.load import load_target, parse_target

    (t5,) = load_target(parse_target(_target(Arch("hf:t5", "hooks"), hf_dir)))
    assert t5.name == "T5ForConditionalGeneration"
    assert [(s.shape, s.dtype) for s in t5.inputs] == [
        ((2, 32), "int64")
    ] * 3  # input_ids, attention_mask, decoder_input_ids
    assert int(t5.example_inputs[0].max()) < t5.model.config.vocab_size
    assert t5.source_path.endswith("config.json")
    site = t5.construction_sites["encoder.block.0.layer.0.SelfAttention.q"]
    assert site.path.endswith("modeling_t5.py")
    assert t5.init_records["encoder.block.0.layer.0.SelfAttention.q.weight"][-1].name == "normal_"

    # --input-shape gives the token ids' shape (the decoder's second), integers whatever --input-dtype says
    (short,) = load_target(parse_target(_target(Arch("hf:t5", "hooks"), hf_dir)), input_shapes=((1, 8), (1, 4)))
    assert [tuple(x.shape) for x in short.example_inputs] == [(1, 8), (1, 8), (1, 4)]
    assert all(x.dtype == torch.int64 for x in short.example_inputs)


def test_hf_class_after_the_config(hf_dir: Path) -> None:
    pytest.importorskip("transformers")
    from gradlint.load import load_target, parse_target

    target = _target(Arch("hf:bert", "hooks"), hf_dir)
    (bare,) = load_target(parse_target(f"{target}:BertModel"))
    assert bare.name == "BertModel" and bare.target == f"{target}:BertModel"


def test_hf_auto_class_builds_float32_whatever_the_config_dtype(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from gradlint.load import load_target, parse_target

    config = transformers.AutoConfig.for_model("gpt2", n_layer=1, n_embd=32, n_head=2, dtype="bfloat16")
    config.save_pretrained(tmp_path)
    (loaded,) = load_target(parse_target(f"hf:{tmp_path}:AutoModelForCausalLM"))
    assert loaded.name == "GPT2LMHeadModel"
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}
    assert loaded.init_records["transformer.h.0.attn.c_attn.weight"][-1].name == "normal_"


def test_package_explains_a_torchvision_that_does_not_fit_torch() -> None:
    """In a fresh interpreter, without the test-only schemas: one line, no traceback (if torchvision fails there)."""
    import subprocess
    import sys

    pytest.importorskip("timm")
    code = (
        "import sys\n"
        "try:\n"
        "    import torchvision\n"
        "except RuntimeError:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit(3)\n"
        "from gradlint.cli import main\n"
        "sys.exit(main(['timm:resnet18']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if done.returncode == 3:
        pytest.skip("torchvision imports as it is here")
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "timm:resnet18" in line]
    assert len(lines) == 1 and "does not fit torch" in lines[0] and "Traceback" not in done.stderr


# -- one lint per architecture, kept for the comparison --------------------------------------------


@dataclass
class _Result:
    lint_s: float
    method: str
    failed: tuple[str, ...]
    errors: list[float] = field(default_factory=list)
    uncovered: int = 0
    compared: bool = False
    probe_s: float = 0.0


_REPORTS: dict[str, object] = {}
_RESULTS: dict[str, _Result] = {}


def _options(arch: Arch):  # noqa: ANN202 - LintOptions, imported lazily like the rest of gradlint here
    from gradlint.api import LintOptions

    return LintOptions(input_shapes=(arch.shape,) if arch.shape else ())


@pytest.mark.zoo
@pytest.mark.parametrize("arch", _params())
def test_lints_without_error(arch: Arch, hf_dir: Path) -> None:
    from gradlint.api import lint_paths
    from gradlint.types import Severity

    target = _target(arch, hf_dir)
    started = time.perf_counter()
    report = lint_paths([target], _options(arch))
    seconds = time.perf_counter() - started
    assert not report.errors, report.errors[0].message
    (model,) = report.models
    graph = model.graph
    _REPORTS[arch.target] = model
    _RESULTS[arch.target] = _Result(seconds, graph.trace.method, tuple(a.method for a in graph.trace.failed))

    assert graph.trace.method == arch.method, graph.trace
    assert sorted(w.name for w in graph.weights) == _protocol_weights(target, arch)
    assert graph.weights, "no weight found"
    assert [w.name for w in graph.weights if w.init.scheme == "unknown"] == []
    errors = [f"{f.code} {f.module}: {f.message}" for f in model.findings if f.severity is Severity.ERROR]
    assert errors == [], errors


def _protocol_weights(target: str, arch: Arch) -> list[str]:
    """DESIGN §2.5 on a fresh build: parameters with dim >= 2 not owned by an nn.Embedding, a tied one under its first name."""
    from gradlint.load import load_target, parse_target

    (loaded,) = load_target(parse_target(target), input_shapes=(arch.shape,) if arch.shape else ())
    modules = dict(loaded.model.named_modules())
    return sorted(
        name
        for name, parameter in loaded.model.named_parameters()
        if parameter.dim() >= 2 and not isinstance(modules[name.rpartition(".")[0]], torch.nn.Embedding)
    )


@pytest.mark.zoo
@pytest.mark.parametrize("arch", _params())
def test_estimate_matches_probe(arch: Arch, hf_dir: Path) -> None:
    estimate_module = pytest.importorskip("gradlint.estimate")
    from gradlint.load import load_target, parse_target
    from gradlint.probe import probe

    model = _REPORTS.get(arch.target)
    if model is None:
        pytest.skip("the architecture did not lint")
    graph = model.graph  # type: ignore[attr-defined]
    target = _target(arch, hf_dir)
    (loaded,) = load_target(parse_target(target), input_shapes=(arch.shape,) if arch.shape else ())
    started = time.perf_counter()
    measured = probe(loaded.model, loaded.example_inputs, seeds=PROBE_SEEDS, device="cpu", graph=graph)
    probe_s = time.perf_counter() - started
    predicted = estimate_module.estimate(graph)

    # The probe enumerates the protocol's weights on the real model by its own code.
    assert sorted(w.name for w in measured.weights) == sorted(w.name for w in graph.weights)
    truth = {w.name: w.log10_grad_rms for w in measured.weights}
    errors: list[float] = []
    uncovered = 0
    for weight in predicted.weights:
        actual = truth.get(weight.name)
        if actual is None or not math.isfinite(actual):
            continue  # blocked by design (a zero-initialised gate) or non-finite: not a scale to compare
        if weight.log10_grad_rms is None or not math.isfinite(weight.log10_grad_rms):
            uncovered += 1
            continue
        errors.append(abs(weight.log10_grad_rms - actual))
    result = _RESULTS[arch.target]
    result.errors, result.uncovered, result.compared, result.probe_s = errors, uncovered, True, probe_s
    del loaded, measured
    if arch.known_off:
        pytest.xfail(arch.known_off)
    assert errors, "no weight could be compared"
    assert uncovered == 0, f"{uncovered} measured weights have no estimate"
    assert statistics.median(errors) <= MODEL_MEDIAN_LIMIT


@pytest.mark.zoo
def test_group_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Print one row per architecture; the median error over every compared weight of the group."""
    if not _RESULTS:
        pytest.skip("no architecture ran")
    rows = [f"{'target':<38} {'method':<8} {'lint s':>7} {'probe s':>8} {'weights':>7} {'median':>7} {'max':>6}"]
    pooled: list[float] = []
    for arch in ARCHITECTURES:
        result = _RESULTS.get(arch.target)
        if result is None:
            continue
        if result.compared and result.errors and not arch.known_off:
            pooled.extend(result.errors)
        median = f"{statistics.median(result.errors):.3f}" if result.errors else "-"
        worst = f"{max(result.errors):.2f}" if result.errors else "-"
        rows.append(
            f"{arch.target:<38} {result.method:<8} {result.lint_s:>7.1f} {result.probe_s:>8.1f} "
            f"{len(result.errors):>7} {median:>7} {worst:>6}" + (" (known off)" if arch.known_off else "")
        )
    with capsys.disabled():
        print("\n" + "\n".join(rows))
        if pooled:
            print(f"group: {len(pooled)} weights, median |log10 error| {statistics.median(pooled):.3f}")
    if pooled:
        assert statistics.median(pooled) <= GROUP_MEDIAN_LIMIT
