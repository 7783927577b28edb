# gradlint wild corpus: file unet/__init__.py of the PyPI distribution unet==0.8.1, copied unmodified below this header.
# Source: https://pypi.org/project/unet/0.8.1/ (upstream https://github.com/fepegar/unet)
# Licence: MIT; Copyright (c) 2019 Fernando Perez-Garcia. Full text: tests/wild/LICENSES/unet.txt
__version__ = "0.7.9"

from .unet import UNet, UNet1D, UNet2D, UNet3D

__all__ = [
    "UNet",
    "UNet1D",
    "UNet2D",
    "UNet3D",
]
