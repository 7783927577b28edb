"""Every option, declared once: the click CLI, the ``[tool.gradlint]`` reader, the keywords of ``lint()``,
``LintOptions`` and the merge in ``config.Settings`` are generated from ``OPTIONS``.

Adding an option is one row (its name, default, help, and where it may be given: ``flag``, ``key``,
``keyword``) plus the code that uses ``options.<name>``. A row with ``scope="run"`` is a setting of the
whole command (the output format, ``--fail-on``): it is no ``LintOptions`` field. Merge order: the command
line, then the closest ``[tool.gradlint]``, then the default, unless the row names its own ``merge``.

Parsers turn what each source gives into the option's value: ``from_cli`` gets click's value (``None``,
``()`` or ``False`` when the flag is absent), ``from_config`` a ``Reader``, the TOML value, the key and the
folder of the file (paths in a file are relative to it), ``from_keyword`` the Python value of ``lint()``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from gradlint.errors import UsageError
from gradlint.types.precision import PRECISION_ALIASES, PRECISION_MODES
from gradlint.verdict import VerdictThresholds

if TYPE_CHECKING:
    from gradlint.load.targets import TargetSpec
    from gradlint.registry import Rule

FORMATS = ("text", "concise", "full", "json", "sarif", "github")
SEVERITIES = ("info", "warning", "error")
# gradlint.probe's choices, mirrored (a test keeps them in step): the CLI imports the stages lazily.
DEVICE_CHOICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
PRECISIONS = PRECISION_MODES
PRECISION_CHOICES = (*PRECISIONS, *PRECISION_ALIASES)
THRESHOLD_KEYS = {
    "explode-max": "explode_max",
    "vanish-min": "vanish_min",
    "explode-span": "explode_span",
    "vanish-span": "vanish_span",
}


# --- parsing the values ------------------------------------------------------------------------------


def split_list(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"GL1, GL2"``, ``["GL1", "GL2,GL3"]`` or a repeated flag -> the stripped, non-empty parts."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(part.strip() for item in items for part in str(item).split(",") if part.strip())


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


def canonical_precision(value: str | None) -> str | None:
    """``fp16`` -> ``float16`` ...; an unknown mode is a usage error."""
    if value is None:
        return None
    name = str(value).strip().lower()
    name = PRECISION_ALIASES.get(name, name)
    if name not in PRECISIONS:
        raise UsageError(f"--precision {value}: expected one of {', '.join(PRECISION_CHOICES)}")
    return name


def parse_shard(text: str, where: str = "--shard") -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: shard 2 of 4, counted from 1 as CI matrices count their runners."""
    index, slash, count = text.strip().partition("/")
    try:
        shard = (int(index), int(count)) if slash else None
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard[0] <= shard[1]:
        raise UsageError(f"{where} {text!r}: expected I/N with 1 <= I <= N, such as 1/4")
    return shard


def _config_count(reader: Reader, value: Any, key: str) -> int:
    count = reader.integer(value, key)
    if count < 1:
        reader.fail(key, "must be 1 or more")
    return count


