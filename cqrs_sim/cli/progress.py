"""Progress on the terminal: a bar on a terminal, plain lines elsewhere, and the file tests wait for once simulating has begun."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional
from .common import _on_first_call, err



if TYPE_CHECKING:
    from rich.progress import Progress


progress_lines = _on_first_call("..experiments.simulate", "progress_lines")


READY_FILE = "CQRS_SIM_READY_FILE"  #: if set, a file touched once simulating has begun (tests wait for it)


def _with_ready(progress: Optional[Callable] = None) -> Optional[Callable]:
    """``progress``, touching $CQRS_SIM_READY_FILE at its first call (simulating has begun)."""
    path = os.environ.get(READY_FILE)
    if not path:
        return progress

    def tick(*args) -> None:
        if not os.path.exists(path):
            Path(path).touch()
        if progress is not None:
            progress(*args)

    return tick


def _progress_bar() -> Progress:
    from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=True)
