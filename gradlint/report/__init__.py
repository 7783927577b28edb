"""The report stage: formatters that turn a :class:`~gradlint.types.Report` into output.

Formatters only format: they compute nothing about gradients and never print on their own.
"""

from gradlint.report.github import format_github
from gradlint.report.json_format import SCHEMA_VERSION, format_json, load_schema, report_to_dict
from gradlint.report.paths import display_path
from gradlint.report.sarif import format_sarif, sarif_log
from gradlint.report.text import TextReporter, statistics_lines, statistics_rows

__all__ = [
    "SCHEMA_VERSION",
    "TextReporter",
    "display_path",
    "format_github",
    "format_json",
    "format_sarif",
    "load_schema",
    "report_to_dict",
    "sarif_log",
    "statistics_lines",
    "statistics_rows",
]
