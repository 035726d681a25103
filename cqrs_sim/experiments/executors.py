"""Where tasks run: a local process pool, or a Dask cluster, behind one ``concurrent.futures.Executor``.

:class:`LocalPool` owns its worker processes and talks to each over a pipe of
its own: no lock, queue or semaphore is shared between processes, so a worker
that dies (a signal to the process group, the OOM killer) cannot leave the
parent waiting on something only it would have released. One dispatcher
thread in the parent waits on every pipe and every worker's exit, always with
a timeout; a worker that dies fails the pool at once and every waiting
future with it. ``shutdown(cancel_futures=True)`` kills the workers, so an
interrupted run stops in about a second instead of when its tasks end.

Workers ignore SIGINT (the parent decides what an interrupt means) and end by
themselves as soon as the parent process ends, however it ends, so a killed
parent leaves no worker behind; once they are gone, multiprocessing's
forkserver and resource tracker end too. A process that exits normally
(or by the CLI's interrupt path, which runs the exit handlers) does not
leave that to chance: :func:`stop_helper_processes`, registered to run at
exit when the first pool starts, stops both and waits for them, so no child
of the command outlives it. A script that starts a pool without
an ``if __name__ == "__main__":`` guard makes every worker re-run it; the
workers notice and exit at once, and the parent raises one clear error.
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
from collections import deque
from contextlib import contextmanager, nullcontext
from concurrent.futures import Executor, Future
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator, Optional

from ..core.errors import Problem, ScenarioError

#: exit status of a worker that found itself re-running the parent's unguarded main script
IMPORTING_MAIN_EXIT = 86
UNGUARDED_MAIN = ("the worker processes re-ran this script's top level, which starts them again: "
                  "wrap the call in `if __name__ == \"__main__\":` or pass jobs=1")
_POLL = 0.5  #: longest wait, in seconds, on anything that another process would have to end
_HELPER_EXIT = 10.0  #: seconds a helper process (forkserver, resource tracker) gets to exit before it is killed
_connection: Optional[Connection] = None  #: in a worker: its pipe to the parent


class WorkerDied(RuntimeError):
    """A worker process ended while the pool still needed it."""


def worker_progress() -> Optional[Callable[[int, float], None]]:
    """In a pool worker: a function reporting (task, fraction done) to the parent; elsewhere None."""
    connection = _connection
    if connection is None:
        return None
    return lambda task, fraction: connection.send(("progress", task, fraction))


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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


_registered: list[bool] = []  #: whether stop_helper_processes is registered to run at exit


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


class LocalPool(Executor):
    """A process pool as a concurrent.futures Executor that ``shutdown(cancel_futures=True)`` kills at once."""

    def __init__(self, jobs: int, progress: bool = False):
        _exit_if_importing_main()
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, Future, Callable, tuple, dict]] = deque()
        self._running: dict[int, Future] = {}
        self._updates: Optional[list[tuple[int, float]]] = [] if progress else None
        self._broken: Optional[BaseException] = None
        self._closing = False  #: no more submissions; workers stop once the queue is done
        self._killed = False
        self._next_task = 0
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._workers: list[_Worker] = []
        context = _context()
        forkserver = context.get_start_method() == "forkserver"
        _stop_helpers_at_exit()
        try:
            if forkserver:  # its workers are its children: they start with SIGINT ignored too
                # The resource tracker first, outside the block below: starting it unblocks SIGINT in this
                # process, which inside the block (SIGINT ignored) would lose a Ctrl-C arriving then.
                multiprocessing.resource_tracker.ensure_running()
                with _children_ignore_sigint():
                    multiprocessing.forkserver.ensure_running()
            for k in range(jobs):
                parent_end, child_end = context.Pipe()
                process = context.Process(target=_worker_main, args=(child_end, os.getpid()),
                                          name=f"cqrs-sim worker {k + 1}", daemon=True)
                self._workers.append(_Worker(process, parent_end))
                with nullcontext() if forkserver else _children_ignore_sigint():
                    process.start()
                child_end.close()
        except BaseException:
            self._kill()
            for worker in self._workers:
                worker.connection.close()  # a worker started unbeknown to us reads EOF and ends
            raise
        self._thread = threading.Thread(target=self._dispatch, name="cqrs-sim pool", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------------------------

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._broken is not None:
                raise WorkerDied(str(self._broken))
            if self._closing:
                raise RuntimeError("cannot submit to a closed pool")
            self._queue.append((self._next_task, future, fn, args, kwargs))
            self._next_task += 1
        self._wake()
        return future

    def progress_updates(self) -> list[tuple[int, float]]:
        """(task, fraction) reports received since the last call; task numbers are those passed to run_task."""
        with self._lock:
            if not self._updates:
                return []
            updates, self._updates = self._updates, []
        return updates

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closing = True
            if cancel_futures:
                self._cancel_queued()
        self._wake()
        if cancel_futures:
            self._kill()
        if wait or cancel_futures:
            while self._thread.is_alive():
                self._thread.join(_POLL)
            for worker in self._workers:  # idle workers end when their pipe closes
                worker.process.join(_POLL * 10)
            self._kill()
            for worker in self._workers:  # those killed: gone before shutdown returns
                if worker.process.pid is not None:
                    worker.process.join(_POLL * 10)
            self._wake_w.close()
            self._wake_r.close()

    # -- the dispatcher thread -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            while self._step():
                pass
        except BaseException as exc:  # pragma: no cover - a bug here must not leave waiters hanging
            self._fail(WorkerDied(f"the pool's dispatcher failed: {exc!r}"))
            raise
        finally:
            for worker in self._workers:  # only this thread uses them; an idle worker reads EOF and ends
                worker.connection.close()

    def _step(self) -> bool:
        with self._lock:
            if self._killed or self._broken is not None:
                return False
            if self._closing and not self._queue and not self._running:
                return False
            for worker in self._workers:
                if not (worker.ready and worker.task is None and self._queue):
                    continue
                task, future, fn, args, kwargs = self._queue.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                worker.task = task
                self._running[task] = future
                if not _send(worker, (task, fn, args, kwargs)):
                    break  # it died: its sentinel says so below
        listening = [w.connection for w in self._workers if not w.connection.closed]
        sentinels = {w.process.sentinel: w for w in self._workers}
        for ready in wait([self._wake_r, *listening, *sentinels], timeout=_POLL):
            if ready is self._wake_r:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            elif ready in sentinels:
                self._worker_ended(sentinels[ready])
            else:
                self._receive(next(w for w in self._workers if w.connection is ready))
        return True

    def _receive(self, worker: _Worker) -> None:
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):
            self._worker_ended(worker)
            return
        kind = message[0]
        future = None
        with self._lock:
            if kind == "ready":
                worker.ready = True
            elif kind == "progress":
                if self._updates is not None:
                    self._updates.append((message[1], message[2]))
            else:
                future = self._running.pop(message[1], None)  # None if the pool was killed meanwhile
                worker.task = None
        if future is not None:  # outside the lock: a done-callback may submit
            if kind == "done":
                future.set_result(message[2])
            else:
                future.set_exception(message[2])

    def _worker_ended(self, worker: _Worker) -> None:
        with self._lock:
            if self._killed or (self._closing and not self._running and not self._queue):
                return
        worker.process.join(_POLL)
        code = worker.process.exitcode
        if code == IMPORTING_MAIN_EXIT:
            error = WorkerDied(UNGUARDED_MAIN)
        else:
            how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            when = "while starting" if not worker.ready else "while running a task"
            error = WorkerDied(f"{worker.process.name} ended {when} ({how})")
        self._fail(error)

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self._broken is None:
                self._broken = error
            failed = [item[1] for item in self._queue] + list(self._running.values())
            self._queue.clear()
            self._running = {}
        for future in failed:
            if future.cancelled():
                future.set_running_or_notify_cancel()
            elif not future.done():
                future.set_exception(error)
        self._kill()

    # -- shared ---------------------------------------------------------------------------------------------

    def _cancel_queued(self) -> None:
        """With the lock held: every queued task's future is cancelled, and its waiters told so."""
        while self._queue:
            future = self._queue.popleft()[1]
            future.cancel()
            future.set_running_or_notify_cancel()

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"!")
        except OSError:
            pass

    def _kill(self) -> None:
        """Kill every worker now (safe from any thread, any number of times); fail what they were running."""
        with self._lock:
            self._killed = True
            running, self._running = self._running, {}
        for worker in self._workers:
            if worker.process.pid is not None and worker.process.exitcode is None:
                try:
                    worker.process.kill()
                except OSError:
                    pass
        for future in running.values():
            if not future.done():
                future.set_exception(WorkerDied("the pool was shut down while this task ran"))
        self._wake()


def _send(worker: _Worker, message: Any) -> bool:
    try:
        worker.connection.send(message)
        return True
    except (OSError, EOFError):
        return False


def dask_executor(scheduler: str, jobs: Optional[int] = None) -> tuple[Executor, Callable[[], None]]:
    """An executor on a Dask cluster: ``tcp://HOST:PORT`` of a running scheduler, or ``local`` for a LocalCluster.

    Returns the executor and a function that closes the client (and the cluster it started).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError([Problem("--scheduler", 0, 0, "(scheduler)",
                                     "dask.distributed is not installed: pip install 'cqrs-sim[dask]'")]) from None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ScenarioError([Problem("--scheduler", 0, 0, "(scheduler)", f"cannot reach {scheduler}: {exc}")]) from None
        close = client.close
    return client.get_executor(pure=False), close
