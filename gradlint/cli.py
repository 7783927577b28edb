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
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

import click

from gradlint._version import __version__
from gradlint.errors import GradlintError, UsageError, internal_error_message
from gradlint.options import DEVICE_CHOICES, OPTIMIZERS, OPTION, OPTIONS, TARGET_OPTIONS

__all__ = ["DEVICE_CHOICES", "OPTIMIZERS", "cli", "entry_point", "main"]

if TYPE_CHECKING:
    from gradlint.config import Overrides
    from gradlint.types import Report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
TEXT_FORMATS = ("text", "concise", "full")


class _DefaultCommandGroup(click.Group):
    """``gradlint model.py`` means ``gradlint check model.py``, as ``ruff model.py`` once meant ``ruff check``;
    ``gradlint --help`` shows the options of that default command too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("gradlint", "[OPTIONS] [TARGET]...\n       gradlint rule [CODE]")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        check = self.commands["check"]
        sub = click.Context(check, info_name="check", parent=ctx)
        own = check.get_help_option(sub)
        params = [(p, sub) for p in check.get_params(sub) if p is not own] + [(p, ctx) for p in self.get_params(ctx)]
        records = [r for p, c in params if isinstance(p, click.Option) and (r := p.get_help_record(c))]
        with formatter.section("Options"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)


@click.group(cls=_DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradlint")
def cli() -> None:
    """gradlint: find exploding and vanishing gradients in PyTorch models before you train.

    \b
    gradlint model.py                 lint the models in a file
    gradlint model.py:build_model     lint one model (instance, class or factory)
    gradlint 'model.py:GPT(GPTConfig(n_layer=4))'   build it with an expression
    gradlint rnn.py:RNN --inputs '(torch.randint(0, 100, (35, 8)), model.init_hidden(8))'
    gradlint models/                  lint every model file in a directory
    gradlint                          lint [[tool.gradlint.models]], else the current directory
    gradlint rule GL001               explain a rule
    """


def _use_color(no_color: bool, stream: IO[str]) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def _with_options(command: Callable[..., None]) -> Callable[..., None]:
    """The click options of ``check``, one per row of the option table that has a flag, in its order."""
    for row in reversed([row for row in OPTIONS if row.flag]):
        decls = [row.flag, *([row.short] if row.short else []), row.name]
        command = click.option(*decls, help=row.help, **row.click)(command)
    return command


@cli.command("check")
@click.argument("targets", nargs=-1)
@_with_options
def check_command(targets: tuple[str, ...], **values: Any) -> None:
    """Lint the models in TARGETS (files, PATH:EXPR, directories); none: the models listed in
    [[tool.gradlint.models]], else the current directory."""
    from gradlint.baseline import write_baseline
    from gradlint.config import Settings
    from gradlint.report import TextReporter
    from gradlint.report.progress import Progress
    from gradlint.scale import WorkerSetup, fair_threads, lint_run
    from gradlint.types import ModelReport, Severity, TargetError

    write_baseline_file = values["write_baseline"]
    settings = Settings(overrides_from(values), config_file=values["config_file"], isolated=values["isolated"])
    targets = targets or settings.default_targets()
    settings.check(targets)  # bad configuration and unknown codes fail before any user code runs
    plot_file, quiet, no_color, statistics = values["plot"], values["quiet"], values["no_color"], values["statistics"]
    if plot_file:
        from gradlint.report.plot import check_plot_path

        check_plot_path(plot_file)  # an unknown extension or a missing matplotlib fails before linting
    run_config = settings.run_config(targets)
    output_format = values["output_format"] or run_config.output_format or OPTION["output_format"].default
    fail_on = values["fail_on"] or run_config.fail_on or OPTION["fail_on"].default
    if statistics and output_format in ("sarif", "github"):
        raise UsageError(f"--statistics cannot be combined with --format {output_format}")

    output_file = values["output_file"]
    out = _open_output(output_file)
    progress = Progress(sys.stderr, enabled=None if not quiet else False, color=not no_color)
    streaming = output_format in TEXT_FORMATS and not statistics
    reporter = TextReporter(
        out,
        sys.stderr,
        color=_use_color(no_color, out),
        show_layers=not quiet and (values["layers"] or output_format == "full"),
        show_fix=not quiet and output_format != "concise",
        show_header=output_format != "concise",
        show_source=output_format == "full",
        show_probe=not quiet,
        show_context=not quiet,
    )

    def on_model(model: ModelReport) -> None:
        progress.pause()
        if streaming:
            reporter.render_model(model)

    def on_error(error: TargetError) -> None:
        progress.pause()
        if values["debug"] and error.exception is not None:
            traceback.print_exception(error.exception, file=sys.stderr)

    jobs = values["jobs"] or run_config.jobs or 1
    threads = fair_threads(values["threads"] or run_config.threads, jobs)
    setup = WorkerSetup(settings.overrides, values["config_file"], values["isolated"], threads)
    try:
        with progress:
            report = lint_run(
                targets,
                settings,
                setup,
                jobs=jobs,
                shard=values["shard"],
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
            report_it = f" {error.how_to_report}" if error.how_to_report else ""
            click.echo(f"gradlint: {error.message}{report_it}", err=True)
        for model in report.models:
            if model.probe_error is not None:
                click.echo(f"gradlint: {model.graph.target}: probe failed: {model.probe_error}", err=True)

    if write_baseline_file is not None:
        written = write_baseline(write_baseline_file, report)
        click.echo(f"gradlint: wrote {written} finding(s) to the baseline {write_baseline_file}", err=True)
    if report.errors or any(m.probe_error is not None for m in report.models):
        raise SystemExit(EXIT_ERROR)
    if write_baseline_file is not None or values["exit_zero"]:
        raise SystemExit(EXIT_CLEAN)
    threshold = Severity(fail_on).rank
    failing = [f for f in report.findings if f.severity.rank >= threshold]
    raise SystemExit(EXIT_FINDINGS if failing else EXIT_CLEAN)


def overrides_from(values: dict[str, Any]) -> Overrides:
    """What the flags of ``check`` say of the per-target options (click's values, parsed by their rows)."""
    from gradlint.config import Overrides

    given = {row.name: row.from_command_line(values[row.name]) for row in TARGET_OPTIONS if row.flag}
    return Overrides(**given, use_baselines=values["write_baseline"] is None)


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
