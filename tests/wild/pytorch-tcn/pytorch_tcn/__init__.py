# gradlint wild corpus: file pytorch_tcn/__init__.py of the PyPI distribution pytorch-tcn==1.2.3, copied unmodified below this header.
# Source: https://pypi.org/project/pytorch-tcn/1.2.3/ (upstream https://github.com/paul-krug/pytorch-tcn)
# Licence: MIT; Copyright (c) 2023 Paul Krug. Full text: tests/wild/LICENSES/pytorch-tcn.txt
from pytorch_tcn.tcn import TCN
from pytorch_tcn.conv import TemporalConv1d
from pytorch_tcn.conv import TemporalConvTranspose1d

__version__ = '1.2.3'