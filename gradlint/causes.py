"""What an exception raised by the user's code means, in one phrase: the causes worth their own message.

Shared by the load stage (importing the file, building the model) and the trace stage (running its
forward); each recogniser reads only the exception's type and text, which is all torch gives.
"""

from __future__ import annotations

import re

_CUDA_MISSING = re.compile(
    r"Torch not compiled with CUDA enabled|Found no NVIDIA driver|No CUDA GPUs are available"
    r"|CUDA driver initialization failed|no CUDA-capable device|Attempting to deserialize object on a CUDA device"
    r"|The NVIDIA driver on your system is too old",
    re.IGNORECASE,
)
_TORCHVISION_OPS = re.compile(r"operator torchvision::\w+ does not exist")
_DTYPE_CLASH = re.compile(
    r"expected (?:scalar type|both vectors to have same dtype|m1 and m2 to have the same dtype)"
    r"|must have the same dtype|should be the same|Input type \(.*\) and (?:weight|bias) type"
    r"|expected .* to have the same dtype|found dtype \w+ but expected \w+|Expected object of scalar type",
    re.IGNORECASE,
)
_SHAPE_ERROR = re.compile(
    r"shape|size|dimension|\bdims?\b|mat1|mat2|channels|expected (?:input|\d)|out of range|index|must match"
    r"|cannot be multiplied|broadcast|unpack|to have \d|non-empty|Expected .*tensor",
    re.IGNORECASE,
)


_ARITY = re.compile(
    r"missing \d+ required (?:positional|keyword-only) argument|Expected positional argument for parameter"
    r"|got an unexpected keyword argument|takes \d+ positional arguments? but \d+ (?:were|was) given"
    r"|got multiple values for argument"
)


def wrong_arguments(exc: BaseException) -> bool:
    """``forward`` was called with arguments it does not take, or without ones it needs."""
    return isinstance(exc, (TypeError, RuntimeError)) and bool(_ARITY.search(str(exc)))


def cuda_missing(exc: BaseException) -> bool:
    """The code asked for CUDA (``.cuda()``, ``device="cuda"``, a CUDA checkpoint) on a machine without it."""
    return bool(_CUDA_MISSING.search(str(exc)))


def torchvision_mismatch(exc: BaseException) -> bool:
    """``import torchvision`` failed because its compiled operators (``nms``) belong to another torch build;
    timm and transformers import torchvision, so the error may sit behind theirs (``__cause__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RuntimeError) and _TORCHVISION_OPS.search(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def dtype_clash(exc: BaseException) -> bool:
    """Two tensors of different dtypes met in one op (float64 inputs into float32 weights, half and float)."""
    return isinstance(exc, (RuntimeError, TypeError, ValueError)) and bool(_DTYPE_CLASH.search(str(exc)))


def shape_error(exc: BaseException) -> bool:
    """A size, shape or index mismatch: the usual sign of inputs of the wrong shape."""
    return isinstance(exc, (RuntimeError, ValueError, IndexError, TypeError)) and bool(_SHAPE_ERROR.search(str(exc)))


TORCHVISION_MISMATCH = (
    "torchvision cannot be imported beside this torch: the installed torchvision was built for another torch "
    "(a CUDA build; its compiled operator torchvision::nms is missing here); install the torchvision release "
    "made for the installed torch from the same index (for a CPU torch: pip install torchvision --index-url "
    "https://download.pytorch.org/whl/cpu), or lint a file that does not import torchvision"
)

CUDA_MISSING = (
    "asks for CUDA, which this machine does not have; build the model on the CPU (a device argument, "
    "or torch.device('cuda' if torch.cuda.is_available() else 'cpu'))"
)
