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

import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import threading
from collections import deque
from contextlib import nullcontext
from concurrent.futures import Executor, Future
from multiprocessing.connection import wait
from typing import Any, Callable, Optional

from ..core.errors import Problem, ScenarioError
from .workers import IMPORTING_MAIN_EXIT, UNGUARDED_MAIN, _POLL, _Worker, _children_ignore_sigint, _context, _exit_if_importing_main, _send, _stop_helpers_at_exit, _worker_main


class WorkerDied(RuntimeError):
    """A worker process ended while the pool still needed it."""


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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
