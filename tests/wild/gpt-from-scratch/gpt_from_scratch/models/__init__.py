# gradlint wild corpus: file gpt_from_scratch/models/__init__.py of the PyPI distribution gpt-from-scratch==1.1, copied unmodified below this header.
# Source: https://pypi.org/project/gpt-from-scratch/1.1/ (upstream https://pypi.org/project/gpt-from-scratch/1.1/)
# Licence: MIT; Copyright (c) the gpt-from-scratch author (the wheel declares MIT in its metadata, names no holder and ships no licence file). Full text: tests/wild/LICENSES/gpt-from-scratch.txt
from .gpt import GPT
from .utils import GPTConfig