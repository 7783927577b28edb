"""Calibrate the static training check against ``--probe-steps`` (DESIGN §2b) and report their agreement.

    python benchmarks/training.py                      # the corpus in benchmarks/corpus/ and examples/
    python benchmarks/training.py --json rows.json     # also keep every (model, optimizer) row
    python benchmarks/training.py --rows rows.json     # refit from kept rows without training again

For every model file and every optimizer setting in ``SETTINGS``: gradlint's pipeline (load -> trace ->
estimate -> training check) gives the predicted update ratios, and a real run of the protocol (150 steps,
one seed, CPU) the measured verdict. The two thresholds of ``gradlint.estimate.training`` are then fitted
by a grid search that maximises the balanced accuracy (the mean recall over trains / diverges / stalls),
on all rows and, to see how well that generalises, on each half of the models tested on the other half;
the report prints the fitted values, the agreement at the thresholds in the code, the "always trains"
baseline, the confusion table and the agreement per optimizer setting. Exit 0 (a report), 2 on a bad path.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:
    import gradlint  # noqa: F401
except ImportError:  # run from a checkout without an installed gradlint
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gradlint.errors import GradlintError  # noqa: E402
from gradlint.estimate import estimate  # noqa: E402
from gradlint.estimate import training as check  # noqa: E402
from gradlint.load import expand_targets, load_target  # noqa: E402
from gradlint.optimizers import optimizer_config  # noqa: E402
from gradlint.probe.deadline import Deadline  # noqa: E402
from gradlint.probe.steps import DEFAULT_STEPS, run_steps  # noqa: E402
from gradlint.trace import trace_model  # noqa: E402

DEFAULT_PATHS = (ROOT / "benchmarks" / "corpus", ROOT / "examples")
SETTINGS: tuple[dict[str, Any], ...] = (
    {"name": "sgd", "lr": 0.01, "momentum": 0.9},  # the run
    {"name": "sgd", "lr": 0.3},
    {"name": "adamw", "lr": 1e-3},  # the documented default
    {"name": "adam", "lr": 0.1},
    {"name": "rmsprop", "lr": 1e-2},  # torch's default lr
)
MAX_STEP_S = 0.05
"""Models whose forward and backward take longer than this on one CPU thread are left out (the 2-core budget)."""
VERDICTS = ("trains", "diverges", "stalls")


def measure(paths: Sequence[str], steps: int, budget_s: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for spec in expand_targets(list(paths)):
        if time.perf_counter() - started > budget_s:
            print(f"time budget of {budget_s:g} s spent; stopping before {spec}", file=sys.stderr)
            break
        try:
            loaded_models = load_target(spec)
        except GradlintError as error:
            print(f"skip {spec}: {error}", file=sys.stderr)
            continue
        for loaded in loaded_models:
            try:
                graph = trace_model(loaded)
                est = estimate(graph)
            except GradlintError as error:
                print(f"skip {loaded.target}: {error}", file=sys.stderr)
                continue
            cost = _step_seconds(loaded.model, loaded.example_inputs)
            if cost > MAX_STEP_S:
                print(f"skip {loaded.target}: one step takes {cost:.3f} s", file=sys.stderr)
                continue
            for setting in SETTINGS:
                params = {k: v for k, v in setting.items() if k != "name"}
                config = optimizer_config(setting["name"], **params)
                predicted = check.check_training(graph, est, config, steps)
                trainee = copy.deepcopy(loaded.model).train()
                for p in trainee.parameters():
                    p.requires_grad_(p.is_floating_point())
                t0 = time.perf_counter()
                try:
                    measured = run_steps(
                        trainee, loaded.example_inputs, steps, config, torch.device("cpu"), Deadline(None)
                    )
                except Exception as error:  # noqa: BLE001 - a model that cannot train is left out, and said
                    print(f"skip {loaded.target} {setting}: {type(error).__name__}: {error}", file=sys.stderr)
                    continue
                ratios = [w.update_ratio for w in predicted.weights if w.update_ratio is not None]
                rows.append(
                    {
                        "target": loaded.target,
                        "setting": setting,
                        "max_ratio": predicted.max_update_ratio,
                        "ratios": [round(r, 8) for r in ratios],
                        "predicted": predicted.verdict,
                        "measured": measured.verdict,
                        "loss_ratio": measured.loss_ratio,
                        "seconds": round(time.perf_counter() - t0, 2),
                    }
                )
                print(
                    f"{loaded.target:60.60} {_label(setting):22} max {predicted.max_update_ratio:9.3g} "
                    f"sum {predicted.step_change:9.3g} predicted {predicted.verdict:8} measured {measured.verdict}",
                    file=sys.stderr,
                )
    return rows


def _step_seconds(model: torch.nn.Module, inputs: Any) -> float:
    from gradlint.probe.io import call_model, output_tensor, protocol_inputs

    trainee = copy.deepcopy(model).train()
    x = protocol_inputs(inputs, torch.Generator().manual_seed(0), torch.device("cpu"))
    seconds = 0.0
    for _ in range(2):  # the second step: the first pays for one-off allocations
        t0 = time.perf_counter()
        try:
            y, _ = output_tensor(call_model(trainee, x))
            y.float().square().mean().backward()
        except Exception:  # noqa: BLE001 - the real run reports the failure
            return 0.0
        seconds = time.perf_counter() - t0
    return seconds


def _label(setting: dict[str, Any]) -> str:
    return " ".join(f"{v}" if k == "name" else f"{k} {v:g}" for k, v in setting.items())


def _family(row: dict[str, Any]) -> str:
    return "sgd" if row["setting"]["name"] == "sgd" else "adaptive"


def _features(row: dict[str, Any]) -> tuple[float, float]:
    """(the sum of the update ratios, the median one): what ``gradlint.estimate.training.judge`` reads."""
    ratios = row["ratios"]
    return sum(ratios), (statistics.median(ratios) if ratios else 0.0)


def predict(row: dict[str, Any], diverge: dict[str, float], stall: float, steps: int) -> str:
    change, median = _features(row)
    if change > diverge[_family(row)]:
        return "diverges"
    if steps * median < stall:
        return "stalls"
    return "trains"


def balanced_accuracy(rows: Sequence[dict[str, Any]], predicted: Sequence[str]) -> float:
    recalls = []
    for verdict in VERDICTS:
        idx = [i for i, r in enumerate(rows) if r["measured"] == verdict]
        if idx:
            recalls.append(sum(predicted[i] == verdict for i in idx) / len(idx))
    return sum(recalls) / len(recalls) if recalls else float("nan")


_GRID = [10.0 ** (e / 8) for e in range(-40, 16)]


def fit(rows: Sequence[dict[str, Any]], steps: int) -> tuple[float, dict[str, float], float]:
    """The thresholds (per-family divergence, stall) that maximise the balanced accuracy on ``rows``: a grid of
    eight steps a decade; a stall threshold above 10 (a weight moving ten times its RMS "stalls") is left out."""
    import numpy as np

    features = [_features(r) for r in rows]
    change = np.array([f[0] for f in features])
    moved = steps * np.array([f[1] for f in features])
    sgd_rows = np.array([_family(r) == "sgd" for r in rows])
    measured = np.array([VERDICTS.index(r["measured"]) for r in rows])
    present = [v for v in range(len(VERDICTS)) if (measured == v).any()]
    grid = np.array(_GRID)
    best: tuple[float, dict[str, float], float] = (-1.0, {}, 0.0)
    for stall in (g for g in _GRID if g <= 10.0):
        for sgd in _GRID:
            # one row of predictions per adaptive threshold: 0 trains, 1 diverges, 2 stalls
            threshold = np.where(sgd_rows[None, :], sgd, grid[:, None])
            predicted = np.where(change[None, :] > threshold, 1, np.where(moved[None, :] < stall, 2, 0))
            recalls = [((predicted == v) & (measured == v)).sum(axis=1) / (measured == v).sum() for v in present]
            scores = np.mean(recalls, axis=0)
            i = int(np.argmax(scores))
            if scores[i] > best[0] + 1e-12:
                best = (float(scores[i]), {"sgd": sgd, "adaptive": float(grid[i])}, stall)
    return best


def _thresholds(diverge: dict[str, float], stall: float) -> str:
    return f"diverge sum > {diverge['sgd']:.3g} (sgd) / {diverge['adaptive']:.3g} (adaptive), stall 150·median < {stall:.3g}"


def report(rows: Sequence[dict[str, Any]], steps: int) -> None:
    counts = Counter(r["measured"] for r in rows)
    print(f"{len(rows)} runs of {len({r['target'] for r in rows})} models; measured: {dict(counts)}")
    always = balanced_accuracy(rows, ["trains"] * len(rows))
    print(
        f"'always trains' baseline: balanced accuracy {always:.3f}, plain accuracy {counts['trains'] / len(rows):.3f}"
    )
    score, diverge, stall = fit(rows, steps)
    print(f"fit on all rows: {_thresholds(diverge, stall)}: balanced accuracy {score:.3f}")
    models = sorted({r["target"] for r in rows})
    halves = (set(models[0::2]), set(models[1::2]))
    for i, train in enumerate(halves):
        fitted = [r for r in rows if r["target"] in train]
        held = [r for r in rows if r["target"] not in train]
        score, d, s = fit(fitted, steps)
        out = balanced_accuracy(held, [predict(r, d, s, steps) for r in held])
        print(f"fit on half {i + 1} of the models ({score:.3f}), tested on the other half: balanced accuracy {out:.3f}")
    predicted = [check.judge(*_features(r), steps, _family(r)) for r in rows]
    score = balanced_accuracy(rows, predicted)
    plain = sum(p == r["measured"] for p, r in zip(predicted, rows, strict=True)) / len(rows)
    print(
        f"in the code ({_thresholds(check.DIVERGE_STEP, check.STALL_MOVE)}): "
        f"balanced accuracy {score:.3f}, plain accuracy {plain:.3f}"
    )
    print("measured \\ predicted  " + "  ".join(f"{v:>8}" for v in VERDICTS))
    for measured in VERDICTS:
        cells = [
            sum(1 for p, r in zip(predicted, rows, strict=True) if r["measured"] == measured and p == v)
            for v in VERDICTS
        ]
        print(f"{measured:>20}  " + "  ".join(f"{c:>8}" for c in cells))
    for setting in SETTINGS:
        idx = [i for i, r in enumerate(rows) if r["setting"] == setting]
        if idx:
            sub = [rows[i] for i in idx]
            print(
                f"  {_label(setting):24} n={len(idx):3}  measured {dict(Counter(r['measured'] for r in sub))}  "
                f"balanced accuracy {balanced_accuracy(sub, [predicted[i] for i in idx]):.3f}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="model files or directories (default: the corpus and examples/)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--json", help="write every row here")
    parser.add_argument("--rows", help="read rows written by --json instead of measuring")
    parser.add_argument("--budget", type=float, default=900.0, help="stop starting new models after this many seconds")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.rows:
        rows = json.loads(Path(args.rows).read_text())
    else:
        paths = args.paths or [str(p) for p in DEFAULT_PATHS]
        missing = [p for p in paths if not Path(p.split(":")[0]).exists()]
        if missing:
            print(f"no such path: {', '.join(missing)}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        rows = measure(paths, args.steps, args.budget)
        print(f"measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    rows = [r for r in rows if all(math.isfinite(x) for x in r["ratios"])]
    report(rows, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
