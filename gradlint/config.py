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
    probe = false                 # and: device, probe-seeds, probe-steps, lr, optimizer, probe-timeout
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

Command line over file: ``--select`` replaces the file's selection (its ``ignore`` included), as in
ruff; ``--extend-select`` and ``--ignore`` apply on top; every other flag given wins over its key.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gradlint.api import LintOptions
from gradlint.baseline import Baseline
from gradlint.errors import UsageError
from gradlint.load import TargetSpec
from gradlint.load.inputs import parse_dtype
from gradlint.load.targets import parse_target
from gradlint.probe import DEVICE_CHOICES, OPTIMIZERS
from gradlint.registry import Rule, select_rules
from gradlint.suppress import PerFileIgnore
from gradlint.verdict import VerdictThresholds

PYPROJECT = "pyproject.toml"
SEVERITIES = ("info", "warning", "error")
OUTPUT_FORMATS = ("text", "concise", "full", "json", "sarif", "github")

_THRESHOLD_KEYS = {
    "explode-max": "explode_max",
    "vanish-min": "vanish_min",
    "explode-span": "explode_span",
    "vanish-span": "vanish_span",
}


@dataclass(frozen=True)
class InputShapes:
    """One entry of ``[tool.gradlint.input-shapes]``."""

    pattern: str
    """A file glob relative to ``base`` (as in per-file-ignores)."""
    attr: str | None
    """``ATTR`` of a ``path.py:ATTR`` key: then it applies only to targets named that way."""
    shapes: tuple[tuple[int, ...], ...]
    dtype: str | None
    base: str

    def applies(self, spec: TargetSpec) -> bool:
        if self.attr is not None and spec.attr != self.attr:
            return False
        return PerFileIgnore(self.pattern, (), self.base).matches_path(spec.path)


@dataclass(frozen=True)
class Config:
    """One ``[tool.gradlint]`` table, checked. ``None`` means "not set here"."""

    path: str | None = None
    """The file it was read from; None for the defaults."""
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[PerFileIgnore, ...] = ()
    fail_on: str | None = None
    output_format: str | None = None
    baseline: str | None = None
    """Absolute path of the baseline file."""
    thresholds: VerdictThresholds | None = None
    input_shapes: tuple[InputShapes, ...] = ()
    probe: bool | None = None
    meta: bool | None = None
    device: str | None = None
    probe_seeds: tuple[int, ...] | None = None
    probe_steps: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    probe_timeout_s: float | None = None

    @property
    def base(self) -> str:
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()


DEFAULT_CONFIG = Config()


