"""Many model files: one gradlint process for all of them, against one process per file, and ``--jobs``.

    python benchmarks/many_files.py              # the examples/ models, copied to 8 files
    python benchmarks/many_files.py --files 16 --jobs 2 --repeat 3

Every run is a fresh ``gradlint`` process (``python -m gradlint``), so each pays its interpreter start
and the imports of torch and gradlint: the per-file column pays them once per file. Seconds are the
median of ``--repeat`` interleaved runs.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gradlint", *args, "-q", "--isolated", "--exit-zero"], check=False)
    if done.returncode != 0:
        raise SystemExit(f"gradlint {' '.join(args)} exited {done.returncode}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    sources = sorted(glob.glob(os.path.join(ROOT, "examples", "*.py")))
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i in range(args.files):
            path = os.path.join(folder, f"model_{i:03d}.py")
            shutil.copy(sources[i % len(sources)], path)
            files.append(path)
        runs: dict[str, list[float]] = {"one process": [], "one process per file": [], f"--jobs {args.jobs}": []}
        for _ in range(max(args.repeat, 1)):
            runs["one process"].append(run([folder]))
            runs["one process per file"].append(sum(run([path]) for path in files))
            runs[f"--jobs {args.jobs}"].append(run([folder, "--jobs", str(args.jobs)]))
    single = statistics.median(runs["one process"])
    print(f"{args.files} model files (examples/ copied), {os.cpu_count()} cores, median of {args.repeat} run(s)")
    print("| how | seconds | against one process |")
    print("|---|---:|---:|")
    for how, seconds in runs.items():
        median = statistics.median(seconds)
        print(f"| {how} | {median:.1f} | {median / single:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
