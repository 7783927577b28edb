"""Inline suppression (``# gradlint: ignore[...]``, ``# noqa: ...``) and per-file-ignore globs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradlint.cli import main
from gradlint.suppress import PerFileIgnore, is_suppressed, parse_directive, silenced_codes

from .fakes import NAN_MODEL, fake_rule, make_finding  # noqa: F401 - fake_rule is a fixture

# Line 8 of NAN_MODEL builds fc2, the layer GL001 points at.
FC2 = "            self.fc2 = nn.Linear(32, 4)"


def with_comment(comment: str) -> str:
    return NAN_MODEL.replace(FC2, f"{FC2}  {comment}")


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("# gradlint: ignore[GL101]", {"GL101"}),
        ("# gradlint: ignore[GL101, GL102]", {"GL101", "GL102"}),
        ("# gradlint:ignore[gl101]", {"gl101"}),
        ("# gradlint: ignore", {"ALL"}),
        ("# noqa: GL101", {"GL101"}),
        ("# noqa:GL101,GL102", {"GL101", "GL102"}),
        ("# noqa: E501, GL101", {"E501", "GL101"}),
        ("# type: ignore  # noqa: GL101", {"GL101"}),
        ("# noqa", set()),
        ("# a comment", set()),
    ],
)
def test_parse_directive(comment: str, codes: set[str]) -> None:
    assert parse_directive(comment) == codes


def run(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    # GL001 only (plus what a test adds): other rules of the growing catalogue may fire here too
    code = main([str(path), "-q", "--format", "concise", "--no-color", "--select", "GL001", *args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    "comment",
    [
        "# gradlint: ignore[GL001]",
        "# noqa: GL001",
        "# gradlint: ignore",
        "# gradlint: ignore[GL0]",
        "# gradlint: ignore[non-finite-tensor]",
        "# noqa: E501, GL001",
    ],
)
def test_comment_on_the_constructing_line_silences(comment: str, model_file, capsys) -> None:
    code, out = run(model_file(with_comment(comment)), capsys)
    assert code == 0 and "GL001" not in out


@pytest.mark.parametrize("comment", ["# noqa", "# gradlint: ignore[GL950]", "# noqa: GL002"])
def test_other_codes_and_bare_noqa_do_not_silence(comment: str, model_file, capsys) -> None:
    code, out = run(model_file(with_comment(comment)), capsys)
    assert code == 1 and "GL001" in out


def test_comment_inside_a_string_does_not_count(model_file, capsys) -> None:
    source = NAN_MODEL.replace(FC2, f'{FC2}; _ = "# gradlint: ignore[GL001]"')
    code, out = run(model_file(source), capsys)
    assert code == 1 and "GL001" in out


def test_only_the_named_code_is_silenced(model_file, fake_rule, capsys) -> None:
    code, out = run(model_file(with_comment("# gradlint: ignore[GL001]")), capsys, "--select", "GL950")
    assert code == 1
    assert "GL001" not in out
    assert out.count("GL950") == 2  # fc1 and fc2 keep the fake rule's warnings


MULTILINE = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(  # COMMENT_FIRST
                nn.Linear(
                    16,
                    4,
                ),  # COMMENT_LAST
            )
            with torch.no_grad():
                self.body[0].weight[0, 0] = float("nan")

        def forward(self, x):
            return self.body(x)
"""


def test_multiline_constructor_first_line_of_the_statement(model_file, capsys) -> None:
    path = model_file(MULTILINE.replace("# COMMENT_FIRST", "# noqa: GL001"))
    code, out = run(path, capsys)
    assert code == 0, out


def test_multiline_constructor_on_the_line_of_the_layer(model_file, capsys) -> None:
    source = MULTILINE.replace("nn.Linear(\n", "nn.Linear(  # gradlint: ignore[GL001]\n")
    code, out = run(model_file(source), capsys)
    assert code == 0, out


def test_multiline_constructor_a_later_line_does_not_count(model_file, capsys) -> None:
    path = model_file(MULTILINE.replace("# COMMENT_LAST", "# noqa: GL001"))
    code, out = run(path, capsys)
    assert code == 1 and ":8:1: GL001" in out  # points at the line that opens nn.Linear(


def test_silenced_codes_reads_real_files(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent("""\
        x = call(  # gradlint: ignore[GL101]
            1,
            2,  # noqa: GL102
        )
    """)
    )
    assert silenced_codes(str(path), 1) == {"GL101"}
    assert silenced_codes(str(path), 2) == {"GL101"}  # inside the statement: its first line counts
    assert silenced_codes(str(path), 3) == {"GL101", "GL102"}
    assert silenced_codes(str(tmp_path / "missing.py"), 1) == set()
    assert silenced_codes("<model>", 1) == set()


def test_finding_without_location_is_never_suppressed() -> None:
    finding = make_finding()
    assert not is_suppressed(finding.__class__(**{**finding.__dict__, "location": None}))


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("legacy/*.py", "legacy/net.py", True),
        ("legacy/*.py", "legacy/deep/net.py", False),
        ("legacy/**/*.py", "legacy/deep/net.py", True),
        ("legacy/**", "legacy/deep/net.py", True),
        ("legacy", "legacy/deep/net.py", True),  # a folder matches its files
        ("legacy/", "legacy/net.py", True),
        ("net.py", "models/deep/net.py", True),  # no slash: a name anywhere
        ("*.py", "models/net.py", True),
        ("models/net.py", "other/models/net.py", False),
        ("./models/net?.py", "models/net2.py", True),
        ("models/[ab].py", "models/a.py", True),
        ("models/[!ab].py", "models/a.py", False),
        ("*.py", "../outside.py", False),
    ],
)
def test_per_file_ignore_globs(pattern: str, path: str, matches: bool, tmp_path: Path) -> None:
    rule = PerFileIgnore(pattern, ("GL001",), str(tmp_path))
    assert rule.matches_path(str(tmp_path / path)) is matches


def test_per_file_ignore_selectors(tmp_path: Path) -> None:
    finding = make_finding(path=str(tmp_path / "legacy" / "net.py"))
    assert PerFileIgnore("legacy/*", ("GL0",), str(tmp_path)).silences(finding)
    assert PerFileIgnore("legacy/*", ("ALL",), str(tmp_path)).silences(finding)
    assert PerFileIgnore("legacy/*", ("non-finite-tensor",), str(tmp_path)).silences(finding)
    assert not PerFileIgnore("legacy/*", ("GL1",), str(tmp_path)).silences(finding)
    assert not PerFileIgnore("other/*", ("ALL",), str(tmp_path)).silences(finding)
    # the model's own file counts too: a layer built in a shared helper, a model in legacy/
    helper = make_finding(path=str(tmp_path / "common" / "blocks.py"))
    assert PerFileIgnore("legacy/*", ("ALL",), str(tmp_path)).silences(helper, str(tmp_path / "legacy" / "net.py"))
