"""Lint every entry of the wild corpus (tests/wild/manifest.toml) the way a user would, and tabulate it.

    python benchmarks/wild.py                    # every entry, static lint
    python benchmarks/wild.py --probe            # also measure (the reference protocol) and compare
    python benchmarks/wild.py --plain            # each bare file path: what discovery finds on its own
    python benchmarks/wild.py -k vit --json out.json --markdown status.md

Each entry runs as its own ``python -m gradlint ARGS --format json --no-color`` process from the
repository root, so the command line, the working directory and the output are exactly what a user
gets, and one entry that hangs or crashes cannot take the others down. Per entry it prints the exit
code, the number of findings, the verdict (and the probe's), internal errors, the estimate's
coverage when the report carries one, and, for a failure, its one-line cause.

Exit status: 0 (it is a report), 2 when the manifest cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "wild" / "manifest.toml"
INTERNAL_MARK = "internal error"


@dataclass(frozen=True)
class Entry:
    file: str
    kind: str
    args: tuple[str, ...]
    expect: str
    known: str | None


@dataclass(frozen=True)
class Row:
    file: str
    kind: str
    expect: str
    known: str | None
    exit: int | None
    seconds: float
    ok: bool
    """What the manifest expects happened: a report (exit 0/1, JSON with a model) or a one-line error."""
    findings: int | None
    verdict: str | None
    probe_verdict: str | None
    internal_errors: int
    coverage: str
    weight_errors: tuple[float, ...]
    """|log10 predicted - log10 probed| gradient RMS per weight with both numbers (after --probe)."""
    blocked_disagree: int
    """Weights that one side says are blocked (no gradient) and the other does not."""
    cause: str
    """The first error line, or the trace fallbacks; empty for a clean report."""


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return [
        Entry(m["file"], m.get("kind", ""), tuple(m["args"]), m.get("expect", "report"), m.get("known"))
        for m in data["model"]
    ]


def run_entry(entry: Entry, probe: bool, timeout_s: float, plain: bool = False) -> Row:
    args = (entry.file,) if plain else entry.args
    command = [sys.executable, "-m", "gradlint", *args, "--format", "json", "--no-color"]
    if probe:
        command.append("--probe")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return _row(entry, None, time.perf_counter() - start, None, f"timed out after {timeout_s:.0f} s", 0)
    seconds = time.perf_counter() - start
    stderr_lines = [line for line in done.stderr.splitlines() if line.strip()]
    internal = sum(INTERNAL_MARK in line for line in stderr_lines) + (
        "Traceback (most recent call last)" in done.stderr
    )
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    cause = _cause(report, stderr_lines)
    return _row(entry, done.returncode, seconds, report, cause, internal, stderr_lines)


def _row(
    entry: Entry,
    code: int | None,
    seconds: float,
    report: dict[str, Any] | None,
    cause: str,
    internal: int,
    stderr_lines: list[str] | None = None,
) -> Row:
    models = (report or {}).get("models") or []
    errors = (report or {}).get("errors") or []
    # the CLI prints each error entry again on stderr: count the report's entries when it has them
    internal = max(internal, sum(INTERNAL_MARK in str(e.get("message", "")) for e in errors))
    if entry.expect == "report":
        ok = code in (0, 1) and bool(models) and not errors and internal == 0
    else:
        gradlint_lines = [line for line in stderr_lines or [] if line.startswith("gradlint:")]
        ok = code == 2 and not models and len(gradlint_lines) == 1 and internal == 0
    first = models[0] if models else {}
    weight_errors, blocked_disagree = probe_agreement(first)
    return Row(
        file=entry.file,
        kind=entry.kind,
        expect=entry.expect,
        known=entry.known,
        exit=code,
        seconds=round(seconds, 1),
        ok=ok,
        findings=len(first.get("findings", [])) if models else None,
        verdict=first.get("verdict"),
        probe_verdict=first.get("probe_verdict"),
        internal_errors=internal,
        coverage=_coverage(first),
        weight_errors=weight_errors,
        blocked_disagree=blocked_disagree,
        cause=cause,
    )


def probe_agreement(model: dict[str, Any]) -> tuple[tuple[float, ...], int]:
    """Per-weight |log10 error| of the prediction against the probe, and the blocked/unblocked disagreements.

    A JSON weight's ``pred_log10_grad_rms`` / ``probe_log10_grad_rms`` is null for a blocked weight and a
    string for a non-finite one; non-finite weights are left out of both counts.
    """
    errors: list[float] = []
    disagree = 0
    for weight in model.get("weights", []):
        if "probe_log10_grad_rms" not in weight or "pred_log10_grad_rms" not in weight:
            continue
        predicted, probed = weight["pred_log10_grad_rms"], weight["probe_log10_grad_rms"]
        if isinstance(predicted, str) or isinstance(probed, str):
            continue
        if (predicted is None) != (probed is None):
            disagree += 1
        elif predicted is not None:
            errors.append(abs(predicted - probed))
    return tuple(errors), disagree


def _agreement_cell(row: Row) -> str:
    if not row.weight_errors and not row.blocked_disagree:
        return ""
    text = f"med {statistics.median(row.weight_errors):.2f}" if row.weight_errors else ""
    return text + (f", {row.blocked_disagree} blocked≠" if row.blocked_disagree else "")


def _coverage(model: dict[str, Any]) -> str:
    """The report's own coverage figure when it has one (issue #15); else how many nodes had no rule."""
    coverage = model.get("coverage")
    if isinstance(coverage, dict):
        for key in ("weights", "ops", "fraction"):
            value = coverage.get(key)
            if isinstance(value, (int, float)):
                return f"{value:.0%}" if value <= 1 else str(value)
        return json.dumps(coverage, sort_keys=True)[:40]
    if isinstance(coverage, (int, float)):
        return f"{coverage:.0%}"
    if not model:
        return ""
    uncertain = model.get("uncertain") or []
    return f"{len(uncertain)} uncertain" if uncertain else "no gaps"


