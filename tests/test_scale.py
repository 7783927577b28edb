"""Many targets: ``--shard I/N``, ``--jobs N``, ``--threads N`` and the pytest plugin under pytest-xdist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradlint.cli import main
from gradlint.errors import UsageError
from gradlint.load.targets import TargetSpec
from gradlint.options import parse_shard
from gradlint.scale import fair_threads, select_shard, shard_index

from .fakes import CLEAN_MODEL as _CLEAN
from .fakes import NAN_MODEL as _NAN

CLEAN_MODEL, NAN_MODEL = textwrap.dedent(_CLEAN), textwrap.dedent(_NAN)

# Records the thread count torch runs with when the file is loaded (by the lint, in whichever process).
THREADS_MODEL = """
import os
import torch
from torch import nn

with open(os.environ["GRADLINT_TEST_THREADS"] + "." + os.path.basename(__file__), "w") as out:
    out.write(str(torch.get_num_threads()))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x)
"""

DYING_MODEL = """
import os
import torch
from torch import nn

os._exit(3)  # the worker process dies while loading this file
"""


def specs(count: int) -> list[TargetSpec]:
    return [TargetSpec(f"models/net_{i}.py") for i in range(count)]


def test_parse_shard() -> None:
    assert parse_shard("2/4") == (2, 4)
    assert parse_shard(" 1/1 ") == (1, 1)
    for bad in ("0/4", "5/4", "4", "a/b", "1/0", "-1/2"):
        with pytest.raises(UsageError, match="expected I/N"):
            parse_shard(bad)


def test_shards_partition_the_files_stably() -> None:
    files = specs(200)
    shards = [select_shard(files, (i, 4)) for i in range(1, 5)]
    assert sorted(s.path for shard in shards for s in shard) == sorted(s.path for s in files)
    assert all(20 < len(shard) < 80 for shard in shards), [len(s) for s in shards]  # a hash, not one bucket
    # the same file gets the same shard whatever else is linted and in whichever order
    assert select_shard(list(reversed(files)), (2, 4)) == list(reversed(shards[1]))
    assert [shard_index(s, 4) for s in files[:5]] == [shard_index(TargetSpec(s.path), 4) for s in files[:5]]
    # a fixed value: the hash must not change between gradlint versions without a reason
    assert [shard_index(s, 7) for s in files[:6]] == EXPECTED_SHARDS_OF_7


EXPECTED_SHARDS_OF_7 = [1, 3, 1, 2, 2, 2]  # sha256 of "models/net_0.py" ... "models/net_5.py", mod 7, plus 1


def test_shard_does_not_depend_on_how_the_path_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for count in (2, 3, 5):
        same = {
            shard_index(TargetSpec(path), count)
            for path in ("models/net.py", "./models/net.py", str(tmp_path / "models" / "net.py"))
        }
        assert len(same) == 1


def test_shard_keeps_the_models_of_one_file_together() -> None:
    assert shard_index(TargetSpec("net.py", attr="A"), 9) == shard_index(TargetSpec("net.py", attr="B"), 9)


def test_fair_threads() -> None:
    assert fair_threads(3, jobs=4, environ={}, cores=16) == 3  # given: as given
    assert fair_threads(None, jobs=1, environ={}, cores=16) is None  # one lint: torch's default
    assert fair_threads(None, jobs=4, environ={}, cores=16) == 4
    assert fair_threads(None, jobs=4, environ={}, cores=2) == 1
    assert fair_threads(None, jobs=1, environ={"PRE_COMMIT": "1"}, cores=16) == 1


def test_bad_shard_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "net.py").write_text(CLEAN_MODEL)
    assert main([str(tmp_path / "net.py"), "--shard", "3/2", "--isolated"]) == 2
    assert "--shard '3/2': expected I/N" in capsys.readouterr().err


def test_empty_shard_lints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "net.py").write_text(CLEAN_MODEL)
    spec = TargetSpec(str(tmp_path / "net.py"))
    other = next(i for i in (1, 2) if i != shard_index(spec, 2))
    assert main([str(tmp_path / "net.py"), "--shard", f"{other}/2", "--isolated"]) == 0
    assert "nothing to lint" in capsys.readouterr().err


def test_shards_of_a_directory_cover_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(6):
        (tmp_path / f"net_{i}.py").write_text(CLEAN_MODEL if i % 2 else NAN_MODEL)
    whole = json.loads(_json_of([str(tmp_path), "--isolated"], capsys))
    parts = [json.loads(_json_of([str(tmp_path), "--isolated", "--shard", f"{i}/3"], capsys)) for i in (1, 2, 3)]
    names = sorted(m["target"] for part in parts for m in part["models"])
    assert names == sorted(m["target"] for m in whole["models"]) and len(names) == 6


def _json_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main([*args, "--format", "json", "--exit-zero"])
    return capsys.readouterr().out


def gradlint(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradlint", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@pytest.mark.slow
def test_jobs_give_the_serial_report_and_survive_a_dying_worker(tmp_path: Path) -> None:
    (tmp_path / "a_bad.py").write_text(NAN_MODEL)
    (tmp_path / "b_good.py").write_text(CLEAN_MODEL)
    (tmp_path / "c_bad.py").write_text(NAN_MODEL)
    serial = gradlint(str(tmp_path), "--isolated", "--format", "json")
    parallel = gradlint(str(tmp_path), "--isolated", "--format", "json", "--jobs", "2")
    assert (serial.returncode, parallel.returncode) == (1, 1), parallel.stderr
    assert json.loads(parallel.stdout) == json.loads(serial.stdout)

    (tmp_path / "b_good.py").write_text(DYING_MODEL)
    dying = gradlint(str(tmp_path), "--isolated", "--format", "json", "--jobs", "2")
    assert dying.returncode == 2, dying.stderr
    assert "Traceback" not in dying.stderr
    report = json.loads(dying.stdout)
    errors = {e["target"]: e["message"] for e in report["errors"]}
    assert any("b_good.py" in target for target in errors), errors
    assert "worker process linting it died" in next(iter(errors.values()))


@pytest.mark.slow
def test_threads_cap_torch_in_the_process_and_in_workers(tmp_path: Path) -> None:
    for name in ("one.py", "two.py"):
        (tmp_path / name).write_text(THREADS_MODEL)
    record = str(tmp_path / "threads")
    env = {"GRADLINT_TEST_THREADS": record, "OMP_NUM_THREADS": "", "MKL_NUM_THREADS": ""}

    def seen() -> dict[str, int]:
        return {name: int(Path(f"{record}.{name}").read_text()) for name in ("one.py", "two.py")}

    done = gradlint(str(tmp_path), "--isolated", "-q", "--threads", "1", env=env)
    assert done.returncode in (0, 1), done.stderr
    assert seen() == {"one.py": 1, "two.py": 1}
    done = gradlint(str(tmp_path), "--isolated", "-q", "--threads", "1", "--jobs", "2", env=env)
    assert done.returncode in (0, 1), done.stderr
    assert seen() == {"one.py": 1, "two.py": 1}
    # under a pre-commit hook without --threads: one thread each, not every core
    done = gradlint(str(tmp_path), "--isolated", "-q", env={**env, "PRE_COMMIT": "1"})
    assert done.returncode in (0, 1), done.stderr
    assert seen() == {"one.py": 1, "two.py": 1}


@pytest.mark.slow
def test_threads_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text(THREADS_MODEL)
    (tmp_path / "two.py").write_text(THREADS_MODEL)
    (tmp_path / "pyproject.toml").write_text("[tool.gradlint]\nthreads = 1\njobs = 2\n")
    record = str(tmp_path / "threads")
    done = gradlint(".", "-q", env={"GRADLINT_TEST_THREADS": record}, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert Path(f"{record}.one.py").read_text() == "1" and Path(f"{record}.two.py").read_text() == "1"


@pytest.mark.slow
def test_pytest_plugin_under_xdist(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    for i in range(3):
        (tmp_path / f"model_{i}.py").write_text(NAN_MODEL if i == 0 else CLEAN_MODEL)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--gradlint", "-n", "2", "-p", "no:cacheprovider", "-v", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 2 passed" in done.stdout, done.stdout
    assert "created: 2/2 workers" in done.stdout and "[gw" in done.stdout, done.stdout  # ran on xdist's workers
    assert "GL001" in done.stdout
