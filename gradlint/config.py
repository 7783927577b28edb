"""``[tool.gradlint]`` in ``pyproject.toml``: finding it, reading it, and merging it with the command line.

Which file
----------
For each file linted, the closest ``pyproject.toml`` that has a ``[tool.gradlint]`` table, looking in
the file's folder and then upwards (a ``pyproject.toml`` without the table is passed over, as ruff
does). ``--config FILE`` uses ``FILE`` for every file (its ``[tool.gradlint]`` table, or, for a file
without one such as ``gradlint.toml``, its top level); ``--isolated`` reads no file at all. Paths in
a file (``per-file-ignores``, ``input-shapes``, ``baseline``) are relative to that file's folder.

Settings of the whole run (``output-format``, ``fail-on``) come from the file closest to the working
directory, else from the first target's.

Keys (kebab-case; an unknown key or rule code is a usage error, exit 2)::

    [tool.gradlint]
    select = ["ALL"]              # codes, prefixes ("GL1"), rule names or "ALL"
    extend-select = []
    ignore = []
    fail-on = "info"              # info | warning | error
    output-format = "text"        # text | concise | full | json | sarif | github
    baseline = "gradlint-baseline.json"
    probe = false                 # and: device, probe-seeds, probe-steps, probe-timeout
    optimizer = "adamw"           # the training check's: sgd | adam | adamw | rmsprop (unset: AdamW lr 1e-3)
    lr = 1e-3                     # and: momentum, betas = [0.9, 0.999], eps, weight-decay, clip-grad-norm
    precision = "float16"         # float16 | bfloat16 | mixed | mixed-bf16 (fp16, bf16): the GL8xx check
    meta = true                   # build on the meta device; false: never; unset: only when too large

    [tool.gradlint.per-file-ignores]
    "legacy/**" = ["GL1"]

    [tool.gradlint.thresholds]    # gradlint.verdict.VerdictThresholds, log10 gradient RMS
    explode-max = 3.0
    vanish-min = -3.0
    explode-span = 2.0
    vanish-span = -2.0

    [tool.gradlint.input-shapes]  # example inputs per target: one shape per forward argument
    "models/vision.py" = [[8, 3, 224, 224]]
    "models/text.py:build_model" = { shapes = [[8, 128]], dtype = "int64" }

    [[tool.gradlint.models]]      # what `gradlint` with no target lints (else the current directory)
    target = "model.py:GPT(GPTConfig(n_layer=4, n_embd=128))"
    [[tool.gradlint.models]]
    target = "lm/model.py:RNNModel('LSTM', 1000, 200, 200, 2)"
    inputs = "(torch.randint(0, 1000, (35, 8)), model.init_hidden(8))"
    input-kwargs = "{}"           # and input-shapes = [[8, 3, 32, 32]], input-dtype
    select = ["GL1"]              # any per-target key: it replaces the file's for this model
    probe = true

An entry's ``target`` is relative to the file's folder; naming the same target on the command line
uses the entry's settings too.

Command line over file: ``--select`` replaces the file's selection (its ``ignore`` included), as in
ruff; ``--extend-select`` and ``--ignore`` apply on top; every other flag given wins over its key.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gradlint.baseline import Baseline
from gradlint.errors import UsageError
from gradlint.load import TargetSpec
from gradlint.load.targets import parse_target
from gradlint.options import (
    OPTIONS,
    TARGET_OPTIONS,
    InputShapes,
    LintOptions,
    Merge,
    Reader,
    parse_seeds,
    parse_shape,
)
from gradlint.registry import Rule, select_rules

__all__ = ["Config", "InputShapes", "Overrides", "Settings", "parse_config", "parse_seeds", "parse_shape"]

PYPROJECT = "pyproject.toml"


def _config_base(self: Any) -> str:
    return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()


# One [tool.gradlint] table, checked: a field per keyed row of the option table; its ``unset`` means "not set here".
Config = dataclasses.make_dataclass(
    "Config",
    [("path", "str | None", dataclasses.field(default=None))]
    + [(row.name, "Any", dataclasses.field(default=row.unset)) for row in OPTIONS if row.key],
    frozen=True,
    namespace={"base": property(_config_base), "__doc__": "One ``[tool.gradlint]`` table, checked; None: not set."},
)
Config.__module__ = __name__

DEFAULT_CONFIG = Config()

# What the command line (or a caller such as the pytest plugin) says: a field per per-target row with a flag.
Overrides = dataclasses.make_dataclass(
    "Overrides",
    [(row.name, "Any", dataclasses.field(default=row.unset)) for row in TARGET_OPTIONS if row.flag]
    # False while writing a baseline: the new file must hold every current finding
    + [("use_baselines", "bool", dataclasses.field(default=True))],
    frozen=True,
    namespace={"__doc__": "What the command line (or a caller such as the pytest plugin) says; None: not given."},
)
Overrides.__module__ = __name__


# --- reading a file -----------------------------------------------------------------------------


def _load_toml(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise UsageError(f"{path}: reading TOML on Python 3.10 needs the `tomli` package") from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


def _gradlint_table(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tool = document.get("tool")
    if isinstance(tool, Mapping) and "gradlint" in tool:
        table = tool["gradlint"]
        return table if isinstance(table, Mapping) else {}
    return None


def read_config(path: str, *, explicit: bool = False) -> Config | None:
    """The ``[tool.gradlint]`` of ``path``; None when it has none (and is not ``explicit``).

    An ``explicit`` file (``--config``) without the table is read as a whole gradlint table,
    so ``gradlint.toml`` may hold the keys at its top level.
    """
    document = _load_toml(path)
    table = _gradlint_table(document)
    if table is None:
        if not explicit:
            return None
        table = {} if os.path.basename(path) == PYPROJECT else document
    return parse_config(table, path)


def parse_config(table: Mapping[str, Any], path: str) -> Config:
    """Check every key of a ``[tool.gradlint]`` table; the first problem is a ``UsageError`` naming it."""
    reader = Reader(path)
    base = os.path.dirname(os.path.abspath(path))
    reader.check_keys(table, {row.key for row in OPTIONS if row.key}, "")
    values: dict[str, Any] = {"path": path}
    for row in OPTIONS:
        if row.key and row.key in table:
            values[row.name] = row.from_config(reader, table[row.key], row.key, base)
    return Config(**values)


# --- finding the file ---------------------------------------------------------------------------


def find_config(start: str) -> Config | None:
    """The closest ``pyproject.toml`` with ``[tool.gradlint]`` in ``start`` (a folder) or above it."""
    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, PYPROJECT)
        if os.path.isfile(candidate):
            config = read_config(candidate)
            if config is not None:
                return config
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _folder_of(path: str) -> str:
    absolute = os.path.abspath(path)
    return absolute if os.path.isdir(absolute) else os.path.dirname(absolute)


# --- merging with the command line ---------------------------------------------------------------


class Settings:
    """Configuration for one run: which file applies to which target, merged with the overrides."""

    def __init__(
        self, overrides: Overrides | None = None, *, config_file: str | None = None, isolated: bool = False
    ) -> None:
        if config_file is not None and isolated:
            raise UsageError("--config and --isolated cannot be used together")
        overrides = overrides or Overrides()
        self.overrides = overrides
        self.isolated = isolated
        self.explicit = read_config(config_file, explicit=True) if config_file is not None else None
        self._by_folder: dict[str, Config] = {}
        self._rules: dict[tuple[Any, ...], tuple[Rule, ...]] = {}
        self._baselines: dict[str, Baseline] = {}
        self.cli_baseline = (
            Baseline.load(overrides.baseline) if overrides.baseline is not None and overrides.use_baselines else None
        )

    def config_for(self, path: str) -> Config:
        """The configuration that applies to ``path`` (a file or a folder)."""
        if self.explicit is not None:
            return self.explicit
        if self.isolated:
            return DEFAULT_CONFIG
        folder = _folder_of(path)
        if folder not in self._by_folder:
            self._by_folder[folder] = find_config(folder) or DEFAULT_CONFIG
        return self._by_folder[folder]

    def run_config(self, targets: Sequence[str]) -> Config:
        """Where run-wide settings come from: the file closest to the working directory, else the first target's."""
        if self.explicit is not None or self.isolated:
            return self.config_for(os.getcwd())
        near_cwd = self.config_for(os.getcwd())
        if near_cwd.path is not None or not targets:
            return near_cwd
        return self.config_for(parse_target(targets[0]).path)

    def check(self, targets: Iterable[str]) -> None:
        """Read and check the configuration of every named target now, before any user code runs."""
        for text in targets:
            self.rules(self.config_for(parse_target(text).path))

    def rules(self, config: Config) -> tuple[Rule, ...]:
        """The file's selection, then the command line's on top (ruff's layering)."""
        key = (config.path, config.select, config.extend_select, config.ignore)  # a model entry may select its own
        if key not in self._rules:
            self._rules[key] = _layered_rules(config, self.overrides)
        return self._rules[key]

    def options_for(self, spec: TargetSpec) -> LintOptions:
        """Each per-target option merged by its row: the command line, then the ``[[tool.gradlint.models]]``
        entry naming the target, then the file, then the default."""
        config = self.config_for(spec.path)
        entry = next((e for e in config.models if e.names(spec)), None)
        if entry is not None:
            config = dataclasses.replace(config, **entry.settings)
        merge = Merge(self, config, self.overrides, spec, entry)
        return LintOptions(**{row.name: row.merged(merge) for row in TARGET_OPTIONS})

    def default_targets(self) -> tuple[str, ...]:
        """What ``gradlint`` with no target lints: the configured models, else the current directory."""
        return tuple(entry.target for entry in self.run_config(()).models) or (".",)

    def base_options(self) -> LintOptions:
        """Options for what is not per file (skipping files without a model)."""
        return LintOptions(skip_no_model=self.overrides.skip_no_model)

    def baseline(self, config: Config) -> Baseline | None:
        if not self.overrides.use_baselines:
            return None
        if self.cli_baseline is not None:
            return self.cli_baseline
        if config.baseline is None:
            return None
        if config.baseline not in self._baselines:
            try:
                self._baselines[config.baseline] = Baseline.load(config.baseline)
            except UsageError as exc:
                raise UsageError(f"{config.path}: [tool.gradlint] baseline: {exc}") from None
        return self._baselines[config.baseline]


def _layered_rules(config: Config, overrides: Overrides) -> tuple[Rule, ...]:
    # Validates the command line's selectors, naming the option in the error.
    select_rules(overrides.select, overrides.ignore, overrides.extend_select)

    def codes(selectors: Sequence[str]) -> set[str]:
        return {rule.code for rule in select_rules(list(selectors))} if selectors else set()

    enabled = codes(config.select if config.select is not None else ["ALL"])
    enabled |= codes(config.extend_select)
    enabled -= codes(config.ignore)
    if overrides.select is not None:
        enabled = codes(overrides.select)
    enabled |= codes(overrides.extend_select)
    enabled -= codes(overrides.ignore)
    return tuple(rule for rule in select_rules(["ALL"]) if rule.code in enabled)
