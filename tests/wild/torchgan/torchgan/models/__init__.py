# gradlint wild corpus: file torchgan/models/__init__.py of the PyPI distribution torchgan==0.1.0, copied unmodified below this header.
# Source: https://pypi.org/project/torchgan/0.1.0/ (upstream https://github.com/torchgan/torchgan)
# Licence: MIT; Copyright (c) 2018 - Present Avik Pal & Aniket Das. Full text: tests/wild/LICENSES/torchgan.txt
from .acgan import *
from .autoencoding import *
from .conditional import *
from .dcgan import *
from .infogan import *
from .model import *
