"""How close is the static estimate to the probe? A report over a corpus of model files (issue #4).

    python benchmarks/accuracy.py                       # the corpus in benchmarks/corpus/
    python benchmarks/accuracy.py path/to/models/ x.py  # any model files or directories
    python benchmarks/accuracy.py --json out.json --check

Every model goes through gradlint's own pipeline (load -> trace -> estimate) and through the
probe (DESIGN §2). Per model it prints the predicted and probed verdicts and the |log10 error|
of the predicted per-weight gradient RMS; then, over all weights of all models, the median and
p90 |log10 error|, the verdict agreement, and how blocked weights (exactly zero gradient) were
predicted. Blocked and non-finite weights are left out of the error statistics and counted apart.

Exit status: 0 (it is a report), 2 when the estimator cannot be imported or a path is bad;
with ``--check``, 1 when a target of issue #4 is missed or a model could not be measured.
``--probe-only`` skips the estimator and reports what the probe measures, e.g. to vet a corpus.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(__file__).resolve().parent / "corpus"

try:
    import gradlint  # noqa: F401
except ImportError:  # run from a checkout without an installed gradlint
    sys.path.insert(0, str(ROOT))

import torch

from gradlint.errors import GradlintError
from gradlint.load import expand_targets, load_target
from gradlint.probe import ProbeResult, probe
from gradlint.trace import trace_model
from gradlint.types import LoadedModel, ModelGraph

#: Issue #4's targets, in log10 of the gradient RMS (a factor of 1.4 is 0.146).
MEDIAN_TARGET = 0.15
P90_TARGET = 0.5
AGREEMENT_TARGET = 0.95

Estimator = Callable[[ModelGraph], Any]


@dataclass
class WeightRow:
    name: str
    predicted: float | None
    """log10 gradient RMS predicted; None when predicted blocked."""
    probed: float | None
    """log10 gradient RMS measured; None when blocked; NaN when non-finite."""
    band: tuple[float, float] | None = None

    @property
    def error(self) -> float | None:
        """|predicted - probed| when both are finite numbers, else None."""
        if self.predicted is None or self.probed is None:
            return None
        if not (math.isfinite(self.predicted) and math.isfinite(self.probed)):
            return None
        return abs(self.predicted - self.probed)

    @property
    def status(self) -> str:
        """``value``, ``both-blocked``, ``missed-block`` (probed blocked, predicted a value),
        ``false-block`` (predicted blocked, probed a value), ``non-finite`` or ``unmatched``."""
        if self.probed is not None and not math.isfinite(self.probed):
            return "non-finite"
        if self.probed is None and self.predicted is None:
            return "both-blocked"
        if self.probed is None:
            return "missed-block"
        if self.predicted is None:
            return "false-block"
        return "value" if math.isfinite(self.predicted) else "non-finite"


@dataclass
class ModelRow:
    target: str
    weights: list[WeightRow] = field(default_factory=list)
    predicted_verdict: str | None = None
    probed_verdict: str | None = None
    predicted_reason: str = ""
    probed_reason: str = ""
    uncertain: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    """Weights only one side reports (a sign that the estimator's weight list is off)."""
    trace_method: str = ""
    estimate_s: float = 0.0
    probe_s: float = 0.0
    error: str | None = None
    """Why the model could not be measured (load, trace, estimate or probe failure)."""
    details: str | None = field(default=None, repr=False)
    """The traceback behind ``error``."""

    @property
    def errors(self) -> list[float]:
        return [e for w in self.weights if (e := w.error) is not None]

    @property
    def worst(self) -> WeightRow | None:
        scored = [w for w in self.weights if w.error is not None]
        return max(scored, key=lambda w: w.error or 0.0) if scored else None

    @property
    def agrees(self) -> bool:
        return self.predicted_verdict is not None and self.predicted_verdict == self.probed_verdict


@dataclass
class Summary:
    models: int
    failed: int
    weights: int
    median: float | None
    p90: float | None
    agreement: float | None
    blocked: dict[str, int]
    band_coverage: float | None
    """Fraction of scored weights whose probed value lies inside the predicted band (where bands are given)."""
    misses: list[str]

    @property
    def passed(self) -> bool:
        return not self.misses


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between order statistics."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of nothing")
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def measure(loaded: LoadedModel, estimator: Estimator | None, seeds: Sequence[int], device: str) -> ModelRow:
    """Trace, estimate and probe one loaded model; failures are recorded on the row, not raised."""
    row = ModelRow(loaded.target)
    stage = "trace"
    try:
        graph = trace_model(loaded)
        row.trace_method = graph.trace.method
        predicted: dict[str, tuple[float | None, tuple[float, float] | None]] = {}
        order: list[str] = []
        if estimator is not None:
            stage = "estimate"
            started = time.perf_counter()
            est = estimator(graph)
            row.estimate_s = time.perf_counter() - started
            for w in est.weights:
                predicted[w.name] = (w.log10_grad_rms, getattr(w, "band", None))
                order.append(w.name)
            row.predicted_verdict = est.verdict.verdict
            row.predicted_reason = est.verdict.reason
            row.uncertain = [(str(n), str(r)) for n, r in getattr(est, "uncertain", ())]
        stage = "probe"
        measured = probe(loaded.model, loaded.example_inputs, seeds=seeds, device=device, graph=graph)
        row.probe_s = measured.wall_time_s
        row.probed_verdict = measured.verdict
        row.probed_reason = measured.verdict_reason
        row.weights, row.unmatched = _pair(predicted, order, measured, estimator is not None)
    except Exception as exc:  # noqa: BLE001 - a report: one broken model must not stop the others
        row.error = f"{stage} failed: {type(exc).__name__}: {_first_line(exc)}"
        row.details = traceback.format_exc()
    return row


