# gradlint wild corpus: file mambapy/__init__.py of the PyPI distribution mambapy==1.2.0, copied unmodified below this header.
# Source: https://pypi.org/project/mambapy/1.2.0/ (upstream https://github.com/alxndrTL/mamba.py)
# Licence: MIT; Copyright (c) 2024 Alexandre TL. Full text: tests/wild/LICENSES/mambapy.txt
