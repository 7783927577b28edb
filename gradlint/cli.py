"""Command line: ``gradlint [OPTIONS] TARGET...`` and ``gradlint rule CODE``.

The CLI only parses options, calls ``gradlint.api`` and hands the results to a
formatter. ``main(argv) -> int`` returns the exit code: 0 clean, 1 findings at or
above ``--fail-on``, 2 a usage error or a target that could not be linted.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import IO, Any

import click

from gradlint._version import __version__
from gradlint.errors import GradlintError, UsageError, internal_error_message

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("text", "json")
SEVERITIES = ("info", "warning", "error")


class _DefaultCommandGroup(click.Group):
    """``gradlint model.py`` means ``gradlint check model.py``, as ``ruff model.py`` once meant ``ruff check``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradlint")
def cli() -> None:
    """gradlint: find exploding and vanishing gradients in PyTorch models before you train.

    \b
    gradlint model.py                 lint the models in a file
    gradlint model.py:build_model     lint one model (instance, class or factory)
    gradlint models/                  lint every model file in a directory
    gradlint rule GL001               explain a rule
    """


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--input-shape {text!r}: expected comma-separated integers such as 8,3,32,32") from None
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input-shape {text!r}: expected positive integers such as 8,3,32,32")
    return dims


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _use_color(no_color: bool, stream: IO[str]) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


@cli.command("check")
@click.argument("targets", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, writable=True), help="Write findings here instead of stdout.")
@click.option("--select", multiple=True, help="Rule codes, prefixes (GL1) or ALL to enable (comma-separated or repeated).")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable on top of --select.")
@click.option("--input-shape", multiple=True, metavar="SHAPE", help="Shape of one forward argument, e.g. 8,3,32,32 (repeat per argument).")
@click.option("--input-dtype", default="float32", show_default=True, help="dtype of --input-shape inputs (float32, float16, int64 ...).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="info", show_default=True, help="Exit 1 when a finding is at or above this severity.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings (errors loading a target still exit 2).")
@click.option("--quiet", "-q", is_flag=True, help="Only findings: no layer table, no fixes, no summary.")
@click.option("--no-color", is_flag=True, help="No colour (also: the NO_COLOR environment variable).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def check_command(
    targets: tuple[str, ...],
    output_format: str,
    output_file: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    input_shape: tuple[str, ...],
    input_dtype: str,
    fail_on: str,
    exit_zero: bool,
    quiet: bool,
    no_color: bool,
    debug: bool,
) -> None:
    """Lint the models in TARGETS (files, PATH:ATTR, directories)."""
    from gradlint.api import LintOptions, lint_paths
    from gradlint.report import TextReporter, format_json
    from gradlint.types import Severity, TargetError

    options = LintOptions(
        select=_split(select) or None,
        ignore=_split(ignore),
        extend_select=_split(extend_select),
        input_shapes=tuple(_parse_shape(s) for s in input_shape),
        input_dtype=input_dtype,
    )
    options = LintOptions(**{**options.__dict__, "rules": options.selected_rules()})  # unknown codes fail before any import

    def show_traceback(error: TargetError) -> None:
        if debug and error.exception is not None:
            traceback.print_exception(error.exception, file=sys.stderr)

    out: IO[str] = open(output_file, "w", encoding="utf-8") if output_file else sys.stdout  # noqa: SIM115
    try:
        if output_format == "json":
            report = lint_paths(targets, options, on_error=show_traceback)
            out.write(format_json(report) + "\n")
            for error in report.errors:
                click.echo(f"gradlint: {error.message}", err=True)
        else:
            reporter = TextReporter(out, sys.stderr, color=_use_color(no_color, out), show_layers=not quiet, show_fix=not quiet)
            report = lint_paths(targets, options, on_model=reporter.render_model, on_error=show_traceback)
            if quiet:
                for error in report.errors:
                    click.echo(f"gradlint: {error.message}", err=True)
            else:
                reporter.render_summary(report)
    finally:
        if output_file:
            out.close()

    threshold = Severity(fail_on).rank
    failing = [f for f in report.findings if f.severity.rank >= threshold]
    if report.errors:
        raise SystemExit(EXIT_ERROR)
    raise SystemExit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


@cli.command("rule")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
def rule_command(code: str | None, show_all: bool) -> None:
    """Explain a rule: what it checks, why, an example and the fix."""
    from gradlint.registry import all_rules, get_rule

    if show_all:
        for rule in all_rules():
            click.echo(f"# {rule.code} {rule.name} ({rule.severity.value})\n\n{rule.doc}\n")
        return
    if not code:
        raise UsageError("name a rule (`gradlint rule GL001`) or pass --all")
    rule = get_rule(code)
    click.echo(f"# {rule.code} {rule.name} ({rule.severity.value})\n\n{rule.doc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script passes it to ``sys.exit``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="gradlint", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_ERROR
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.ClickException as error:
        error.show()
        return EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("gradlint: aborted", err=True)
        return EXIT_ERROR
    except GradlintError as error:
        if debug:
            traceback.print_exc()
        click.echo(f"gradlint: {error}", err=True)
        return EXIT_ERROR
    except Exception as error:  # an internal error: say how to report it
        if debug:
            traceback.print_exc()
        click.echo(internal_error_message(error), err=True)
        return EXIT_ERROR
    return EXIT_CLEAN


def entry_point() -> Any:
    sys.exit(main())