def _check_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip().lower()
    if name not in DEVICE_CHOICES and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise click.BadParameter(f"expected one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    return name


@dataclass(frozen=True)
class Reader:
    """Type checks of ``[tool.gradlint]`` values, with messages that name the file and the key."""

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

    def positive(self, value: Any, key: str, what: str = "a positive number") -> float:
        number = self.number(value, key)
        if not number > 0:
            self.fail(key, f"must be {what}")
        return number

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
    from gradlint.registry import select_rules

    try:
        return bool(select_rules([selector]))
    except UsageError:
        return False


def _config_device(reader: Reader, value: Any, key: str, base: str) -> str:
    device = reader.string(value, key).lower()
    if device not in DEVICE_CHOICES and not device.startswith("cuda:"):
        reader.fail(key, f"expected one of {', '.join(DEVICE_CHOICES)} or cuda:N, got {device!r}")
    return device


def _config_steps(reader: Reader, value: Any, key: str, base: str) -> int:
    steps = reader.integer(value, key)
    if steps < 0:
        reader.fail(key, "must be 0 or more")
    return steps


def parse_betas(text: str) -> tuple[float, float]:
    """``"0.9,0.999"`` -> ``(0.9, 0.999)``; their range is checked with the other optimizer settings."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if len(values) != 2:
        raise UsageError(f"--betas {text!r}: expected two comma-separated numbers such as 0.9,0.999")
    return values[0], values[1]


def _config_betas(reader: Reader, value: Any, key: str, base: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        reader.fail(key, f"expected two numbers, e.g. [0.9, 0.999], got {value!r}")
    first, second = (reader.number(v, key) for v in value)
    if not (0 <= first < 1 and 0 <= second < 1):
        reader.fail(key, "each must be in [0, 1)")
    return first, second


def _config_momentum(reader: Reader, value: Any, key: str, base: str) -> float:
    number = reader.number(value, key)
    if not 0 <= number < 1:
        reader.fail(key, "must be in [0, 1)")
    return number


def _config_weight_decay(reader: Reader, value: Any, key: str, base: str) -> float:
    number = reader.number(value, key)
    if not number >= 0:
        reader.fail(key, "must be 0 or more")
    return number


def _config_thresholds(reader: Reader, value: Any, key: str, base: str) -> VerdictThresholds:
    given = reader.table(value, key)
    reader.check_keys(given, set(THRESHOLD_KEYS), f"{key}.")
    return VerdictThresholds(**{THRESHOLD_KEYS[k]: reader.number(v, f"{key}.{k}") for k, v in given.items()})


def _config_per_file_ignores(reader: Reader, value: Any, key: str, base: str) -> tuple[Any, ...]:
    from gradlint.suppress import PerFileIgnore

    return tuple(
        PerFileIgnore(str(pattern), reader.selectors(codes, f"{key}.{pattern!r}"), base)
        for pattern, codes in reader.table(value, key).items()
    )


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
        from gradlint.suppress import PerFileIgnore

        if self.attr is not None and spec.attr != self.attr:
            return False
        return PerFileIgnore(self.pattern, (), self.base).matches_path(spec.path)


def _input_shapes_entry(reader: Reader, key: str, value: Any, base: str) -> InputShapes:
    from gradlint.load.inputs import parse_dtype
    from gradlint.load.targets import parse_target

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


def _config_input_shapes(reader: Reader, value: Any, key: str, base: str) -> tuple[InputShapes, ...]:
    return tuple(_input_shapes_entry(reader, str(k), v, base) for k, v in reader.table(value, key).items())


def _keyword_thresholds(value: Any) -> Any:
    if isinstance(value, Mapping):
        return VerdictThresholds(**{str(k).replace("-", "_"): float(v) for k, v in value.items()})
    return value


def _keyword_seeds(value: Any) -> tuple[int, ...]:
    return (int(value),) if isinstance(value, int) else tuple(int(s) for s in value)


def _keyword_shapes(value: Any) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(d) for d in shape) for shape in value)


def _keyword_selectors(value: Any) -> tuple[str, ...] | None:
    return None if value is None else split_list(value)


@dataclass(frozen=True)
class ModelEntry:
    """One ``[[tool.gradlint.models]]`` table: a target and its own settings."""

    target: str
    """The target expression with its path resolved against the config file's folder (shown relative to
    the working directory when inside it): what ``gradlint`` with no target lints."""
    path: str
    """The absolute path of the target's file (or folder), to recognise the target when it is named."""
    attr: str | None
    inputs: str | None = None
    input_kwargs: str | None = None
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_dtype: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Per-model values of the other per-target keys, by option name (``select``, ``probe`` ...): they
    replace the file's for this target; the command line still wins."""

    def names(self, spec: TargetSpec) -> bool:
        """Whether ``spec`` is this entry's target (the same file or folder, and the same expression)."""
        return os.path.realpath(spec.path) == self.path and spec.attr == self.attr


