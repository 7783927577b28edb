"""Regenerate the README's gradient-flow pictures from ``examples/`` (issue #8).

    python scripts/render_readme_images.py                 # docs/images/gradient-flow-<example>.png
    python scripts/render_readme_images.py --out /tmp/img --format svg --no-probe

Each example is linted by gradlint's own pipeline and probed on the CPU (the reference protocol,
seeds 1, 2, 3), so the pictures show the prediction beside the measurement; ``report.plot(path)``
draws them. Needs the plot extra (``pip install -e '.[plot]'``). Exit status 2 when an example
cannot be linted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The examples the README shows, in the order it shows them.
EXAMPLES = ("healthy_cnn", "deep_relu_mlp", "exploding_rnn", "post_ln_transformer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", default=list(EXAMPLES), help="example names (default: the README's)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for the pictures")
    parser.add_argument("--format", choices=("png", "svg", "html"), default="png")
    parser.add_argument("--no-probe", action="store_true", help="the prediction only (fast)")
    args = parser.parse_args(argv)

    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    cwd = os.getcwd()
    os.chdir(ROOT)  # the pictures name examples/x.py, not an absolute path
    try:
        return _render(args.examples, args.out, args.format, probe=not args.no_probe)
    finally:
        os.chdir(cwd)


def _render(examples: list[str], out: Path, fmt: str, *, probe: bool) -> int:
    from gradlint.api import LintOptions, lint_paths

    options = LintOptions(probe=probe, device="cpu")
    status = 0
    for name in examples:
        target = f"examples/{name}.py"
        report = lint_paths([target], options)
        if report.errors or not report.models:
            for error in report.errors:
                print(f"{target}: {error.message}", file=sys.stderr)
            status = 2
            continue
        for file in report.plot(out / f"gradient-flow-{name}.{fmt}").paths:
            print(f"wrote {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
    return status


if __name__ == "__main__":
    sys.exit(main())