def _pair(
    predicted: dict[str, tuple[float | None, tuple[float, float] | None]],
    order: list[str],
    measured: ProbeResult,
    have_estimate: bool,
) -> tuple[list[WeightRow], list[str]]:
    rows: list[WeightRow] = []
    probed_names = set()
    for w in measured.weights:
        probed_names.add(w.name)
        value = math.nan if w.nonfinite else w.log10_grad_rms
        if have_estimate and w.name not in predicted:
            continue
        guess, band = predicted.get(w.name, (None, None))
        rows.append(WeightRow(w.name, guess, value, tuple(band) if band is not None else None))
    unmatched: list[str] = []
    if have_estimate:
        unmatched += [f"{name} (probe only)" for w in measured.weights if (name := w.name) not in predicted]
        unmatched += [f"{name} (estimate only)" for name in order if name not in probed_names]
    return rows, unmatched


def summarize(rows: Sequence[ModelRow], *, with_estimate: bool = True) -> Summary:
    measured = [r for r in rows if r.error is None]
    errors = [e for r in measured for e in r.errors]
    blocked = {"both-blocked": 0, "missed-block": 0, "false-block": 0, "non-finite": 0}
    inside = banded = 0
    for r in measured:
        for w in r.weights:
            if w.status in blocked:
                blocked[w.status] += 1
            if w.band is not None and w.error is not None and w.probed is not None:
                banded += 1
                inside += w.band[0] <= w.probed <= w.band[1]
    median = statistics.median(errors) if errors else None
    p90 = percentile(errors, 0.9) if errors else None
    agreement = sum(r.agrees for r in measured) / len(measured) if measured and with_estimate else None
    misses: list[str] = []
    if with_estimate:
        if median is None or median > MEDIAN_TARGET:
            misses.append(f"median |log10 error| {_num(median)} > {MEDIAN_TARGET}")
        if p90 is None or p90 > P90_TARGET:
            misses.append(f"p90 |log10 error| {_num(p90)} > {P90_TARGET}")
        if agreement is None or agreement < AGREEMENT_TARGET:
            misses.append(f"verdict agreement {_pct(agreement)} < {AGREEMENT_TARGET:.0%}")
    failed = len(rows) - len(measured)
    if failed:
        misses.append(f"{failed} model(s) could not be measured")
    return Summary(
        models=len(rows),
        failed=failed,
        weights=len(errors),
        median=median,
        p90=p90,
        agreement=agreement,
        blocked=blocked,
        band_coverage=inside / banded if banded else None,
        misses=misses,
    )


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _val(value: float | None) -> str:
    if value is None:
        return "blocked"
    return "non-finite" if not math.isfinite(value) else f"{value:+.2f}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _short_name(target: str) -> str:
    path, _, attr = target.rpartition(":")
    name = Path(path or target).stem
    return name if attr in ("build_model", "") else f"{name}:{attr}"


