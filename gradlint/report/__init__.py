"""The report stage: formatters that turn a :class:`~gradlint.types.Report` into output.

Formatters only format: they compute nothing about gradients and never print on their own.
"""

from gradlint.report.json_format import SCHEMA_VERSION, format_json, load_schema, report_to_dict
from gradlint.report.paths import display_path
from gradlint.report.text import TextReporter

__all__ = ["SCHEMA_VERSION", "TextReporter", "display_path", "format_json", "load_schema", "report_to_dict"]