def _cause(report: dict[str, Any] | None, stderr_lines: list[str]) -> str:
    errors = (report or {}).get("errors") or []
    if errors:
        return str(errors[0].get("message", ""))
    messages = [line for line in stderr_lines if line.startswith("gradlint:") or "Error" in line]
    if messages and not (report or {}).get("models"):
        return messages[-1]
    models = (report or {}).get("models") or []
    if models:
        fallbacks = models[0].get("trace", {}).get("fallbacks") or []
        method = models[0].get("trace", {}).get("method", "")
        if fallbacks:
            return f"traced by {method} after: " + "; ".join(f"{f['method']}: {f['error']}" for f in fallbacks)
    return ""


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def print_table(rows: list[Row], out: Any = sys.stdout) -> None:
    header = ("file", "exit", "s", "findings", "verdict", "probe", "agreement", "internal", "coverage", "ok", "cause")
    out.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
    for row in rows:
        name = row.file.removeprefix("tests/wild/")
        ok = "yes" if row.ok else ("known" if row.known else "NO")
        cells = (
            name,
            row.exit,
            row.seconds,
            row.findings,
            row.verdict,
            row.probe_verdict,
            _agreement_cell(row),
            row.internal_errors or "",
            row.coverage,
            ok,
            row.cause[:160],
        )
        out.write("| " + " | ".join(_cell(c) for c in cells) + " |\n")
    total = len(rows)
    good = sum(row.ok for row in rows)
    agree = [row for row in rows if row.verdict and row.probe_verdict]
    out.write(f"\n{good} of {total} entries behave as the manifest expects")
    out.write(f"; internal errors: {sum(row.internal_errors for row in rows)}")
    if agree:
        same = sum(row.verdict == row.probe_verdict for row in agree)
        out.write(f"; probe verdict agrees on {same} of {len(agree)}")
    pooled = sorted(error for row in rows for error in row.weight_errors)
    if pooled:
        p90 = pooled[min(len(pooled) - 1, int(0.9 * len(pooled)))]
        blocked = sum(row.blocked_disagree for row in rows)
        out.write(
            f"\nper-weight |log10 error| over {len(pooled)} weights: median {statistics.median(pooled):.3f}, "
            f"p90 {p90:.3f}; blocked/unblocked disagreements: {blocked}"
        )
    stale = [row.file for row in rows if row.ok and row.known]
    if stale:
        out.write(f"\nworks now but marked known (drop `known`): {', '.join(stale)}")
    unexpected = [row.file for row in rows if not row.ok and not row.known]
    if unexpected:
        out.write(f"\nfails without a `known` reason: {', '.join(unexpected)}")
    out.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--probe", action="store_true", help="also run the probe and compare verdicts")
    parser.add_argument(
        "--plain", action="store_true", help="lint each bare file path instead (what discovery finds on its own)"
    )
    parser.add_argument("-k", dest="match", help="only entries whose file contains this text")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per entry [300]")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    try:
        entries = load_manifest(args.manifest)
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"wild.py: cannot read {args.manifest}: {exc}", file=sys.stderr)
        return 2
    if args.match:
        entries = [e for e in entries if args.match in e.file]
    rows = []
    for entry in entries:
        row = run_entry(entry, args.probe, args.timeout, plain=args.plain)
        print(f"{'ok ' if row.ok else 'BAD'} {row.exit} {row.seconds:6.1f}s {entry.file}", file=sys.stderr)
        rows.append(row)
    print_table(rows)
    if args.markdown:
        with args.markdown.open("w", encoding="utf-8") as handle:
            print_table(rows, handle)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
