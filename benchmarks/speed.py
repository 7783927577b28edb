"""How long gradlint takes against building the model, probing it, and weightwatcher, in one run.

    python benchmarks/speed.py                 # the full table (several minutes on two cores)
    python benchmarks/speed.py --json out.json # also write the measurements as JSON
    python benchmarks/speed.py --models gpt2 --skip-scaling --skip-70b   # one model

Per model (torchvision ResNet-50 and ViT-B/16, Hugging Face GPT-2 and BERT from default configs,
random weights, nothing downloaded):

* ``build``: constructing the model alone, as its library does (no recorder);
* ``lint``: what ``gradlint TARGET`` runs (load with the construction recorder, trace, estimate,
  rules), in total and after the load;
* ``analysis``: ``gradlint.api.lint(model, inputs)`` on a model already built, which is what
  weightwatcher's ``analyze()`` is given: the like-for-like comparison of the two analyses
  (build, lint and analysis: the median of ``--repeat`` interleaved runs, 3 by default);
* ``probe``: the reference protocol (3 seeds) on the loaded model;
* ``weightwatcher``: ``WeightWatcher(model).analyze()`` on a model built the same way, when
  weightwatcher is installed (else the column says so).

Then a Llama-70B-shaped config (80 layers, hidden 8192, intermediate 28672, 64 heads, 8 KV heads)
linted in meta mode in a fresh subprocess, with its wall time and peak RSS (``VmHWM``), and
the cost of lint against parameter count for GPT-2 small, medium and large (meta mode: the
parameters would not all fit in real memory here). Every number is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

LLAMA_70B = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "num_hidden_layers": 80,
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
}
GPT2_SIZES = {"gpt2-small": (12, 768, 12), "gpt2-medium": (24, 1024, 16), "gpt2-large": (36, 1280, 20)}
MODELS = ("resnet50", "vit_b_16", "gpt2", "bert")


def define_torchvision_schemas() -> None:
    """The registry's torchvision is a CUDA build: its two operator schemas must exist before it imports beside a CPU torch.

    ``tests/conftest.py`` defines them when imported (test-only code, never in the package): reused here.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    import tests.conftest  # noqa: F401  # defines torchvision::nms and ::qnms


