"""SIGINT and SIGTERM: raised once as :class:`Interrupted` in the main thread so that cleanup runs, and bounded in time."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path




_HARD_EXIT_AFTER = 20.0  #: seconds of cleanup after a signal before the process exits regardless


_received: list[int] = []  #: the first SIGINT or SIGTERM received, if any


_raising = True  #: False once the command has finished: a late signal is only recorded


_saved: list[Path] = []  #: result directories already complete when a signal came (said in its message)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread so that every ``finally`` and ``except`` cleans up."""


def _on_signal(signum: int, _frame) -> None:
    if _received:
        return  # the first signal's cleanup is under way, and bounded in time
    _received.append(signum)
    timer = threading.Timer(_HARD_EXIT_AFTER, _hard_exit, args=(signum,))
    timer.daemon = True
    timer.start()
    if _raising:
        raise Interrupted(signal.Signals(signum).name)


def _hard_exit(signum: int) -> None:
    os.write(2, f"interrupted ({signal.Signals(signum).name}): cleanup took over {_HARD_EXIT_AFTER:g} s; exiting\n".encode())
    os._exit(128 + signum)