def print_model(row: ModelRow, out: TextIO, *, with_estimate: bool, every_weight: bool) -> None:
    name = _short_name(row.target)
    if row.error is not None:
        print(f"{name:40s} ERROR {row.error}", file=out)
        return
    n = len(row.weights)
    blocked = sum(w.probed is None for w in row.weights)
    if not with_estimate:
        values = [w.probed for w in row.weights if w.probed is not None and math.isfinite(w.probed)]
        span = f"[{min(values):+.2f}, {max(values):+.2f}]" if values else "-"
        print(
            f"{name:40s} {n:3d} w {blocked:2d} blk  probe {row.probed_verdict:9s} log10 in {span:16s} "
            f"{row.trace_method:6s} {row.probe_s:5.2f}s",
            file=out,
        )
        return
    errs = row.errors
    mark = "  " if row.agrees else "!!"
    worst = row.worst
    worst_text = f"{worst.name} {_val(worst.predicted)} vs {_val(worst.probed)}" if worst else "-"
    print(
        f"{mark}{name:38s} {n:3d} w  {row.predicted_verdict or '-':>9s} / {row.probed_verdict:9s} "
        f"med {_num(statistics.median(errs) if errs else None, 2)} max {_num(max(errs) if errs else None, 2)}  "
        f"worst {worst_text}",
        file=out,
    )
    notes = []
    bad_blocks = [w.name for w in row.weights if w.status in ("missed-block", "false-block")]
    if bad_blocks:
        notes.append(f"blocked mispredicted: {', '.join(bad_blocks[:4])}{' ...' if len(bad_blocks) > 4 else ''}")
    if row.unmatched:
        notes.append(f"unmatched weights: {', '.join(row.unmatched[:4])}{' ...' if len(row.unmatched) > 4 else ''}")
    if row.uncertain:
        notes.append(
            f"uncertain: {', '.join(f'{n} ({r})' for n, r in row.uncertain[:3])}{' ...' if len(row.uncertain) > 3 else ''}"
        )
    if not row.agrees:
        notes.append(f"predicted: {row.predicted_reason}; probed: {row.probed_reason}")
    for note in notes:
        print(f"{'':42s}{note}", file=out)
    if every_weight:
        for w in row.weights:
            err = _num(w.error, 2) if w.error is not None else w.status
            band = f"  band [{w.band[0]:+.2f}, {w.band[1]:+.2f}]" if w.band else ""
            print(
                f"{'':6s}{w.name:50s} pred {_val(w.predicted):>10s}  probe {_val(w.probed):>10s}  |err| {err}{band}",
                file=out,
            )