@dataclass(frozen=True)
class Row:
    model: str
    parameters: int
    build_s: float
    lint_s: float
    lint_after_build_s: float
    analysis_s: float
    probe_s: float | None
    weightwatcher_s: float | None
    trace_method: str
    process_build_s: float | None = None
    """A fresh interpreter that imports the model's library and builds it (median of interleaved runs)."""
    process_lint_s: float | None = None
    """A fresh interpreter running ``gradlint TARGET`` (median of interleaved runs)."""
    stages: dict[str, float] | None = None
    """In-process seconds of load, trace, estimate and rules on one lint (one run)."""


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def zoo_target(name: str, workdir: str) -> tuple[str, Callable[[], torch.nn.Module]]:
    """The gradlint target for ``name`` and a function building the same model without gradlint."""
    if name in ("resnet50", "vit_b_16"):
        import torchvision

        return f"torchvision:{name}", lambda: torchvision.models.get_model(name, weights=None)
    import transformers

    config = transformers.GPT2Config() if name == "gpt2" else transformers.BertConfig()
    path = os.path.join(workdir, name, "config.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    config.to_json_file(path)
    cls = transformers.GPT2Model if name == "gpt2" else transformers.BertModel
    return f"hf:{path}:{cls.__name__}", lambda: cls(config)


def weightwatcher_seconds(model: torch.nn.Module) -> float | None:
    """``WeightWatcher(model).analyze()`` on the model ``gradlint.lint()`` was just given."""
    try:
        import weightwatcher
    except ImportError:
        return None
    seconds, _ = timed(lambda: weightwatcher.WeightWatcher(model=model).analyze())
    return seconds


def measure(
    name: str, workdir: str, *, probe: bool, weightwatcher: bool, repeat: int = 3, processes: bool = True
) -> Row:
    """The build, lint, load and analysis times are medians of ``repeat`` interleaved runs (one
    hiccup of this shared machine moved a single run's GPT-2 lint/build from 1.35 to 1.70), as are
    weightwatcher's ``analyze()`` on the same built model and the two whole processes; the probe runs once."""
    from gradlint.api import LintOptions, lint, lint_paths
    from gradlint.load import load_target, parse_target
    from gradlint.probe import probe as run_probe

    target, build = zoo_target(name, workdir)
    build()  # imports and first-call costs out of every timing below
    runs: dict[str, list[float]] = {"build": [], "lint": [], "load": [], "analysis": [], "ww": [], "pb": [], "pl": []}
    for _ in range(max(repeat, 1)):
        if processes:
            runs["pb"].append(process_seconds(build_process_code(name, target)))
            runs["pl"].append(process_seconds(lint_process_code(target)))
        seconds, built = timed(build)
        runs["build"].append(seconds)
        seconds, report = timed(lambda: lint_paths([target], LintOptions(meta=False)))
        runs["lint"].append(seconds)
        if report.errors:
            raise SystemExit(f"{target}: {report.errors[0].message}")
        seconds, (loaded,) = timed(lambda: load_target(parse_target(target), meta=False))
        runs["load"].append(seconds)
        seconds, _ = timed(lambda: lint(built, loaded.example_inputs))  # noqa: B023, F821 - timed calls it at once
        runs["analysis"].append(seconds)
        if weightwatcher:
            runs["ww"].append(weightwatcher_seconds(built))
        del built
    build_s, lint_s, load_s, analysis_s = (statistics.median(runs[k]) for k in ("build", "lint", "load", "analysis"))
    ww_s, pb_s, pl_s = (
        statistics.median(runs[k]) if runs[k] and None not in runs[k] else None for k in ("ww", "pb", "pl")
    )
    probe_s = None
    if probe:
        probe_s, _ = timed(lambda: run_probe(loaded.model, loaded.example_inputs, device="cpu"))
    graph = report.models[0].graph
    return Row(
        name,
        graph.parameter_count,
        build_s,
        lint_s,
        max(lint_s - load_s, 0.0),
        analysis_s,
        probe_s,
        ww_s,
        graph.trace.method,
        pb_s,
        pl_s,
        stage_seconds(loaded),
    )


def stage_seconds(loaded: Any) -> dict[str, float]:
    """Where one lint's analysis goes, in this process: trace, estimate, rules (the load is timed above)."""
    from gradlint.engine import run_rules
    from gradlint.estimate import estimate
    from gradlint.options import LintOptions
    from gradlint.trace import trace_model

    options = LintOptions()
    trace_s, graph = timed(lambda: trace_model(loaded, None))
    estimate_s, estimates = timed(lambda: estimate(graph, options.thresholds))
    rules_s, _ = timed(lambda: list(run_rules(graph, estimates, options.selected_rules(), options)))
    return {"trace": trace_s, "estimate": estimate_s, "rules": rules_s}


_SHIM = (
    f"import sys; sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r}); "
    "import tests.conftest\n"  # the CUDA torchvision's operator schemas, in both processes alike
)


def build_process_code(name: str, target: str) -> str:
    """A process that imports the model's library and builds the model, as a training script starts."""
    if name in ("resnet50", "vit_b_16"):
        return _SHIM + f"import torchvision\ntorchvision.models.get_model({name!r}, weights=None)\n"
    _, path, cls = target.split(":")
    return (
        _SHIM + "import transformers\n"
        f"config = transformers.AutoConfig.from_pretrained({os.path.dirname(path)!r})\n"
        f"transformers.{cls}(config)\n"
    )


def lint_process_code(target: str) -> str:
    """``gradlint TARGET`` in a fresh process (the shim first, which the build process pays too)."""
    return _SHIM + f"from gradlint.cli import main\nsys.exit(main([{target!r}, '-q', '--isolated', '--exit-zero']))\n"


def process_seconds(code: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"a measured process failed:\n{code}\n{done.stderr[-2000:]}")
    return seconds


# Linux keeps ru_maxrss across exec, so a child forked from this (large) process would report the
# parent's peak; VmHWM belongs to the new address space. ru_maxrss (kB on Linux) where there is no /proc.
_PEAK_RSS = """
def peak_rss_gb():
    try:
        with open('/proc/self/status') as handle:
            for line in handle:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
"""


def lint_in_subprocess(config: dict[str, Any], workdir: str, label: str) -> dict[str, Any]:
    """Lint ``hf:config.json`` with ``--meta`` in a fresh interpreter: wall time of the lint and peak RSS."""
    path = os.path.join(workdir, label, "config.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    child = (
        "import json, resource, sys, time\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from speed import define_torchvision_schemas\n"
        "define_torchvision_schemas()\n"
        "start = time.perf_counter()\n"
        "from gradlint.api import LintOptions, lint_paths\n"
        f"report = lint_paths([{'hf:' + path!r}], LintOptions(meta=True))\n"
        "assert not report.errors, report.errors\n"
        "graph = report.models[0].graph\n"
        "wall = time.perf_counter() - start\n"
        f"{_PEAK_RSS}\n"
        "print(json.dumps({'wall_s': wall, 'parameters': graph.parameter_count,\n"
        "  'trace_method': graph.trace.method, 'peak_rss_gb': peak_rss_gb()}))\n"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{label}: the subprocess failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start  # with interpreter start and imports
    return result


def _ratio(numerator: float | None, denominator: float) -> str:
    return f"{numerator / denominator:.1f}" if numerator is not None and denominator > 0 else "-"


def _seconds(value: float | None, missing: str) -> str:
    return f"{value:.2f}" if value is not None else missing


TARGETS = {"process": 1.2, "weightwatcher": 20.0}
"""The issue's targets: the whole lint within 1.2x of importing and building the model; the analysis at
least 20x faster than weightwatcher's on the same built model."""


def headline(rows: list[Row], ww_note: str) -> list[str]:
    """The issue's table: whole processes, and the two analyses of one built model; then the stage breakdown."""
    lines = [
        f"| model | lint / import+build (processes; target <= {TARGETS['process']}) | gradlint process | "
        f"import+build process | weightwatcher / gradlint, same built model (target >= {TARGETS['weightwatcher']:.0f}) "
        "| trace | estimate | rules |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        process = r.process_lint_s / r.process_build_s if r.process_lint_s and r.process_build_s else None
        stages = r.stages or {}
        lines.append(
            f"| {r.model} | {f'{process:.2f}' if process is not None else '-'} | {_seconds(r.process_lint_s, '-')} | "
            f"{_seconds(r.process_build_s, '-')} | {_ratio(r.weightwatcher_s, r.analysis_s) if r.weightwatcher_s else ww_note} | "
            + " | ".join(f"{stages[k]:.2f}" if k in stages else "-" for k in ("trace", "estimate", "rules"))
            + " |"
        )
    return lines


def markdown(rows: list[Row], llama: dict[str, Any] | None, scaling: dict[str, dict[str, Any]], ww_note: str) -> str:
    lines = [
        *headline(rows, ww_note),
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} Linux, {os.cpu_count()} cores, CPU only, "
        f"torch {torch.__version__}; seconds: build, lint and analysis the median of interleaved runs, the rest one run.",
        "",
        "| model | parameters | build | lint (total) | lint after build | lint / build | analysis of the built model "
        "| probe (3 seeds) | weightwatcher analyze() | weightwatcher / analysis | weightwatcher / lint (total) | traced with |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ww = r.weightwatcher_s
        lines.append(
            f"| {r.model} | {r.parameters / 1e6:.1f} M | {r.build_s:.2f} | {r.lint_s:.2f} | {r.lint_after_build_s:.2f} | "
            f"{r.lint_s / r.build_s:.2f} | {r.analysis_s:.2f} | {_seconds(r.probe_s, 'skipped')} | {_seconds(ww, ww_note)} | "
            f"{_ratio(ww, r.analysis_s)} | {_ratio(ww, r.lint_s)} | {r.trace_method} |"
        )
    if llama is not None:
        lines += [
            "",
            "| Llama-70B-shaped config, `--meta` | parameters | lint wall | process wall (with imports) | peak RSS | traced with |",
            "|---|---:|---:|---:|---:|---|",
            f"| 80 layers, hidden 8192, GQA 64/8 | {llama['parameters'] / 1e9:.1f} B | {llama['wall_s']:.1f} s | "
            f"{llama['process_s']:.1f} s | {llama['peak_rss_gb']:.2f} GB | {llama['trace_method']} |",
        ]
    if scaling:
        lines += ["", "| GPT-2 size, `--meta` | parameters | lint wall | peak RSS |", "|---|---:|---:|---:|"]
        for label, result in scaling.items():
            lines.append(
                f"| {label} | {result['parameters'] / 1e6:.0f} M | {result['wall_s']:.1f} s | {result['peak_rss_gb']:.2f} GB |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of build, lint and analysis per model (medians).")
    parser.add_argument("--skip-probe", action="store_true")
    parser.add_argument("--skip-weightwatcher", action="store_true")
    parser.add_argument("--skip-70b", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-processes", action="store_true", help="No whole-process columns.")
    parser.add_argument("--json", metavar="FILE", help="Also write every measurement to FILE as JSON.")
    args = parser.parse_args(argv)
    define_torchvision_schemas()
    try:
        import weightwatcher  # noqa: F401

        ww_note = "skipped"
    except ImportError:
        ww_note = "not installed"
        print("weightwatcher is not installed: its column is skipped (pip install weightwatcher)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as workdir:
        rows = []
        for name in args.models:
            print(f"measuring {name} ...", file=sys.stderr)
            rows.append(
                measure(
                    name,
                    workdir,
                    probe=not args.skip_probe,
                    weightwatcher=not args.skip_weightwatcher,
                    repeat=args.repeat,
                    processes=not args.skip_processes,
                )
            )
            print(headline(rows[-1:], ww_note)[-1], file=sys.stderr, flush=True)  # kept if a later model is cut off
        llama = None if args.skip_70b else lint_in_subprocess(LLAMA_70B, workdir, "llama-70b")
        scaling = {}
        if not args.skip_scaling:
            for label, (layers, width, heads) in GPT2_SIZES.items():
                config = {"model_type": "gpt2", "n_layer": layers, "n_embd": width, "n_head": heads}
                scaling[label] = lint_in_subprocess(config, workdir, label)
    print(markdown(rows, llama, scaling, ww_note))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"models": [asdict(r) for r in rows], "llama_70b": llama, "gpt2_scaling": scaling}, handle, indent=2
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
