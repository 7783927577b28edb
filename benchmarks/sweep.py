"""Sweep real architectures through the whole lint and count what breaks (issue 15, item 8).

    python benchmarks/sweep.py                                   # everything: hours
    python benchmarks/sweep.py --limit 20 --budget 30 --out sweep.md   # a sample: minutes

Targets: every torchvision classification model (``torchvision.models.list_models`` of the top-level
module), every ``timm.list_models()`` name, and every transformers model type whose default config
builds without a download (``hf:TYPE``). Each is linted in meta mode (shapes and recorded init
statistics, no weight values: nothing is too large) within ``--budget`` seconds, in this process.

Counted per family: models linted, internal errors (bugs of gradlint: ``TargetError.internal``),
other errors (a model gradlint cannot load, trace or make inputs for, said in one line), time-outs,
and time; over all models, the ops the estimate had no rule for, by how many models and nodes they
appear in (the estimate's coverage record when it has one, else its ``uncertain`` list). ``--limit N``
takes N names per family spread evenly over the sorted list, so a sample covers the alphabet.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

FAMILIES = ("torchvision", "timm", "hf")


class Timeout(BaseException):
    """The model ran past its budget. A BaseException, so no stage's ``except Exception`` takes it for a bug."""


@dataclass
class Row:
    target: str
    family: str
    status: str
    """``ok``, ``error`` (the model cannot be linted, said in one line), ``internal`` or ``timeout``."""
    seconds: float
    trace: str | None = None
    stage: str | None = None
    message: str | None = None
    missing: dict[str, int] = field(default_factory=dict)
    """Op kind -> nodes of that kind the estimate had no rule for."""


def names(family: str) -> list[str]:
    if family == "torchvision":
        define_torchvision_schemas()
        import torchvision

        return sorted(torchvision.models.list_models(module=torchvision.models))
    if family == "timm":
        import timm

        return sorted(timm.list_models())
    import transformers

    return sorted(t for t in transformers.CONFIG_MAPPING if _config_builds(transformers, t))


def _config_builds(transformers: Any, model_type: str) -> bool:
    try:
        with _quiet():
            transformers.CONFIG_MAPPING[model_type]()
    except Exception:  # noqa: BLE001 - a config that needs arguments or a download is not in the sweep
        return False
    return True


def define_torchvision_schemas() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from speed import define_torchvision_schemas as define

    define()


def sample(items: Sequence[str], limit: int | None) -> list[str]:
    """``limit`` items spread evenly over ``items`` (all of them without a limit)."""
    if limit is None or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


@contextlib.contextmanager
def _budget(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Timeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def lint_one(target: str, family: str, budget: float) -> Row:
    from gradlint.api import LintOptions, lint_paths

    start = time.perf_counter()
    try:
        with _budget(budget), _quiet():
            report = lint_paths([target], LintOptions(meta=True))
    except Timeout:
        return Row(target, family, "timeout", time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if report.errors:
        error = report.errors[0]
        status = "internal" if error.internal else "error"
        return Row(target, family, status, seconds, stage=error.stage, message=error.message.splitlines()[0][:300])
    (model,) = report.models
    return Row(target, family, "ok", seconds, trace=model.graph.trace.method, missing=missing_ops(model))


def missing_ops(model: Any) -> dict[str, int]:
    """Op kind -> how many of the model's nodes of that kind the estimate had no rule for."""
    estimates = model.estimates
    coverage = getattr(estimates, "coverage", None)
    by_kind = getattr(coverage, "missing", None) if coverage is not None else None
    if isinstance(by_kind, dict):
        return {str(k): int(v) for k, v in by_kind.items()}
    nodes = {node.name: node for node in model.graph.nodes}
    counts: Counter[str] = Counter()
    for name, reason in estimates.uncertain:
        if not reason.startswith(("no rule", "activation")):
            continue  # an approximation (quadrature, second moments), not a missing rule
        node = nodes.get(name)
        if node is None:
            counts[name] += 1
        else:  # a layer by its class; a functional op by its function (its module_type is the enclosing layer's)
            counts[(node.module_type or node.target) if node.op == "call_module" else node.target] += 1
    return dict(counts)


def markdown(rows: Sequence[Row], families: Sequence[str], available: dict[str, int], args: argparse.Namespace) -> str:
    lines = [
        "| family | in the library | linted here | ok | internal errors | other errors | time-outs | median s | p90 s | max s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for family in families:
        own = [r for r in rows if r.family == family]
        if not own:
            continue
        times = sorted(r.seconds for r in own)
        count = Counter(r.status for r in own)
        p90 = times[min(len(times) - 1, math.ceil(0.9 * len(times)) - 1)]
        lines.append(
            f"| {family} | {available[family]} | {len(own)} | {count['ok']} | {count['internal']} | {count['error']} "
            f"| {count['timeout']} | {statistics.median(times):.1f} | {p90:.1f} | {times[-1]:.1f} |"
        )
    models_with: Counter[str] = Counter()
    nodes_with: Counter[str] = Counter()
    for row in rows:
        for kind, n in row.missing.items():
            models_with[kind] += 1
            nodes_with[kind] += n
    if models_with:
        lines += ["", "| op without a rule | models | nodes |", "|---|---:|---:|"]
        for kind, n in models_with.most_common(args.top):
            lines.append(f"| `{kind}` | {n} | {nodes_with[kind]} |")
    failures = [r for r in rows if r.status != "ok"]
    if failures:
        lines += ["", "| target | status | stage | message |", "|---|---|---|---|"]
        for row in failures:
            message = (row.message or f"over the {args.budget:g} s budget").replace("|", "\\|")
            lines.append(f"| `{row.target}` | {row.status} | {row.stage or ''} | {message} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated: torchvision, timm, hf")
    parser.add_argument("--limit", type=int, default=None, help="at most N models per family, spread evenly")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per model before it counts as a time-out")
    parser.add_argument("--top", type=int, default=15, help="rows of the missing-op table")
    parser.add_argument("--out", help="write the markdown table here (default: stdout)")
    parser.add_argument("--json", dest="json_file", help="also write every row as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families: {', '.join(unknown)}")
    define_torchvision_schemas()  # transformers and timm import torchvision too
    rows: list[Row] = []
    available: dict[str, int] = {}
    for family in families:
        listed = names(family)
        available[family] = len(listed)
        prefix = family + ":"
        for name in sample(listed, args.limit):
            row = lint_one(prefix + name, family, args.budget)
            rows.append(row)
            print(f"{row.status:8} {row.seconds:6.1f}s {row.target} {row.message or ''}", file=sys.stderr, flush=True)
    table = markdown(rows, families, available, args)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(table + "\n")
    else:
        print(table)
    if args.json_file:
        with open(args.json_file, "w", encoding="utf-8") as handle:
            json.dump([asdict(r) for r in rows], handle, indent=2)
    return 1 if any(r.status == "internal" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