# Keys of a [[tool.gradlint.models]] table beside the per-target keys; input-shapes is a list of shapes there.
_MODEL_KEYS = ("target", "inputs", "input-kwargs", "input-shapes", "input-dtype")
# Per-target keys that belong to a whole file, not to one model.
_FILE_KEYS = ("input-shapes", "per-file-ignores", "baseline")


def _config_models(reader: Reader, value: Any, key: str, base: str) -> tuple[ModelEntry, ...]:
    if not isinstance(value, list) or not all(isinstance(entry, Mapping) for entry in value):
        reader.fail(key, "expected a list of tables, one [[tool.gradlint.models]] per model")
    return tuple(_model_entry(reader, entry, f"{key}[{index}]", base) for index, entry in enumerate(value))


def _model_entry(reader: Reader, entry: Mapping[str, Any], where: str, base: str) -> ModelEntry:
    from gradlint.load.targets import parse_target  # not at import: the package face stays free of torch

    per_target = {row.key: row for row in OPTIONS if row.scope == "target" and row.key and row.key not in _FILE_KEYS}
    reader.check_keys(entry, set(_MODEL_KEYS) | set(per_target), f"{where}.")
    if "target" not in entry:
        reader.fail(where, 'needs `target`, e.g. target = "model.py:GPT(GPTConfig())"')
    spec = parse_target(reader.string(entry["target"], f"{where}.target"))
    path = spec.path if spec.zoo is not None else _relative_to_cwd(os.path.join(base, spec.path))
    target = path if spec.attr is None else f"{path}:{spec.attr}"
    text = {k: reader.string(entry[k], f"{where}.{k}") for k in ("inputs", "input-kwargs", "input-dtype") if k in entry}
    shapes = reader.shapes(entry["input-shapes"], f"{where}.input-shapes") if "input-shapes" in entry else ()
    settings = {
        row.name: row.from_config(reader, entry[k], f"{where}.{k}", base) if row.from_config else entry[k]
        for k, row in per_target.items()
        if k in entry
    }
    return ModelEntry(
        target,
        os.path.realpath(path),
        spec.attr,
        text.get("inputs"),
        text.get("input-kwargs"),
        shapes,
        text.get("input-dtype"),
        settings,
    )


def _relative_to_cwd(path: str) -> str:
    absolute = os.path.normpath(os.path.abspath(path))
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if relative.startswith("..") else relative


# --- merging ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """What a row's ``merge`` sees: the run's settings, the file's table, the command line and the target."""

    # config.Settings, config.Config and config.Overrides: typed Any, as config imports this module
    settings: Any
    config: Any
    overrides: Any
    spec: TargetSpec
    entry: ModelEntry | None = None
    """The ``[[tool.gradlint.models]]`` entry naming the target, if any (its settings are in ``config``)."""


def _shapes_and_dtype(m: Merge) -> tuple[tuple[tuple[int, ...], ...], str | None]:
    # --input-shape replaces the file's entry for the target; an entry brings its own dtype
    shapes, dtype = m.overrides.input_shapes, m.overrides.input_dtype
    if not shapes and m.entry is not None and m.entry.input_shapes:
        return m.entry.input_shapes, dtype or m.entry.input_dtype
    if not shapes:
        entry = next((e for e in m.config.input_shapes if e.applies(m.spec)), None)
        if entry is not None:
            shapes, dtype = entry.shapes, dtype or entry.dtype
    return shapes, dtype


def _merge_input_shapes(m: Merge) -> Any:
    return _shapes_and_dtype(m)[0]


def _merge_input_dtype(m: Merge) -> Any:
    return _shapes_and_dtype(m)[1] or OPTION["input_dtype"].default


