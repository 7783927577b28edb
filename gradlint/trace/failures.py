"""One-line messages for a forward that failed, naming the real cause.

"The example inputs do not fit the model" is said only for a shape or dtype error, or arguments
``forward`` does not take, before any layer finished (where the inputs meet the model); a dtype clash further in, CUDA asked for on a machine
without it, and other errors of the user's forward each get their own message. A failure inside one
of gradlint's own tracers is an internal error that names the target and how to report it.
Locations are the user's own lines (not installed packages), relative to the working directory.
"""

from __future__ import annotations

import os
import traceback

from gradlint import causes
from gradlint.errors import ISSUE_URL
from gradlint.trace.shapes import ForwardFailure
from gradlint.types import LoadedModel, SourceLocation

_GRADLINT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_MAX_ERROR = 200


def forward_failure_message(loaded: LoadedModel, failure: ForwardFailure) -> str:
    """The message for ``failure`` of ``loaded``'s forward on its example inputs."""
    error = one_line(failure.error)
    where = _layer_text(loaded, failure) + _location_text(failure.location)
    if causes.cuda_missing(failure.error):
        return f"{loaded.target}: the model's forward {causes.CUDA_MISSING} ({error}{where})"
    misfit = (
        causes.shape_error(failure.error) or causes.dtype_clash(failure.error) or causes.wrong_arguments(failure.error)
    )
    if failure.at_inputs and misfit:
        return (
            f"{loaded.target}: the example inputs ({inputs_text(loaded)}) do not fit the model: {error}{where}; "
            "pass --inputs or --input-shape, or define example_inputs()"
        )
    if causes.dtype_clash(failure.error):
        return (
            f"{loaded.target}: dtype clash inside the model: {error}{where}; a layer's weights and its input "
            "have different dtypes (part of the model converted with .double()/.half(), or a tensor made "
            "without dtype=)"
        )
    return (
        f"{loaded.target}: the model's forward raised {error}{where} on the example inputs ({inputs_text(loaded)}); "
        "if those are not what it takes, pass --inputs or define example_inputs()"
    )


def internal_tracer_failure(exc: BaseException) -> str | None:
    """``gradlint/trace/x.py:N`` when ``exc`` was raised by gradlint's own code rather than by the model or
    torch (the deepest frame of its traceback is in gradlint); None otherwise."""
    if type(exc).__module__.startswith("gradlint"):
        return None  # one of the tracers' own refusals (HiddenWeights ...), not a bug
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or not os.path.realpath(frames[-1].filename).startswith(os.path.realpath(_GRADLINT_DIR)):
        return None
    relative = os.path.relpath(os.path.realpath(frames[-1].filename), os.path.dirname(os.path.realpath(_GRADLINT_DIR)))
    return f"{relative}:{frames[-1].lineno}"


def internal_error_text(target: str, method: str, exc: BaseException, where: str) -> str:
    return (
        f"{target}: internal error in gradlint's {method} tracer: {one_line(exc)} (at {where}); this is a bug in "
        f"gradlint, please report it at {ISSUE_URL} with the output of the same command run with --debug"
    )


def inputs_text(loaded: LoadedModel) -> str:
    """``(8, 3, 32, 32) float32; inferred from first layer conv1 (Conv2d)``: the inputs and where they came from."""
    shapes = ", ".join(
        f"{spec.name + ' ' if spec.name else ''}{tuple(spec.shape)} {spec.dtype}" for spec in loaded.inputs
    )
    origins = "; ".join(dict.fromkeys(spec.origin for spec in loaded.inputs if spec.origin))
    return f"{shapes or 'none'}; {origins or 'example inputs'}"


def _layer_text(loaded: LoadedModel, failure: ForwardFailure) -> str:
    if not failure.module:
        return ""
    try:
        module_type = type(loaded.model.get_submodule(failure.module)).__name__
    except AttributeError:
        return f" in layer {failure.module}"
    return f" in layer {failure.module} ({module_type})"


def _location_text(location: SourceLocation | None) -> str:
    return f" at {relative_location(location)}" if location is not None else ""


def relative_location(location: SourceLocation) -> str:
    """``path:line`` with the path relative to the working directory when it is inside it."""
    try:
        relative = os.path.relpath(location.path)
    except ValueError:  # another drive on Windows
        relative = location.path
    path = location.path if relative.startswith("..") else relative
    return f"{path}:{location.line}"


def one_line(exc: BaseException) -> str:
    """``TypeName: first line of the message``, at most 200 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > _MAX_ERROR:
        text = text[: _MAX_ERROR - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