@dataclass(frozen=True)
class Overrides:
    """What the command line (or a caller such as the pytest plugin) says; None: not given."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_dtype: str | None = None
    probe: bool | None = None
    meta: bool | None = None
    device: str | None = None
    probe_seeds: tuple[int, ...] | None = None
    probe_steps: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    probe_timeout_s: float | None = None
    baseline: str | None = None
    """``--baseline FILE``: replaces any ``baseline`` key."""
    use_baselines: bool = True
    """False while writing a baseline: the new file must hold every current finding."""
    skip_no_model: bool = False


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
    reader = _Reader(path)
    base = os.path.dirname(os.path.abspath(path))
    known = {
        "select", "extend-select", "ignore", "per-file-ignores", "fail-on", "output-format", "baseline",
        "thresholds", "input-shapes", "probe", "device", "probe-seeds", "probe-steps", "lr", "optimizer",
        "probe-timeout", "meta",
    }  # fmt: skip
    reader.check_keys(table, known, "")
    values: dict[str, Any] = {"path": path}
    if "select" in table:
        values["select"] = reader.selectors(table["select"], "select")
    if "extend-select" in table:
        values["extend_select"] = reader.selectors(table["extend-select"], "extend-select")
    if "ignore" in table:
        values["ignore"] = reader.selectors(table["ignore"], "ignore")
    if "per-file-ignores" in table:
        ignores = reader.table(table["per-file-ignores"], "per-file-ignores")
        values["per_file_ignores"] = tuple(
            PerFileIgnore(str(pattern), reader.selectors(codes, f"per-file-ignores.{pattern!r}"), base)
            for pattern, codes in ignores.items()
        )
    if "fail-on" in table:
        values["fail_on"] = reader.choice(table["fail-on"], "fail-on", SEVERITIES)
    if "output-format" in table:
        values["output_format"] = reader.choice(table["output-format"], "output-format", OUTPUT_FORMATS)
    if "baseline" in table:
        values["baseline"] = os.path.join(base, reader.string(table["baseline"], "baseline"))
    if "thresholds" in table:
        given = reader.table(table["thresholds"], "thresholds")
        reader.check_keys(given, set(_THRESHOLD_KEYS), "thresholds.")
        values["thresholds"] = VerdictThresholds(
            **{_THRESHOLD_KEYS[k]: reader.number(v, f"thresholds.{k}") for k, v in given.items()}
        )
    if "input-shapes" in table:
        values["input_shapes"] = tuple(
            _input_shapes(reader, str(key), value, base)
            for key, value in reader.table(table["input-shapes"], "input-shapes").items()
        )
    _probe_keys(reader, table, values)
    if "meta" in table:
        values["meta"] = reader.boolean(table["meta"], "meta")
    return Config(**values)


def _probe_keys(reader: _Reader, table: Mapping[str, Any], values: dict[str, Any]) -> None:
    if "probe" in table:
        values["probe"] = reader.boolean(table["probe"], "probe")
    if "device" in table:
        device = reader.string(table["device"], "device").lower()
        if device not in DEVICE_CHOICES and not device.startswith("cuda:"):
            reader.fail("device", f"expected one of {', '.join(DEVICE_CHOICES)} or cuda:N, got {device!r}")
        values["device"] = device
    if "probe-seeds" in table:
        values["probe_seeds"] = reader.seeds(table["probe-seeds"], "probe-seeds")
    if "probe-steps" in table:
        steps = reader.integer(table["probe-steps"], "probe-steps")
        if steps < 0:
            reader.fail("probe-steps", "must be 0 or more")
        values["probe_steps"] = steps
    if "lr" in table:
        lr = reader.number(table["lr"], "lr")
        if not lr > 0:
            reader.fail("lr", "must be a positive number")
        values["lr"] = lr
    if "optimizer" in table:
        values["optimizer"] = reader.choice(table["optimizer"], "optimizer", OPTIMIZERS)
    if "probe-timeout" in table:
        timeout = reader.number(table["probe-timeout"], "probe-timeout")
        if not timeout > 0:
            reader.fail("probe-timeout", "must be a positive number of seconds")
        values["probe_timeout_s"] = timeout


def _input_shapes(reader: _Reader, key: str, value: Any, base: str) -> InputShapes:
    where = f"input-shapes.{key!r}"
    dtype = None
    if isinstance(value, Mapping):
        reader.check_keys(value, {"shapes", "dtype"}, f"{where}.")
        if "shapes" not in value:
            reader.fail(where, "needs `shapes`")
        if "dtype" in value:
            dtype = reader.string(value["dtype"], f"{where}.dtype")
            try:
                parse_dtype(dtype)
            except UsageError as exc:
                reader.fail(f"{where}.dtype", str(exc))
        value = value["shapes"]
    spec = parse_target(key)
    return InputShapes(spec.path, spec.attr, reader.shapes(value, where), dtype, base)


@dataclass(frozen=True)
class _Reader:
    """Type checks with messages that name the file and the key."""

    path: str

    def fail(self, key: str, problem: str) -> None:
        raise UsageError(f"{self.path}: [tool.gradlint] {key}: {problem}")

    def check_keys(self, table: Mapping[str, Any], known: set[str], prefix: str) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(str(key).replace("_", "-"), sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(sorted(known))}"
                self.fail(f"{prefix}{key}", f"unknown key{hint}")

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(key, "expected a table")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {value!r}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {value!r}")
        return int(value)

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"expected a number, got {value!r}")
        return float(value)

    def choice(self, value: Any, key: str, choices: Sequence[str]) -> str:
        text = self.string(value, key).lower()
        if text not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    def selectors(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, f"expected a list of rule codes, got {value!r}")
        for selector in value:
            if not _known_selector(selector):
                self.fail(key, f"unknown rule code or prefix {selector!r}; `gradlint rule --all` lists the rules")
        return tuple(value)

    def seeds(self, value: Any, key: str) -> tuple[int, ...]:
        if isinstance(value, str):
            return parse_seeds(value, f"{self.path}: [tool.gradlint] {key}")
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            self.fail(key, f"expected a non-empty list of integers, got {value!r}")
        return tuple(value)

    def shapes(self, value: Any, key: str) -> tuple[tuple[int, ...], ...]:
        if isinstance(value, str):
            return (parse_shape(value, f"{self.path}: [tool.gradlint] {key}"),)
        if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
            value = [value]  # one shape written flat: [8, 784]
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a list of shapes such as [[8, 3, 32, 32]], got {value!r}")
        shapes = []
        for shape in value:
            if isinstance(shape, str):
                shapes.append(parse_shape(shape, f"{self.path}: [tool.gradlint] {key}"))
            elif (
                isinstance(shape, list)
                and shape
                and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
            ):
                shapes.append(tuple(shape))
            else:
                self.fail(key, f"expected a shape of positive integers such as [8, 3, 32, 32], got {shape!r}")
        return tuple(shapes)


def _known_selector(selector: str) -> bool:
    try:
        return bool(select_rules([selector]))
    except UsageError:
        return False


def parse_shape(text: str, where: str = "--input-shape") -> tuple[int, ...]:
    """``"8,3,32,32"`` (or ``8x3x32x32``) -> ``(8, 3, 32, 32)``."""
    try:
        dims = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{where} {text!r}: expected comma-separated integers such as 8,3,32,32") from None
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"{where} {text!r}: expected positive integers such as 8,3,32,32")
    return dims


def parse_seeds(text: str, where: str = "--probe-seeds") -> tuple[int, ...]:
    """``"1,2,3"`` -> ``(1, 2, 3)``."""
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{where} {text!r}: expected comma-separated integers such as 1,2,3") from None
    if not seeds:
        raise UsageError(f"{where} {text!r}: give at least one seed")
    return seeds


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
        self, overrides: Overrides = Overrides(), *, config_file: str | None = None, isolated: bool = False
    ) -> None:
        if config_file is not None and isolated:
            raise UsageError("--config and --isolated cannot be used together")
        self.overrides = overrides
        self.isolated = isolated
        self.explicit = read_config(config_file, explicit=True) if config_file is not None else None
        self._by_folder: dict[str, Config] = {}
        self._rules: dict[str | None, tuple[Rule, ...]] = {}
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
        if config.path not in self._rules:
            self._rules[config.path] = _layered_rules(config, self.overrides)
        return self._rules[config.path]

    def options_for(self, spec: TargetSpec) -> LintOptions:
        config = self.config_for(spec.path)
        o = self.overrides
        shapes, dtype = o.input_shapes, o.input_dtype
        if not shapes:
            entry = next((e for e in config.input_shapes if e.applies(spec)), None)
            if entry is not None:
                shapes, dtype = entry.shapes, dtype or entry.dtype
        defaults = LintOptions()
        return LintOptions(
            rules=self.rules(config),
            input_shapes=shapes,
            input_dtype=dtype or defaults.input_dtype,
            probe=_first(o.probe, config.probe, defaults.probe),
            meta=_first(o.meta, config.meta, defaults.meta),
            device=_first(o.device, config.device, defaults.device),
            probe_seeds=_first(o.probe_seeds, config.probe_seeds, defaults.probe_seeds),
            probe_steps=_first(o.probe_steps, config.probe_steps, defaults.probe_steps),
            lr=_first(o.lr, config.lr, defaults.lr),
            optimizer=_first(o.optimizer, config.optimizer, defaults.optimizer),
            probe_timeout_s=_first(o.probe_timeout_s, config.probe_timeout_s, defaults.probe_timeout_s),
            thresholds=config.thresholds or defaults.thresholds,
            per_file_ignores=config.per_file_ignores,
            baseline=self._baseline(config),
            skip_no_model=o.skip_no_model,
        )

    def base_options(self) -> LintOptions:
        """Options for what is not per file (skipping files without a model)."""
        return LintOptions(skip_no_model=self.overrides.skip_no_model)

    def _baseline(self, config: Config) -> Baseline | None:
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


def _first(*values: Any) -> Any:
    """The first value that is set; the last one is the default and may be None."""
    return next((v for v in values[:-1] if v is not None), values[-1])


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