def _merge_inputs(m: Merge) -> Any:
    given = m.overrides.inputs
    return given if given is not None or m.entry is None else m.entry.inputs


def _merge_input_kwargs(m: Merge) -> Any:
    given = m.overrides.input_kwargs
    return given if given is not None or m.entry is None else m.entry.input_kwargs


def _merge_rules(m: Merge) -> Any:
    return m.settings.rules(m.config)


def _merge_baseline(m: Merge) -> Any:
    return m.settings.baseline(m.config)


def _in_rules(m: Merge) -> Any:
    """``ignore``/``extend_select`` are layered (file, then command line) into ``rules``; the fields stay empty."""
    return ()


def _select_in_rules(m: Merge) -> Any:
    return None  # as _in_rules, for select


# --- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option. ``flag``/``key``/``keyword`` say where it may be given; the parsers turn each source's
    value into the option's (None: taken as is)."""

    name: str
    """The ``LintOptions`` field and ``lint()`` keyword; also the click parameter and the Config/Overrides field."""
    type: str
    """Its annotation (a string, as ``from __future__ import annotations`` writes them)."""
    default: Any
    help: str
    flag: str | None = None
    """The command-line flag: ``--probe-steps``, or a pair ``--probe/--no-probe``."""
    short: str | None = None
    click: Mapping[str, Any] = field(default_factory=dict)
    """Further ``click.option`` keywords (type, multiple, is_flag, metavar, callback)."""
    from_cli: Callable[[Any], Any] | None = None
    key: str | None = None
    """The ``[tool.gradlint]`` key."""
    from_config: Callable[[Reader, Any, str, str], Any] | None = None
    keyword: bool = True
    """Settable as a ``lint()`` keyword (and a ``LintOptions`` field): every ``scope="target"`` row."""
    from_keyword: Callable[[Any], Any] | None = None
    scope: str = "target"
    """``target``: a ``LintOptions`` field, merged per file. ``run``: a setting of the whole command."""
    unset: Any = None
    """The Config/Overrides value that means "not given here"."""
    merge: Callable[[Merge], Any] | None = None
    compare: bool = True
    """Whether ``LintOptions`` equality compares it (False for objects such as loaded baselines)."""

    def merged(self, m: Merge) -> Any:
        """The value for one target: the row's ``merge``, else the command line, the file, the default."""
        if self.merge is not None:
            return self.merge(m)
        given = getattr(m.overrides, self.name) if self.flag else None
        if given is not None:
            return given
        from_file = getattr(m.config, self.name) if self.key else None
        return from_file if from_file is not None else self.default

    def from_command_line(self, value: Any) -> Any:
        return self.from_cli(value) if self.from_cli is not None else value


_STR_TUPLE = "tuple[str, ...]"
_SELECTOR = {"multiple": True}

