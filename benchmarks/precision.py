"""How well does the static precision check agree with the model run in the dtype? (issue #17)

    python benchmarks/precision.py                          # the corpus, float16 and bfloat16
    python benchmarks/precision.py --modes float16,mixed x.py --json out.json
    python benchmarks/precision.py --summarize a.json b.json  # the summary of runs split over processes

For every model of the corpus (benchmarks/corpus/) and every mode, gradlint's pipeline (load -> trace
-> estimate under ``--precision``) predicts the GL8xx findings; ``gradlint.probe.precision`` then runs
the reference protocol once (seed 1) in that dtype (model and inputs cast; autocast for ``mixed``) and
each finding is confirmed or refuted. Per model and mode it records, for each of the three measurable
events, whether it was predicted and whether it happened:

- **overflow**: GL801 fired / a module's output in the dtype was inf or past the largest finite value,
  or the protocol loss was not finite;
- **underflow**: GL802 fired / some weight's gradient had half or more of its elements zero or subnormal;
- **constants**: GL803/GL804 fired / the constant measured in the dtype keeps under half the mantissa
  (only predicted constants are measured: this row is the confirmed share).

and, over every module computed in the low dtype whose output stayed finite, the |log2| error of the
predicted largest element (the tail model of ``gradlint/estimate/extremes.py``) against the measured one.
Exit status 0 (a report); 2 for a bad path.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(__file__).resolve().parent / "corpus"

try:
    import gradlint  # noqa: F401
except ImportError:  # run from a checkout without an installed gradlint
    sys.path.insert(0, str(ROOT))

import torch

from gradlint.engine import run_rules
from gradlint.errors import GradlintError
from gradlint.estimate import estimate
from gradlint.estimate.precision import parse_precision
from gradlint.estimate.precision.check import predicted_max
from gradlint.estimate.precision.dtypes import LOW, node_dtypes
from gradlint.load import expand_targets, load_target
from gradlint.probe.precision import confirm_precision, probe_precision
from gradlint.registry import select_rules
from gradlint.trace import trace_model

EVENTS = ("overflow", "underflow")


def measure(loaded: Any, graph: Any, mode_name: str, device: str) -> dict[str, Any]:
    mode = parse_precision(mode_name)
    est = estimate(graph, precision=mode)
    findings = run_rules(graph, est, select_rules(["GL8"]))
    measured = probe_precision(loaded.model, loaded.example_inputs, mode, est.precision, device=device)
    findings = confirm_precision(findings, measured, mode)
    codes = {f.code for f in findings}
    limit = mode.low.max
    if measured.error is not None:
        return {"target": loaded.target, "mode": mode.name, "error": measured.error}
    happened = {
        "overflow": not measured.output_finite or any(not v <= limit for v in measured.module_max.values()),
        "underflow": any(share >= 0.5 for share in measured.grad_subnormal_share.values()),
    }
    predicted = {"overflow": "GL801" in codes, "underflow": "GL802" in codes}
    constants = [f.confirmed for f in findings if f.code in ("GL803", "GL804")]
    dtypes = node_dtypes(graph, mode)
    nodes = {n.name: n for n in est.nodes}
    tail_errors = []
    for node in graph.layer_nodes():
        seen = measured.module_max.get(node.module or "")
        rms = nodes[node.name].forward_rms if node.name in nodes else math.nan
        if dtypes.get(node.name) != LOW or seen is None or not 0 < seen <= limit or not rms > 0:
            continue
        if node.call_count > 1:
            continue  # a module applied in a loop: the hook sees the largest over every call
        tail_errors.append(abs(math.log2(predicted_max(node, rms, nodes, graph)[0] / seen)))
    return {
        "target": loaded.target,
        "mode": mode.name,
        "predicted": predicted,
        "happened": happened,
        "codes": sorted(codes),
        "constants_confirmed": constants,
        "tail_log2_errors": tail_errors,
        "init_scale": est.precision.loss_scale.init_scale,
    }


def summarize(rows: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    mine = [r for r in rows if r["mode"] == mode and "error" not in r]
    summary: dict[str, Any] = {"mode": mode, "models": len(mine)}
    for event in EVENTS:
        pairs = [(r["predicted"][event], r["happened"][event]) for r in mine]
        summary[event] = {
            "agree": sum(p == h for p, h in pairs),
            "true_positive": sum(p and h for p, h in pairs),
            "false_positive": sum(p and not h for p, h in pairs),
            "missed": sum(h and not p for p, h in pairs),
        }
    constants = [c for r in mine for c in r["constants_confirmed"]]
    summary["constants"] = {"findings": len(constants), "confirmed": sum(1 for c in constants if c)}
    errors = [e for r in mine for e in r["tail_log2_errors"]]
    summary["tail"] = {
        "modules": len(errors),
        "median_abs_log2_error": round(statistics.median(errors), 3) if errors else None,
        "p90_abs_log2_error": round(sorted(errors)[int(0.9 * (len(errors) - 1))], 3) if errors else None,
    }
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    n = summary["models"]
    print(f"\n{summary['mode']}: {n} models")
    for event in EVENTS:
        s = summary[event]
        print(
            f"  {event:9s} agree {s['agree']}/{n}  (predicted and measured {s['true_positive']}, "
            f"false alarms {s['false_positive']}, missed {s['missed']})"
        )
    c = summary["constants"]
    print(f"  constants {c['confirmed']}/{c['findings']} findings confirmed in the dtype")
    t = summary["tail"]
    print(
        f"  tail model: largest element of {t['modules']} module outputs, median |log2 error| "
        f"{t['median_abs_log2_error']} bits, p90 {t['p90_abs_log2_error']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help="model files or directories (default: --corpus)")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--modes", default="float16,bfloat16", help="precision modes (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="probe device (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: %(default)s)")
    parser.add_argument("--json", metavar="OUT", help="also write every row to this JSON file")
    parser.add_argument("--summarize", nargs="+", metavar="JSON", help="only summarize the rows of earlier --json runs")
    args = parser.parse_args(argv)
    if args.summarize:
        rows = [row for path in args.summarize for row in json.loads(Path(path).read_text(encoding="utf-8"))["rows"]]
        for mode in dict.fromkeys(r["mode"] for r in rows):
            print_summary(summarize(rows, mode))
        errors = [r for r in rows if "error" in r]
        print(f"\n{len(rows) - len(errors)} runs, {len(errors)} errors")
        for row in errors:
            print(f"  {Path(row['target']).name} [{row['mode']}]: {row['error']}")
        return 0
    torch.set_num_threads(args.threads)
    modes = [parse_precision(m).name for m in args.modes.split(",") if m.strip()]
    try:
        specs = expand_targets(args.paths or [args.corpus])
    except GradlintError as exc:
        print(f"precision.py: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for spec in specs:
        try:
            loaded_models = load_target(spec)
        except Exception as exc:  # noqa: BLE001 - a row like any other failure
            rows.extend({"target": str(spec), "mode": m, "error": f"{type(exc).__name__}: {exc}"} for m in modes)
            continue
        for loaded in loaded_models:
            graph = trace_model(loaded)
            for mode in modes:
                try:
                    row = measure(loaded, graph, mode, args.device)
                except Exception as exc:  # noqa: BLE001
                    row = {"target": loaded.target, "mode": mode, "error": f"{type(exc).__name__}: {exc}"}
                rows.append(row)
                if "error" in row:
                    print(f"{row['target']} [{mode}]: error: {row['error']}")
                else:
                    marks = " ".join(
                        f"{e}:{'P' if row['predicted'][e] else '-'}{'M' if row['happened'][e] else '-'}" for e in EVENTS
                    )
                    print(f"{Path(row['target']).name} [{mode}]: {marks} {','.join(row['codes'])}")
    summaries = [summarize(rows, mode) for mode in modes]
    for summary in summaries:
        print_summary(summary)
    errors = sum(1 for r in rows if "error" in r)
    print(f"\n{len(rows) - errors} runs, {errors} errors, {time.perf_counter() - started:.0f} s on {args.device}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summaries": summaries, "rows": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
