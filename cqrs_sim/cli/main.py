"""The console-script entry: every command, run with the signal handling of :mod:`.signals`."""

from __future__ import annotations

import atexit
import os
import signal
import sys

import typer

from ..core.redact import guard_standard_streams
from ..core.safetext import printable
from . import signals
from .common import app
from .signals import _on_signal, _received, _saved


def main() -> int:
    """The console-script entry: SIGINT or SIGTERM, whenever it arrives, ends the command with 130 or 143 and one line.

    The handler raises :class:`Interrupted` once, wherever the main thread is,
    so cleanup runs (worker processes killed, staging directories removed);
    later signals are ignored while it does, and a timer ends the process if
    cleanup ever takes longer than ``_HARD_EXIT_AFTER``. After a signal it
    does not return: it exits with 128 + the signal's number.
    """
    guard_standard_streams()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    try:
        try:
            code = _invoke()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        signals._raising = False  # a late signal is only recorded now
    except KeyboardInterrupt:
        signals._raising = False
        code = 130
    if _received:
        name = signal.Signals(_received[0]).name
        if _saved:
            typer.echo(printable(f"interrupted ({name}) after the results were saved: {_saved[0]}/ is complete, but its "
                                 f"plots or report may be missing or partial (draw them with `cqrs-sim plot {_saved[0]}`)"),
                       err=True)
        else:
            typer.echo(f"interrupted ({name}): stopped; no partial result directory was left", err=True)
        _exit_now(128 + _received[0])
    return code


def _invoke() -> int:
    """Run the command; a usage error (an unknown option or command, a missing argument) is one line, exit 2.

    Click's own handling would draw a box of several lines; here the message is one ``error:`` line naming the
    command's ``--help``, like every other bad input."""
    import typer.core

    errors = (getattr(typer.core, "_click", None) or getattr(typer.core, "click")).exceptions  # click, as typer has it
    try:
        returned = app(standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, getattr(errors, "Abort", typer.Abort)):  # click's form of Ctrl-C (KeyboardInterrupt) outside standalone mode
        raise KeyboardInterrupt from None
    except errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "cqrs-sim"
        typer.echo(printable(f"error: {where}: {_sentence(exc.format_message())} (see '{where} --help')"), err=True)
        return 2
    except errors.ClickException as exc:
        typer.echo(printable(f"error: {_sentence(exc.format_message())}"), err=True)
        return exc.exit_code
    return returned if isinstance(returned, int) else 0


def _sentence(message: str) -> str:
    """Click's message on one line, starting in lower case like every other error line."""
    text = " ".join(message.split()).rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _exit_now(code: int) -> None:
    """Exit once an interrupt's cleanup has run, without tearing down every imported module (seconds under load)."""
    atexit._run_exitfuncs()  # what libraries registered (multiprocessing's finalizers, logging) still runs
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