OPTIONS: tuple[Option, ...] = (
    Option(
        "output_format",
        "str | None",
        "text",
        "Output format (default: text, or output-format in [tool.gradlint]).",
        flag="--format",
        click={"type": click.Choice(FORMATS)},
        key="output-format",
        from_config=lambda r, v, k, base: r.choice(v, k, FORMATS),
        scope="run",
    ),
    Option(
        "output_file",
        "str | None",
        None,
        "Write the report here instead of stdout.",
        flag="--output-file",
        short="-o",
        click={"type": click.Path(dir_okay=False)},
        scope="run",
    ),
    Option(
        "config_file",
        "str | None",
        None,
        "Read settings from this file only (a pyproject.toml or gradlint.toml).",
        flag="--config",
        click={"type": click.Path(dir_okay=False)},
        scope="run",
    ),
    Option(
        "isolated",
        "bool",
        False,
        "Ignore every configuration file.",
        flag="--isolated",
        click={"is_flag": True},
        scope="run",
    ),
    Option(
        "select",
        f"{_STR_TUPLE} | None",
        None,
        "Rule codes, prefixes (GL1), names or ALL to enable (comma-separated or repeated); replaces the config's selection.",
        flag="--select",
        click=_SELECTOR,
        from_cli=lambda v: split_list(v) or None,
        key="select",
        from_config=lambda r, v, k, base: r.selectors(v, k),
        from_keyword=_keyword_selectors,
        merge=_select_in_rules,
    ),
    Option(
        "ignore",
        _STR_TUPLE,
        (),
        "Rule codes or prefixes to disable.",
        flag="--ignore",
        click=_SELECTOR,
        from_cli=split_list,
        key="ignore",
        from_config=lambda r, v, k, base: r.selectors(v, k),
        from_keyword=_keyword_selectors,
        unset=(),
        merge=_in_rules,
    ),
    Option(
        "extend_select",
        _STR_TUPLE,
        (),
        "Rule codes or prefixes to enable on top of the selection.",
        flag="--extend-select",
        click=_SELECTOR,
        from_cli=split_list,
        key="extend-select",
        from_config=lambda r, v, k, base: r.selectors(v, k),
        from_keyword=_keyword_selectors,
        unset=(),
        merge=_in_rules,
    ),
    Option(
        "input_shapes",
        "tuple[tuple[int, ...], ...]",
        (),
        "Shape of one forward argument, e.g. 8,3,32,32 (repeat per argument).",
        flag="--input-shape",
        click={"multiple": True, "metavar": "SHAPE"},
        from_cli=lambda v: tuple(parse_shape(s) for s in v),
        key="input-shapes",
        from_config=_config_input_shapes,
        from_keyword=_keyword_shapes,
        unset=(),
        merge=_merge_input_shapes,
    ),
    Option(
        "input_dtype",
        "str",
        "float32",
        "dtype of --input-shape inputs (float32, float16, int64 ...) [default: float32].",
        flag="--input-dtype",
        merge=_merge_input_dtype,
    ),
    Option(
        "inputs",
        "str | None",
        None,
        "forward's positional inputs as a Python expression, evaluated in the model file with torch, nn and model "
        "bound; a tuple is the arguments, anything else the one argument: "
        "'(torch.randint(0, 1000, (35, 8)), model.init_hidden(8))'.",
        flag="--inputs",
        click={"metavar": "EXPR"},
        merge=_merge_inputs,
    ),
    Option(
        "input_kwargs",
        "str | None",
        None,
        "forward's keyword inputs as a Python expression giving a dict: \"{'context': torch.randn(2, 77, 768)}\".",
        flag="--input-kwargs",
        click={"metavar": "EXPR"},
        merge=_merge_input_kwargs,
    ),
    Option(
        "fail_on",
        "str | None",
        "info",
        "Exit 1 when a finding is at or above this severity (default: info, or fail-on in [tool.gradlint]).",
        flag="--fail-on",
        click={"type": click.Choice(SEVERITIES)},
        key="fail-on",
        from_config=lambda r, v, k, base: r.choice(v, k, SEVERITIES),
        scope="run",
    ),
    Option(
        "exit_zero",
        "bool",
        False,
        "Exit 0 even when there are findings (errors loading a target still exit 2).",
        flag="--exit-zero",
        click={"is_flag": True},
        scope="run",
    ),
    Option(
        "statistics",
        "bool",
        False,
        "Show how many findings each rule has instead of the findings.",
        flag="--statistics",
        click={"is_flag": True},
        scope="run",
    ),
    Option(
        "baseline",
        "Baseline | None",
        None,
        "Leave out the findings recorded in this baseline file.",
        flag="--baseline",
        click={"type": click.Path(dir_okay=False)},
        key="baseline",
        from_config=lambda r, v, k, base: os.path.join(base, r.string(v, k)),  # kept absolute
        merge=_merge_baseline,
        compare=False,
    ),
    Option(
        "write_baseline",
        "str | None",
        None,
        "Record every current finding in this file and exit 0.",
        flag="--write-baseline",
        click={"type": click.Path(dir_okay=False)},
        scope="run",
    ),
    Option(
        "skip_no_model",
        "bool",
        False,
        "Skip named files that import no torch or hold no model, quietly (for pre-commit).",
        flag="--skip-no-model",
        click={"is_flag": True},
        unset=False,
    ),
    Option(
        "spectral_norms",
        "bool",
        False,
        "Also take the operator norm of every convolution applied once, for the report's layers (JSON spectral_norm); no rule reads it, and it is most of a CNN's lint time.",
        flag="--spectral-norms/--no-spectral-norms",
        click={"default": None},
        key="spectral-norms",
        from_config=lambda r, v, k, base: r.boolean(v, k),
    ),
    Option(
        "probe",
        "bool",
        False,
        "Also measure gradients (the reference protocol) and mark findings confirmed or refuted (default: probe in [tool.gradlint], else off).",
        flag="--probe/--no-probe",
        click={"default": None},
        key="probe",
        from_config=lambda r, v, k, base: r.boolean(v, k),
    ),
    Option(
        "meta",
        "bool | None",
        None,
        "Build the model on the meta device: no weight values, statistics from the recorded init calls (default: only when the weights would not fit in memory; --no-meta: never). Not with --probe.",
        flag="--meta/--no-meta",
        click={"default": None},
        key="meta",
        from_config=lambda r, v, k, base: r.boolean(v, k),
    ),
    Option(
        "device",
        "str",
        "auto",
        "Where the probe runs: auto, cpu, cuda or cuda:N [default: auto].",
        flag="--device",
        click={"callback": _check_device},
        key="device",
        from_config=_config_device,
    ),
    Option(
        "probe_seeds",
        "tuple[int, ...]",
        (1, 2, 3),
        "Seeds of the probe; the median over them is reported [default: 1,2,3].",
        flag="--probe-seeds",
        click={"metavar": "1,2,3"},
        from_cli=lambda v: parse_seeds(v) if v is not None else None,
        key="probe-seeds",
        from_config=lambda r, v, k, base: r.seeds(v, k),
        from_keyword=_keyword_seeds,
    ),
    Option(
        "probe_steps",
        "int",
        0,
        "Also train a copy for N steps by the training check's protocol (150 is its own) and measure whether it trains, diverges or stalls; implies --probe [default: 0].",
        flag="--probe-steps",
        click={"type": click.IntRange(min=0)},
        key="probe-steps",
        from_config=_config_steps,
    ),
    Option(
        "optimizer",
        "str | None",
        None,
        "Optimizer of the training check and --probe-steps: sgd, adam, adamw or rmsprop [default: adamw at lr 0.001 when no optimizer setting is given].",
        flag="--optimizer",
        click={"type": click.Choice(OPTIMIZERS, case_sensitive=False)},
        from_cli=lambda v: v.lower() if v else None,
        key="optimizer",
        from_config=lambda r, v, k, base: r.choice(v, k, OPTIMIZERS),
    ),
    Option(
        "lr",
        "float | None",
        None,
        "Learning rate [default: torch's for the optimizer: 0.001, rmsprop 0.01].",
        flag="--lr",
        click={"type": click.FloatRange(min=0, min_open=True)},
        key="lr",
        from_config=lambda r, v, k, base: r.positive(v, k),
    ),
    Option(
        "momentum",
        "float | None",
        None,
        "SGD's or RMSprop's momentum [default: 0].",
        flag="--momentum",
        click={"type": click.FloatRange(min=0, max=1, max_open=True)},
        key="momentum",
        from_config=_config_momentum,
    ),
    Option(
        "betas",
        "tuple[float, float] | None",
        None,
        "Adam's or AdamW's betas, e.g. 0.9,0.999 [default: 0.9,0.999].",
        flag="--betas",
        click={"metavar": "B1,B2"},
        from_cli=lambda v: parse_betas(v) if v is not None else None,
        key="betas",
        from_config=_config_betas,
        from_keyword=lambda v: None if v is None else (float(v[0]), float(v[1])),
    ),
    Option(
        "eps",
        "float | None",
        None,
        "Adam's, AdamW's or RMSprop's eps [default: 1e-8].",
        flag="--eps",
        click={"type": click.FloatRange(min=0, min_open=True)},
        key="eps",
        from_config=lambda r, v, k, base: r.positive(v, k),
    ),
    Option(
        "weight_decay",
        "float | None",
        None,
        "Weight decay [default: 0.01 for adamw, else 0].",
        flag="--weight-decay",
        click={"type": click.FloatRange(min=0)},
        key="weight-decay",
        from_config=_config_weight_decay,
    ),
    Option(
        "clip_grad_norm",
        "float | None",
        None,
        "clip_grad_norm_(params, MAX_NORM) before each step [default: no clipping].",
        flag="--clip-grad-norm",
        click={"type": click.FloatRange(min=0, min_open=True), "metavar": "MAX_NORM"},
        key="clip-grad-norm",
        from_config=lambda r, v, k, base: r.positive(v, k),
    ),
    Option(
        "precision",
        "str | None",
        None,
        "Also check the model in this precision: float16 / bfloat16 (model cast), mixed / mixed-bf16 "
        "(torch.autocast): overflowing layers, underflowing gradients and the loss scale, vanishing constants "
        "(GL8xx); with --probe, measured in that dtype.",
        flag="--precision",
        click={"type": click.Choice(PRECISION_CHOICES, case_sensitive=False)},
        from_cli=canonical_precision,
        key="precision",
        from_config=lambda r, v, k, base: canonical_precision(r.choice(v, k, PRECISION_CHOICES)),
        from_keyword=canonical_precision,
    ),
    Option(
        "probe_timeout_s",
        "float | None",
        None,
        "Give up on a model's probe after this many seconds.",
        flag="--probe-timeout",
        click={"type": click.FloatRange(min=0, min_open=True), "metavar": "SECONDS"},
        key="probe-timeout",
        from_config=lambda r, v, k, base: r.positive(v, k, "a positive number of seconds"),
    ),
    Option(
        "plot",
        "str | None",
        None,
        "Also draw the gradient-flow picture: FILE.html (a self-contained page), .png or .svg (needs gradlint[plot]; one file per model).",
        flag="--plot",
        click={"type": click.Path(dir_okay=False), "metavar": "FILE"},
        scope="run",
    ),
    Option(
        "layers",
        "bool",
        False,
        "Also show the layer table (one row per module) and the gradient-flow profile after the findings "
        "(as --format full does).",
        flag="--layers",
        click={"is_flag": True},
        scope="run",
    ),
    Option(
        "quiet",
        "bool",
        False,
        "Only findings: no fixes, no summary, no progress.",
        flag="--quiet",
        short="-q",
        click={"is_flag": True},
        scope="run",
    ),
    Option(
        "no_color",
        "bool",
        False,
        "No colour (also: the NO_COLOR environment variable).",
        flag="--no-color",
        click={"is_flag": True},
        scope="run",
    ),
    Option("debug", "bool", False, "Show tracebacks for errors.", flag="--debug", click={"is_flag": True}, scope="run"),
    Option(
        "jobs",
        "int | None",
        None,
        "Lint the targets in N worker processes, torch's threads split between them (default 1: in this process).",
        flag="--jobs",
        short="-j",
        click={"type": click.IntRange(min=1), "metavar": "N"},
        key="jobs",
        from_config=lambda r, v, k, base: _config_count(r, v, k),
        scope="run",
    ),
    Option(
        "threads",
        "int | None",
        None,
        "Cap torch's threads per lint at N (default: every core for one lint; a fair share under --jobs "
        "or a pre-commit hook).",
        flag="--threads",
        click={"type": click.IntRange(min=1), "metavar": "N"},
        key="threads",
        from_config=lambda r, v, k, base: _config_count(r, v, k),
        scope="run",
    ),
    Option(
        "shard",
        "tuple[int, int] | None",
        None,
        "Lint only shard I of N (1-based): each file goes to the shard a hash of its path names, the same on "
        "every run and runner.",
        flag="--shard",
        click={"callback": lambda ctx, param, value: None if value is None else parse_shard(value), "metavar": "I/N"},
        scope="run",
    ),
    # Given in [tool.gradlint] or as lint() keywords only.
    Option(
        "thresholds",
        "VerdictThresholds",
        VerdictThresholds(),
        "Verdict thresholds (log10 gradient RMS), shared by the probe and the static estimate.",
        key="thresholds",
        from_config=_config_thresholds,
        from_keyword=_keyword_thresholds,
    ),
    Option(
        "models",
        "tuple[ModelEntry, ...]",
        (),
        "[[tool.gradlint.models]]: the models `gradlint` with no target lints, each a target expression with "
        "its inputs and settings.",
        key="models",
        from_config=_config_models,
        scope="run",
        unset=(),
    ),
    Option(
        "per_file_ignores",
        "tuple[PerFileIgnore, ...]",
        (),
        "[tool.gradlint.per-file-ignores]: findings left out by file.",
        key="per-file-ignores",
        from_config=_config_per_file_ignores,
        unset=(),
    ),
    Option(
        "trace_methods",
        f"{_STR_TUPLE} | None",
        None,
        "Restrict tracing to these methods (fx, export, hooks); None tries all in order.",
    ),
    Option(
        "rules",
        "tuple[Rule, ...] | None",
        None,
        "Already-selected rules; when None they are selected from select/ignore/extend_select.",
        merge=_merge_rules,
        compare=False,
    ),
)


