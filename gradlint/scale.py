"""Many targets: shards over CI runners (``--shard I/N``), worker processes (``--jobs N``) and torch's
threads (``--threads N``).

Linting is per file, so the files of a run split without changing any result: a shard is the files a
hash of their path assigns to it, and workers lint one file each and send the report back, which the
parent streams in the serial order. torch is not imported here: a worker sets its thread count before
its first import of torch.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradlint.config import Overrides, Settings
    from gradlint.load.targets import TargetSpec
    from gradlint.report.lint_report import LintReport
    from gradlint.types import ModelReport, TargetError

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def shard_index(spec: TargetSpec, count: int) -> int:
    """The shard (1 to ``count``) of a file: a hash of its path as written, relative to the working directory.

    Every model of one file lands on the same shard; the index depends only on the path, so it is the same
    on every run and on every runner of a CI matrix that checks the repository out at the same place.
    """
    path = spec.path if spec.zoo is not None else os.path.normpath(spec.path).replace(os.sep, "/")
    if spec.zoo is None and os.path.isabs(path):
        relative = os.path.relpath(path)
        path = path if relative.startswith("..") else relative.replace(os.sep, "/")
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(specs: Sequence[TargetSpec], shard: tuple[int, int] | None) -> list[TargetSpec]:
    """The specs of shard ``(i, n)``, in their order; all of them for ``None``."""
    if shard is None:
        return list(specs)
    index, count = shard
    return [spec for spec in specs if shard_index(spec, count) == index]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def fair_threads(
    threads: int | None, jobs: int, environ: Mapping[str, str] = os.environ, cores: int | None = None
) -> int | None:
    """torch's threads for each lint: ``threads`` when given, else a fair share of the cores when several
    lints run at once (``jobs`` workers; a pre-commit hook, which runs one gradlint per core), else
    None (torch's own default, every core)."""
    if threads is not None:
        return threads
    cores = cores or available_cores()
    if environ.get("PRE_COMMIT"):  # pre-commit sets it for its hooks, and runs them in parallel over files
        return 1
    if jobs > 1:
        return max(1, cores // jobs)
    return None


def cap_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads in this process (before torch is imported, also OpenMP's and MKL's)."""
    if threads is None:
        return
    import sys

    if "torch" not in sys.modules:
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(threads)
    import torch

    torch.set_num_threads(threads)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to read the configuration as the parent does (sent once, at its start)."""

    overrides: Overrides
    config_file: str | None
    isolated: bool
    threads: int | None


def _start_worker(threads: int | None) -> None:
    cap_threads(threads)


def _dumps(value: Any) -> bytes:
    """Pickle a worker's result; the records' read-only mappings (``MappingProxyType``) go as dicts and come
    back read-only, through this pickler's own table (no process-wide ``copyreg`` registration)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_mapping}
    pickler.dump(value)
    return buffer.getvalue()


def _reduce_mapping(mapping: MappingProxyType) -> tuple[Any, ...]:
    return _read_only, (dict(mapping),)


def _read_only(items: dict[Any, Any]) -> MappingProxyType:
    return MappingProxyType(items)


def _lint_one(setup: WorkerSetup, spec: TargetSpec) -> bytes:
    return _dumps(_lint_spec(setup, spec))


def _lint_spec(setup: WorkerSetup, spec: TargetSpec) -> tuple[tuple[ModelReport, ...], tuple[TargetError, ...]]:
    from gradlint.api import lint_specs
    from gradlint.config import Settings
    from gradlint.errors import internal_error_message

    try:
        settings = Settings(setup.overrides, config_file=setup.config_file, isolated=setup.isolated)
        report = lint_specs([spec], settings.base_options(), options_for=settings.options_for)
    except Exception as error:  # an internal error names this target, and the other workers carry on
        return (), (_error(spec, internal_error_message(error)),)
    # the exception behind an error may not pickle; its message says it all but for --debug
    errors = tuple(replace(e, exception=_picklable(e.exception)) for e in report.errors)
    return report.models, errors


def _error(spec: TargetSpec, message: str) -> TargetError:
    from gradlint.types import TargetError

    return TargetError(str(spec), f"{spec}: {message}", path=spec.path)


def _picklable(exception: BaseException | None) -> BaseException | None:
    try:
        _dumps(exception)
    except Exception:
        return None
    return exception


def lint_in_workers(
    specs: Sequence[TargetSpec],
    setup: WorkerSetup,
    jobs: int,
    *,
    on_model: Callable[[ModelReport], None] | None = None,
    on_error: Callable[[TargetError], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[tuple[ModelReport, ...], tuple[TargetError, ...]]:
    """Lint ``specs`` in ``jobs`` worker processes, one file a task; the results come back in ``specs``' order."""
    import multiprocessing

    models: list[ModelReport] = []
    errors: list[TargetError] = []
    # spawn, not fork: a forked child of a process whose OpenMP pool has run can hang in its first matmul
    context = multiprocessing.get_context("spawn")

    def new_pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=context, initializer=_start_worker, initargs=(setup.threads,))

    task = partial(_lint_one, setup)
    pool = new_pool(jobs)
    try:
        futures = [pool.submit(task, spec) for spec in specs]
        for index, spec in enumerate(specs):
            try:
                spec_models, spec_errors = pickle.loads(futures[index].result())
            except BrokenProcessPool:
                # A worker died (out of memory, a crash in native code) and took the pool's tasks with it:
                # this file runs again alone, so only the file that kills a worker is reported, and the
                # files after it go to a fresh pool.
                pool.shutdown(wait=False, cancel_futures=True)
                spec_models, spec_errors = _lint_alone(new_pool, task, spec)
                pool = new_pool(min(jobs, max(len(specs) - index - 1, 1)))
                futures[index + 1 :] = [pool.submit(task, later) for later in specs[index + 1 :]]
            if on_progress is not None:
                on_progress(f"linted {spec}")
            for model in spec_models:
                models.append(model)
                if on_model is not None:
                    on_model(model)
            for error in spec_errors:
                errors.append(error)
                if on_error is not None:
                    on_error(error)
    finally:
        pool.shutdown(cancel_futures=True)
    return tuple(models), tuple(errors)


def _lint_alone(
    new_pool: Callable[[int], ProcessPoolExecutor], task: Callable[[TargetSpec], bytes], spec: TargetSpec
) -> tuple[tuple[ModelReport, ...], tuple[TargetError, ...]]:
    with new_pool(1) as alone:
        try:
            return pickle.loads(alone.submit(task, spec).result())
        except BrokenProcessPool:
            return (), (_error(spec, "the gradlint worker process linting it died (out of memory, or a crash)"),)


def lint_run(
    targets: Sequence[str],
    settings: Settings,
    setup: WorkerSetup,
    *,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    on_model: Callable[[ModelReport], None] | None = None,
    on_error: Callable[[TargetError], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> LintReport:
    """What ``gradlint check`` lints: the shard's files of ``targets``, in this process or in ``jobs`` workers."""
    from gradlint.api import lint_specs, plan_targets
    from gradlint.report.lint_report import LintReport

    options = settings.base_options()
    specs = select_shard(plan_targets(targets, options), shard)
    if jobs <= 1 or len(specs) <= 1:
        cap_threads(setup.threads)
        return lint_specs(
            specs,
            options,
            options_for=settings.options_for,
            on_model=on_model,
            on_error=on_error,
            on_progress=on_progress,
        )
    models, errors = lint_in_workers(
        specs, setup, min(jobs, len(specs)), on_model=on_model, on_error=on_error, on_progress=on_progress
    )
    return LintReport(models, errors)
