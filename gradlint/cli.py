"""Command line: ``gradlint [OPTIONS] TARGET...`` and ``gradlint rule CODE``.

The CLI only parses options, calls ``gradlint.api`` and hands the results to a
formatter. ``main(argv) -> int`` returns the exit code: 0 clean, 1 findings at or
above ``--fail-on``, 2 a usage error or a target that could not be linted.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

import click

from gradlint._version import __version__
from gradlint.errors import GradlintError, UsageError, internal_error_message

if TYPE_CHECKING:
    from gradlint.types import Report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("text", "concise", "full", "json", "sarif", "github")
TEXT_FORMATS = ("text", "concise", "full")
SEVERITIES = ("info", "warning", "error")
# gradlint.probe's choices, mirrored (a test keeps them in step): commands import the stages lazily.
DEVICE_CHOICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("sgd", "adam")


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


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _use_color(no_color: bool, stream: IO[str]) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def _check_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip().lower()
    if name not in DEVICE_CHOICES and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise click.BadParameter(f"expected one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    return name


_POSITIVE = click.FloatRange(min=0, min_open=True)


@cli.command("check")
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    help="Output format (default: text, or output-format in [tool.gradlint]).",
)
@click.option("--output-file", "-o", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read settings from this file only (a pyproject.toml or gradlint.toml).",
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option(
    "--select",
    multiple=True,
    help="Rule codes, prefixes (GL1), names or ALL to enable (comma-separated or repeated); replaces the config's selection.",
)
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable on top of the selection.")
@click.option(
    "--input-shape",
    multiple=True,
    metavar="SHAPE",
    help="Shape of one forward argument, e.g. 8,3,32,32 (repeat per argument).",
)
@click.option(
    "--input-dtype",
    default=None,
    help="dtype of --input-shape inputs (float32, float16, int64 ...) [default: float32].",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    help="Exit 1 when a finding is at or above this severity (default: info, or fail-on in [tool.gradlint]).",
)
@click.option(
    "--exit-zero", is_flag=True, help="Exit 0 even when there are findings (errors loading a target still exit 2)."
)
@click.option("--statistics", is_flag=True, help="Show how many findings each rule has instead of the findings.")
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False),
    help="Leave out the findings recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    "write_baseline_file",
    type=click.Path(dir_okay=False),
    help="Record every current finding in this file and exit 0.",
)
@click.option(
    "--skip-no-model",
    is_flag=True,
    help="Skip named files that import no torch or hold no model, quietly (for pre-commit).",
)
@click.option(
    "--probe/--no-probe",
    default=None,
    help="Also measure gradients (the reference protocol) and mark findings confirmed or refuted (default: probe in [tool.gradlint], else off).",
)
@click.option(
    "--meta/--no-meta",
    default=None,
    help="Build the model on the meta device: no weight values, statistics from the recorded init calls (default: only when the weights would not fit in memory; --no-meta: never). Not with --probe.",
)
@click.option(
    "--device", callback=_check_device, help="Where the probe runs: auto, cpu, cuda or cuda:N [default: auto]."
)
@click.option(
    "--probe-seeds", metavar="1,2,3", help="Seeds of the probe; the median over them is reported [default: 1,2,3]."
)
@click.option(
    "--probe-steps",
    type=click.IntRange(min=0),
    help="Also train a copy for N steps and report whether the loss diverges [default: 0].",
)
@click.option("--lr", type=_POSITIVE, help="Learning rate for --probe-steps [default: 0.001].")
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZERS, case_sensitive=False),
    help="Optimizer for --probe-steps [default: sgd].",
)
@click.option(
    "--probe-timeout", type=_POSITIVE, metavar="SECONDS", help="Give up on a model's probe after this many seconds."
)
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Also draw the gradient-flow picture: FILE.html (a self-contained page), .png or .svg (needs gradlint[plot]; one file per model).",
)
@click.option("--quiet", "-q", is_flag=True, help="Only findings: no layer table, no fixes, no summary, no progress.")
@click.option("--no-color", is_flag=True, help="No colour (also: the NO_COLOR environment variable).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def check_command(
    targets: tuple[str, ...],
    output_format: str | None,
    output_file: str | None,
    config_file: str | None,
    isolated: bool,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    input_shape: tuple[str, ...],
    input_dtype: str | None,
    fail_on: str | None,
    exit_zero: bool,
    statistics: bool,
    baseline_file: str | None,
    write_baseline_file: str | None,
    skip_no_model: bool,
    probe: bool | None,
    meta: bool | None,
    device: str | None,
    probe_seeds: str | None,
    probe_steps: int | None,
    lr: float | None,
    optimizer: str | None,
    probe_timeout: float | None,
    plot_file: str | None,
    quiet: bool,
    no_color: bool,
    debug: bool,
) -> None:
    """Lint the models in TARGETS (files, PATH:ATTR, directories)."""
    from gradlint.api import lint_paths
    from gradlint.baseline import write_baseline
    from gradlint.config import Overrides, Settings, parse_seeds, parse_shape
    from gradlint.report import TextReporter
    from gradlint.report.progress import Progress
    from gradlint.types import ModelReport, Severity, TargetError

    overrides = Overrides(
        select=_split(select) or None,
        ignore=_split(ignore),
        extend_select=_split(extend_select),
        input_shapes=tuple(parse_shape(s) for s in input_shape),
        input_dtype=input_dtype,
        probe=probe,
        meta=meta,
        device=device,
        probe_seeds=parse_seeds(probe_seeds) if probe_seeds is not None else None,
        probe_steps=probe_steps,
        lr=lr,
        optimizer=optimizer.lower() if optimizer else None,
        probe_timeout_s=probe_timeout,
        baseline=baseline_file,
        use_baselines=write_baseline_file is None,
        skip_no_model=skip_no_model,
    )
    settings = Settings(overrides, config_file=config_file, isolated=isolated)
    settings.check(targets)  # bad configuration and unknown codes fail before any user code runs
    if plot_file:
        from gradlint.report.plot import check_plot_path

        check_plot_path(plot_file)  # an unknown extension or a missing matplotlib fails before linting
    run_config = settings.run_config(targets)
    output_format = output_format or run_config.output_format or "text"
    fail_on = fail_on or run_config.fail_on or "info"
    if statistics and output_format in ("sarif", "github"):
        raise UsageError(f"--statistics cannot be combined with --format {output_format}")

    out = _open_output(output_file)
    progress = Progress(sys.stderr, enabled=None if not quiet else False, color=not no_color)
    streaming = output_format in TEXT_FORMATS and not statistics
    reporter = TextReporter(
        out,
        sys.stderr,
        color=_use_color(no_color, out),
        show_layers=not quiet and output_format != "concise",
        show_fix=not quiet and output_format != "concise",
        show_header=output_format != "concise",
        show_source=output_format == "full",
        show_probe=not quiet,
    )

    def on_model(model: ModelReport) -> None:
        progress.pause()
        if streaming:
            reporter.render_model(model)

    def on_error(error: TargetError) -> None:
        progress.pause()
        if debug and error.exception is not None:
            traceback.print_exception(error.exception, file=sys.stderr)

    try:
        with progress:
            report = lint_paths(
                targets,
                settings.base_options(),
                options_for=settings.options_for,
                on_model=on_model,
                on_error=on_error,
                on_progress=progress.update,
            )
        _write_report(report, output_format, statistics, out)
    finally:
        if output_file:
            out.close()
    if plot_file and report.models:
        for path in report.plot(plot_file).paths:
            if not quiet:
                click.echo(f"gradlint: wrote the gradient-flow picture to {path}", err=True)

    nothing = not report.models and not report.errors
    if nothing:
        if not quiet:
            click.echo("gradlint: nothing to lint: no model found in the given paths", err=True)
    elif output_format in TEXT_FORMATS and not quiet:
        reporter.render_summary(report)
    else:
        for error in report.errors:
            click.echo(f"gradlint: {error.message}", err=True)

    if write_baseline_file is not None:
        written = write_baseline(write_baseline_file, report)
        click.echo(f"gradlint: wrote {written} finding(s) to the baseline {write_baseline_file}", err=True)
    if report.errors:
        raise SystemExit(EXIT_ERROR)
    if write_baseline_file is not None or exit_zero:
        raise SystemExit(EXIT_CLEAN)
    threshold = Severity(fail_on).rank
    failing = [f for f in report.findings if f.severity.rank >= threshold]
    raise SystemExit(EXIT_FINDINGS if failing else EXIT_CLEAN)


def _open_output(output_file: str | None) -> IO[str]:
    if not output_file:
        return sys.stdout
    try:
        return open(output_file, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise UsageError(f"--output-file {output_file}: {exc.strerror or exc}") from None


def _write_report(report: Report, output_format: str, statistics: bool, out: IO[str]) -> None:
    """Everything but the streamed text forms: statistics, json, sarif, github."""
    from gradlint.registry import all_rules
    from gradlint.report import format_github, format_json, format_sarif, statistics_lines, statistics_rows

    if statistics:
        if output_format == "json":
            rows = [
                {"code": code, "name": name, "severity": severity.value, "count": n}
                for n, code, name, severity in statistics_rows(report)
            ]
            out.write(json.dumps(rows, indent=2) + "\n")
        else:
            for line in statistics_lines(report):
                out.write(line + "\n")
    elif output_format == "json":
        out.write(format_json(report) + "\n")
    elif output_format == "sarif":
        out.write(format_sarif(report, all_rules()) + "\n")
    elif output_format == "github":
        text = format_github(report)
        if text:
            out.write(text + "\n")


@cli.command("rule")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
def rule_command(code: str | None, show_all: bool) -> None:
    """Explain a rule: what it checks, why, an example and the fix."""
    from gradlint.catalog import rule_doc, rule_docs  # read from the rule files: no torch

    if show_all:
        for rule in rule_docs():
            click.echo(f"# {rule.code} {rule.name} ({rule.severity})\n\n{rule.doc}\n")
        return
    if not code:
        raise UsageError("name a rule (`gradlint rule GL001`) or pass --all")
    rule = rule_doc(code)
    click.echo(f"# {rule.code} {rule.name} ({rule.severity})\n\n{rule.doc}")


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
