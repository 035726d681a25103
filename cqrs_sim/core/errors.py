"""Named exceptions users can meet."""

from __future__ import annotations

from dataclasses import dataclass

from .safetext import printable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located in its file."""

    file: str
    line: int  #: 1-based; 0 when there is no position (a --set, a missing file)
    col: int  #: 1-based
    path: str  #: dotted key path, or "(file)" / "(root)"
    message: str

    def __str__(self) -> str:
        """One line, whatever the input held (keys with newlines, multi-line parser messages, control characters)."""
        where = f"{self.file}:{self.line}:{self.col}" if self.line > 0 else self.file
        message = " ".join(self.message.split())
        return printable(f"{where}: {self.path}: {message}")


class ScenarioError(ValueError):
    """A scenario that cannot be simulated; holds every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