OPTION: Mapping[str, Option] = {row.name: row for row in OPTIONS}
TARGET_OPTIONS = tuple(row for row in OPTIONS if row.scope == "target")
"""The rows that are ``LintOptions`` fields and ``lint()`` keywords, merged per target."""
SELECTORS = ("select", "ignore", "extend_select")


def _selected_rules(self: Any) -> tuple[Rule, ...]:
    from gradlint.registry import select_rules

    if self.rules is not None:
        return self.rules
    return select_rules(self.select, self.ignore, self.extend_select)


def _options_doc() -> str:
    lines = ["What one lint of one target uses; every field is a row of ``gradlint.options.OPTIONS``.", ""]
    lines += [f"- ``{row.name}`` (default ``{row.default!r}``): {row.help}" for row in TARGET_OPTIONS]
    return "\n".join(lines)


LintOptions = dataclasses.make_dataclass(
    "LintOptions",
    [(row.name, row.type, field(default=row.default, compare=row.compare)) for row in TARGET_OPTIONS],
    frozen=True,
    namespace={"selected_rules": _selected_rules, "__doc__": _options_doc()},
)
LintOptions.__module__ = "gradlint.api"  # its public home (pickling and reprs name it there)


def apply_keywords(options: Any, keywords: Mapping[str, Any]) -> Any:
    """``options`` with ``lint()``'s keyword arguments applied, each through its row's ``from_keyword``."""
    if not keywords:
        return options
    known = {row.name for row in TARGET_OPTIONS}
    unknown = sorted(set(keywords) - known)
    if unknown:
        raise TypeError(f"unknown lint option(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    values = {
        name: OPTION[name].from_keyword(value) if OPTION[name].from_keyword is not None else value
        for name, value in keywords.items()
    }
    if any(name in values for name in SELECTORS) and "rules" not in values:
        values["rules"] = None  # re-select from the new selectors
    return dataclasses.replace(options, **values)
