"""A one-line spinner on stderr while slow stages run (importing, tracing, probing).

Shown only when stderr is a terminal (and ``TERM`` is not ``dumb``); otherwise every call is a
no-op, so logs, pipes and CI stay clean. The spinner is transient: it erases itself, and it is
paused while the report writes a model to the same terminal, so the two never interleave.
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console
from rich.status import Status
from rich.text import Text


def progress_enabled(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class Progress:
    """``update(message)`` shows or updates the spinner; ``pause()`` erases it until the next update."""

    def __init__(self, stream: IO[str], *, enabled: bool | None = None, color: bool = True) -> None:
        self.enabled = progress_enabled(stream) if enabled is None else enabled
        self._console = Console(file=stream, color_system="auto" if color else None, highlight=False, markup=False)
        self._status: Status | None = None

    def update(self, message: str) -> None:
        if not self.enabled:
            return
        if self._status is None:
            self._status = Status(Text(message), console=self._console, spinner="dots")
            self._status.start()
        else:
            self._status.update(Text(message))  # Text: a path is never read as markup

    def pause(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self.pause()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
