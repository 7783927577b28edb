# gradlint wild corpus: file dit_ml/__init__.py of the PyPI distribution dit-ml==0.2.10, copied unmodified below this header.
# Source: https://pypi.org/project/dit-ml/0.2.10/ (upstream https://github.com/Forbu/dit_ml)
# Licence: Apache-2.0; Copyright the dit_ml authors (https://github.com/Forbu/dit_ml; the wheel names no holder). Full text: tests/wild/LICENSES/dit-ml.txt
