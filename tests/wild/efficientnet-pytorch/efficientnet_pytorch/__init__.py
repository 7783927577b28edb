# gradlint wild corpus: file efficientnet_pytorch/__init__.py of the PyPI distribution efficientnet-pytorch==0.7.1, copied unmodified below this header.
# Source: https://pypi.org/project/efficientnet-pytorch/0.7.1/ (upstream https://github.com/lukemelas/EfficientNet-PyTorch)
# Licence: Apache-2.0; Copyright (c) Luke Melas-Kyriazi (package author 'Luke'; the sdist ships no licence file, the Apache-2.0 text is the standard one). Full text: tests/wild/LICENSES/efficientnet-pytorch.txt
__version__ = "0.7.1"
from .model import EfficientNet, VALID_MODELS
from .utils import (
    GlobalParams,
    BlockArgs,
    BlockDecoder,
    efficientnet,
    get_model_params,
)
