"""Where tasks run: a local process pool, or a Dask cluster, behind one ``concurrent.futures.Executor``.

:class:`LocalPool` wraps ``multiprocessing.Pool`` because, unlike
``ProcessPoolExecutor``, it can be terminated at once: on Ctrl-C a run stops
in about a second instead of waiting for every running task. Workers ignore
SIGINT (the parent decides) and report progress through a queue.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
import threading
from concurrent.futures import Executor, Future
from typing import Any, Callable, Optional

from .errors import Problem, ScenarioError

_progress_queue: Any = None  #: set in pool workers


def worker_progress() -> Optional[Callable[[int, float], None]]:
    """In a worker: a function reporting (task, fraction done) to the parent, if it listens."""
    queue_ = _progress_queue
    if queue_ is None:
        return None
    return lambda task, fraction: queue_.put((task, fraction))


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class LocalPool(Executor):
    """A process pool as a concurrent.futures Executor that ``shutdown(cancel_futures=True)`` terminates."""

    def __init__(self, jobs: int, progress: bool = False):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload(["cqrs_sim"])
        self.progress_queue = context.Queue() if progress else None
        self._pool = context.Pool(jobs, initializer=_init_worker, initargs=(self.progress_queue,))
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a closed pool")
            self._pool.apply_async(fn, args, kwargs, callback=future.set_result, error_callback=future.set_exception)
        return future

    def progress_updates(self) -> list[tuple[int, float]]:
        updates = []
        while self.progress_queue is not None:
            try:
                updates.append(self.progress_queue.get_nowait())
            except queue_module.Empty:
                break
        return updates

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if cancel_futures:
            self._pool.terminate()
        else:
            self._pool.close()
        if wait or cancel_futures:
            self._pool.join()
        if self.progress_queue is not None:
            self.progress_queue.close()


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
