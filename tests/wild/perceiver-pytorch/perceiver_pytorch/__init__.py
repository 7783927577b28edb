# gradlint wild corpus: file perceiver_pytorch/__init__.py of the PyPI distribution perceiver-pytorch==0.11.0, copied unmodified below this header.
# Source: https://pypi.org/project/perceiver-pytorch/0.11.0/ (upstream https://codeberg.org/lucidrains/perceiver-pytorch)
# Licence: MIT; Copyright (c) 2021 Phil Wang. Full text: tests/wild/LICENSES/perceiver-pytorch.txt
from perceiver_pytorch.perceiver_io import PerceiverIO, PerceiverLM
from perceiver_pytorch.perceiver_pytorch import Perceiver, PerceiverBlock

__all__ = [
    'Perceiver',
    'PerceiverBlock',
    'PerceiverIO',
    'PerceiverLM'
]
