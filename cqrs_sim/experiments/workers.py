"""The worker side of :class:`~cqrs_sim.experiments.executors.LocalPool`: a worker process's main loop and its
pipe to the parent, how a worker ends with its parent, and how the pool's children and multiprocessing's
helper processes (forkserver, resource tracker) are ended.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import select
import signal
import threading
import time
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterator, Optional


#: exit status of a worker that found itself re-running the parent's unguarded main script
IMPORTING_MAIN_EXIT = 86
UNGUARDED_MAIN = ("the worker processes re-ran this script's top level, which starts them again: "
                  "wrap the call in `if __name__ == \"__main__\":` or pass jobs=1")
_POLL = 0.5  #: longest wait, in seconds, on anything that another process would have to end
_HELPER_EXIT = 10.0  #: seconds a helper process (forkserver, resource tracker) gets to exit before it is killed
_connection: Optional[Connection] = None  #: in a worker: its pipe to the parent
_registered: list[bool] = []  #: whether stop_helper_processes is registered to run at exit


def worker_progress() -> Optional[Callable[[int, float], None]]:
    """In a pool worker: a function reporting (task, fraction done) to the parent; elsewhere None."""
    connection = _connection
    if connection is None:
        return None
    return lambda task, fraction: connection.send(("progress", task, fraction))


def _exit_if_importing_main() -> None:
    """In a process that is still importing its parent's main script (multiprocessing's bootstrap), exit quietly.

    That script's top level is starting a pool unguarded: starting one here
    would start workers forever. The parent sees this exit status and says so.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        os._exit(IMPORTING_MAIN_EXIT)


def _watch_parent(parent_pid: int) -> None:
    """Exit this worker the moment the parent process ends (a daemon thread; pidfd on Linux, else polling)."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(parent_pid)
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):
            while True:
                time.sleep(_POLL)
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    os._exit(1)
                except PermissionError:
                    pass
        select.select([fd], [], [])  # readable once the parent has ended
        os._exit(1)

    threading.Thread(target=watch, name="parent watch", daemon=True).start()


def _worker_main(connection: Connection, parent_pid: int) -> None:
    global _connection
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _watch_parent(parent_pid)
    _connection = connection
    try:
        connection.send(("ready",))
    except OSError:
        return  # the parent already closed the pool
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the pool
        if message is None:
            return
        task, fn, args, kwargs = message
        try:
            reply = ("done", task, fn(*args, **kwargs))
        except BaseException as exc:  # the parent's future raises it
            reply = ("failed", task, exc)
        try:
            connection.send(reply)
        except Exception as exc:  # a result or an exception that does not pickle
            connection.send(("failed", task, RuntimeError(f"task {task}: cannot send its outcome: {exc!r}")))


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started in here begin with SIGINT ignored (an ignored signal stays ignored across exec).

    So Ctrl-C to the process group while they import (the forkserver's
    preload takes seconds) prints no KeyboardInterrupt traceback from them;
    the parent decides what it means. Meanwhile SIGINT is blocked in the
    parent, so one sent to it waits for the end of this block, not lost.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    masked = hasattr(signal, "pthread_sigmask")
    if masked:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler if handler is not None else signal.SIG_DFL)
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _end_child(pid: Optional[int], alive_fd: Optional[int]) -> None:
    """Close ``alive_fd`` (the pipe whose end tells a multiprocessing helper to exit), then reap child ``pid``:
    waited for up to ``_HELPER_EXIT`` seconds (a forkserver still importing its preload takes a while to
    notice), then killed."""
    if alive_fd is not None:
        try:
            os.close(alive_fd)
        except OSError:
            pass
    if pid is None:
        return
    end = time.monotonic() + _HELPER_EXIT
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > end:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.01)
    except ChildProcessError:
        pass  # not our child (started by a parent process), or already reaped


def stop_helper_processes() -> None:
    """Stop multiprocessing's forkserver and resource tracker, if this process started them, and wait until
    they have exited (run at exit once a pool has started; a later pool would start them again).

    multiprocessing stops them only by letting them notice, after the
    process has exited, that its end of a pipe closed; this does the same
    through their private state (as CPython's own tests do), then reaps them.
    """
    server = multiprocessing.forkserver._forkserver  # type: ignore[attr-defined]
    with server._lock:
        pid, fd = server._forkserver_pid, server._forkserver_alive_fd
        server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None
    _end_child(pid, fd)
    tracker = multiprocessing.resource_tracker._resource_tracker  # type: ignore[attr-defined]
    with tracker._lock:
        pid, fd = tracker._pid, tracker._fd
        tracker._pid = tracker._fd = None
    _end_child(pid, fd)


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["cqrs_sim"])
        return context
    return multiprocessing.get_context("spawn")


def _stop_helpers_at_exit() -> None:
    if not _registered:
        _registered.append(True)
        atexit.register(stop_helper_processes)


class _Worker:
    __slots__ = ("process", "connection", "ready", "task")

    def __init__(self, process: Any, connection: Connection):
        self.process = process
        self.connection = connection
        self.ready = False
        self.task: Optional[int] = None  #: the task it is running


def _send(worker: _Worker, message: Any) -> bool:
    try:
        worker.connection.send(message)
        return True
    except (OSError, EOFError):
        return False