def print_summary(
    summary: Summary, rows: Sequence[ModelRow], out: TextIO, *, with_estimate: bool, wall_s: float
) -> None:
    print("", file=out)
    measured = [r for r in rows if r.error is None]
    probe_s = sum(r.probe_s for r in measured)
    estimate_s = sum(r.estimate_s for r in measured)
    print(
        f"models: {summary.models} ({summary.failed} failed)   wall {wall_s:.1f}s (probe {probe_s:.1f}s, estimate {estimate_s:.1f}s)",
        file=out,
    )
    counts = {v: sum(r.probed_verdict == v for r in measured) for v in ("ok", "vanishing", "exploding")}
    print("probed verdicts: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=out)
    if not with_estimate:
        return
    print(
        f"weights scored: {summary.weights}   median |log10 error| {_num(summary.median)} (target <= {MEDIAN_TARGET})"
        f"   p90 {_num(summary.p90)} (target <= {P90_TARGET})",
        file=out,
    )
    agree = sum(r.agrees for r in measured)
    print(
        f"verdict agreement: {agree}/{len(measured)} = {_pct(summary.agreement)} (target >= {AGREEMENT_TARGET:.0%})",
        file=out,
    )
    b = summary.blocked
    print(
        f"blocked weights: {b['both-blocked']} predicted and probed blocked, {b['missed-block']} probed blocked but "
        f"predicted a value, {b['false-block']} predicted blocked but probed a value; {b['non-finite']} non-finite",
        file=out,
    )
    if summary.band_coverage is not None:
        print(f"probed value inside the predicted band: {_pct(summary.band_coverage)}", file=out)
    print("targets: " + ("met" if summary.passed else "MISSED: " + "; ".join(summary.misses)), file=out)


def to_json(rows: Sequence[ModelRow], summary: Summary) -> dict[str, Any]:
    models = []
    for r in rows:
        record = asdict(r)
        record["name"] = _short_name(r.target)
        record["agrees"] = r.agrees
        for w, data in zip(r.weights, record["weights"]):
            data["error"] = w.error
            data["status"] = w.status
            for key in ("predicted", "probed"):
                if data[key] is not None and not math.isfinite(data[key]):
                    data[key] = str(data[key])  # JSON has no NaN
        models.append(record)
    return {
        "targets": {"median": MEDIAN_TARGET, "p90": P90_TARGET, "agreement": AGREEMENT_TARGET},
        "summary": asdict(summary) | {"passed": summary.passed},
        "models": models,
    }


def _load_estimator() -> Estimator:
    from gradlint.estimate import estimate

    return estimate


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help="model files or directories (default: --corpus)")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="corpus directory (default: %(default)s)")
    parser.add_argument("--json", metavar="OUT", help="also write every number to this JSON file")
    parser.add_argument("--check", action="store_true", help="exit 1 when issue #4's targets are missed")
    parser.add_argument("--probe-only", action="store_true", help="skip the estimator; report what the probe measures")
    parser.add_argument("--weights", action="store_true", help="print every weight's predicted and probed value")
    parser.add_argument("--seeds", default="1,2,3", help="probe seeds (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="probe device (default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; small models run fastest on one (default: %(default)s)",
    )
    parser.add_argument("--debug", action="store_true", help="print the traceback of a model that fails")
    args = parser.parse_args(argv)

    estimator: Estimator | None = None
    if not args.probe_only:
        try:
            estimator = _load_estimator()
        except ImportError as exc:
            print(
                f"accuracy.py: cannot import the static estimator (gradlint.estimate.estimate): {exc}\n"
                "accuracy.py: it lands with issue #4; until then run with --probe-only to vet the corpus",
                file=sys.stderr,
            )
            return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())

    try:
        specs = expand_targets(args.paths or [args.corpus])
    except GradlintError as exc:
        print(f"accuracy.py: {exc}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    rows: list[ModelRow] = []
    with_estimate = estimator is not None
    for spec in specs:
        print(f"... {spec}", file=sys.stderr, flush=True)
        try:
            loaded_models = load_target(spec)
        except Exception as exc:  # noqa: BLE001 - reported as a row like any other failure
            row = ModelRow(str(spec), error=f"load failed: {type(exc).__name__}: {_first_line(exc)}")
            if args.debug:
                traceback.print_exc()
            rows.append(row)
            print_model(row, sys.stdout, with_estimate=with_estimate, every_weight=args.weights)
            continue
        for loaded in loaded_models:
            row = measure(loaded, estimator, seeds, args.device)
            if row.details is not None and args.debug:
                print(row.details, file=sys.stderr)
            rows.append(row)
            print_model(row, sys.stdout, with_estimate=with_estimate, every_weight=args.weights)
            sys.stdout.flush()

    summary = summarize(rows, with_estimate=with_estimate)
    print_summary(summary, rows, sys.stdout, with_estimate=with_estimate, wall_s=time.perf_counter() - started)
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(rows, summary), indent=1) + "\n", encoding="utf-8")
    if args.check and not summary.passed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
