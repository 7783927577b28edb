"""Errors that name the real cause, each one line (issue 14, item 6)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from gradlint import trace
from gradlint.api import LintOptions, lint_paths
from gradlint.cli import main
from gradlint.errors import InputError, LoadError, TraceError
from gradlint.load import TargetSpec, load_target
from gradlint.trace import trace_model
from gradlint.trace.shapes import all_finite

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


def write(root: Path, name: str, source: str) -> str:
    (root / name).write_text(textwrap.dedent(source))
    return name


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # paths in messages are relative to the working directory


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.strip()]
    return line


@no_cuda
def test_constructor_asking_for_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        tmp_path,
        "gpu.py",
        """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4).cuda()
        """,
    )
    line = one_line_error(capsys, "gpu.py")
    assert line.startswith("gradlint: gpu.py:Net: building the model failed: it asks for CUDA, which this machine")
    assert "(at gpu.py:7)" in line


@no_cuda
def test_forward_asking_for_cuda(tmp_path: Path) -> None:
    write(
        tmp_path,
        "gpu_fwd.py",
        """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)

            def forward(self, x):
                return self.fc(x.cuda())
        """,
    )
    [loaded] = load_target(TargetSpec("gpu_fwd.py"))
    with pytest.raises(InputError, match=r"^gpu_fwd\.py:Net: the model's forward asks for CUDA, which this machine"):
        trace_model(loaded, ("hooks",))


def test_dtype_clash_inside_the_model(tmp_path: Path) -> None:
    write(
        tmp_path,
        "clash.py",
        """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 4)
                self.b = nn.Linear(4, 4).double()

            def forward(self, x):
                return self.b(self.a(x))
        """,
    )
    [loaded] = load_target(TargetSpec("clash.py"))
    with pytest.raises(InputError) as info:
        trace_model(loaded, ("hooks",))  # fx propagates shapes on the meta device, which does not check dtypes
    message = str(info.value)
    assert message.startswith("clash.py:Net: dtype clash inside the model: RuntimeError: ")
    assert " in layer b (Linear) at clash.py:11; " in message
    assert "do not fit" not in message


def test_inputs_that_do_not_fit_name_the_layer_and_the_users_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fit.py",
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(10, 4)

            def forward(self, x):
                return self.a(x)

        EXAMPLE_INPUTS = (torch.randn(2, 7),)
        """,
    )
    [loaded] = load_target(TargetSpec("fit.py"))
    for method in ("fx", "hooks"):
        with pytest.raises(InputError) as info:
            trace_model(loaded, (method,))
        assert str(info.value).startswith(
            "fit.py:Net: the example inputs ((2, 7) float32; EXAMPLE_INPUTS in fit.py) do not fit the model: "
            "RuntimeError: mat1 and mat2 shapes cannot be multiplied"
        ), method
        assert " in layer a (Linear) at fit.py:11; pass --inputs or --input-shape" in str(info.value), method


def test_a_later_shape_error_is_not_blamed_on_the_inputs(tmp_path: Path) -> None:
    write(
        tmp_path,
        "later.py",
        """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 5)
                self.b = nn.Linear(4, 4)

            def forward(self, x):
                return self.b(self.a(x))
        """,
    )
    [loaded] = load_target(TargetSpec("later.py"))
    with pytest.raises(InputError) as info:
        trace_model(loaded, ("hooks",))
    assert str(info.value).startswith(
        "later.py:Net: the model's forward raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"
    )
    assert " in layer b (Linear) at later.py:11 on the example inputs ((8, 4) float32; inferred" in str(info.value)


def test_torchvision_built_for_another_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # What `import torchvision` raises when its compiled ops belong to another torch build (tests/conftest.py
    # shims them for the test process, so the import error itself is reproduced here).
    write(tmp_path, "tv.py", "import torch\nraise RuntimeError('operator torchvision::nms does not exist')\n")
    line = one_line_error(capsys, "tv.py")
    assert line.startswith(
        "gradlint: tv.py: importing it failed: torchvision cannot be imported beside this torch: the installed "
        "torchvision was built for another torch"
    )
    assert "pip install torchvision --index-url https://download.pytorch.org/whl/cpu" in line
    assert line.endswith("(at tv.py:2)")


def test_a_failure_inside_a_tracer_is_internal_and_names_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "lin.py", "from torch import nn\nmodel = nn.Linear(3, 2)\n")
    [loaded] = load_target(TargetSpec("lin.py"))

    def broken_tracer(model: object, args: object, kwargs: object) -> list:
        all_finite("not a tensor")  # raises inside gradlint's own code
        return []

    monkeypatch.setattr(trace, "METHODS", (("hooks", broken_tracer),))
    with pytest.raises(TraceError) as info:
        trace_model(loaded)
    message = str(info.value)
    assert message.startswith("lin.py:model: internal error in gradlint's hooks tracer: AttributeError: ")
    assert "(at gradlint/trace/shapes.py:" in message and "this is a bug in gradlint, please report it" in message


def test_an_internal_error_in_one_target_leaves_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradlint.api as api

    write(tmp_path, "a.py", "from torch import nn\nmodel = nn.Linear(3, 2)\n")
    write(tmp_path, "b.py", "from torch import nn\nmodel = nn.Linear(3, 2)\n")
    real = api.estimate

    def estimate(graph, thresholds, *rest):  # type: ignore[no-untyped-def]
        if graph.target.startswith("a.py"):
            raise KeyError("boom")
        return real(graph, thresholds, *rest)

    monkeypatch.setattr(api, "estimate", estimate)
    report = lint_paths(["a.py", "b.py"], LintOptions())
    assert [m.graph.target for m in report.models] == ["b.py:model"]
    [error] = report.errors
    assert error.message.startswith("a.py:model: internal error while estimating gradient scales: KeyError: 'boom'")


def test_bad_expression_in_the_target_is_a_load_error(tmp_path: Path) -> None:
    write(tmp_path, "lin.py", "from torch import nn\nmodel = nn.Linear(3, 2)\n")
    with pytest.raises(LoadError, match=r"^lin\.py:model\(: bad model expression"):
        load_target(TargetSpec("lin.py", "model("))


def test_a_missing_forward_argument_is_inputs_that_do_not_fit(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rnn.py",
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(4, 4)

            def forward(self, x, hidden):
                return self.rnn(x, hidden)

        EXAMPLE_INPUTS = (torch.randn(32, 8, 4),)  # the hidden state is missing
        """,
    )
    [loaded] = load_target(TargetSpec("rnn.py"))
    for method in ("fx", "hooks"):
        with pytest.raises(InputError) as info:
            trace_model(loaded, (method,))
        message = str(info.value)
        assert message.startswith(
            "rnn.py:Net: the example inputs ((32, 8, 4) float32; EXAMPLE_INPUTS in rnn.py) do not fit the model: "
        ), method
        assert "do not fit the model" in message and "hidden" in message, method
