"""Running a scenario: every replication, every architecture, on common random numbers.

Each (replication, architecture) pair is an independent task: it draws its
workload from the replication's named streams, so it gives the same result
in any process and in any order. ``simulate`` runs the tasks one after
another (``jobs=1``), on a local process pool (``jobs=N``), or on any
``concurrent.futures.Executor`` passed in, and assembles the results in task
order, so every way of running gives identical tables.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any, Callable, Optional

import pandas as pd

from .metrics import replication_metrics
from .model import RunRecord, run_architecture
from .results import Results, build_manifest
from .scenario import Scenario
from .visibility import replication_times, visibility_table
from .tables import replicas_table, requests_table, timeseries_table, writes_table
from .workload import write_workload

#: progress(done, total, label): done and total count simulated architecture-runs (fractions allowed)
ProgressFn = Callable[[float, int, str], None]

_progress_queue: Any = None  # set in pool workers by _init_worker


def _init_worker(progress_queue: Any) -> None:
    """In a pool worker: report progress through the queue; leave Ctrl-C to the parent, which stops the pool."""
    global _progress_queue
    _progress_queue = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_task(scenario: Scenario, architecture: str, replication: int, task: int = 0,
             tick: Optional[Callable[[float], None]] = None) -> tuple[dict, dict[str, pd.DataFrame], RunRecord]:
    """One architecture of one replication: its metrics row, its small tables, and its raw record."""
    if tick is None and _progress_queue is not None:
        progress_queue = _progress_queue
        tick = lambda fraction: progress_queue.put((task, fraction))  # noqa: E731
    record = run_architecture(scenario, architecture, replication, write_workload(scenario, replication), tick)
    row = {"architecture": architecture, "replication": replication, **replication_metrics(record, scenario),
           "stopped_at": record.stopped_at if record.stopped_at is not None else float("nan")}
    tables = {
        "writes": writes_table(record),
        "replicas": replicas_table(record),
        "timeseries": timeseries_table(record, scenario.duration, scenario.bin_width),
    }
    return row, tables, record


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def simulate(scenario: Scenario, progress: Optional[ProgressFn] = None, jobs: int = 1,
             executor: Optional[Executor] = None) -> Results:
    """Simulate every architecture in every replication; returns all tables and metrics.

    Within a replication both architectures run on one drawn workload (the
    same read and write arrivals, handler, query and apply times), so their
    difference is a paired comparison. ``jobs`` > 1 runs the tasks on that
    many local processes (in a script, call it under ``if __name__ ==
    "__main__":``); ``executor`` runs them on one you provide. Results do
    not depend on either.
    """
    began = time.perf_counter()
    tasks = [(replication, arch) for replication in range(scenario.replications) for arch in scenario.architectures]
    labels = [f"{arch} replication {rep + 1}/{scenario.replications}" for rep, arch in tasks]
    total = len(tasks)
    if executor is None and (jobs <= 1 or total == 1):
        outputs = []
        for k, (replication, arch) in enumerate(tasks):
            tick = None
            if progress is not None:
                progress(k, total, labels[k])
                tick = (lambda base, label: (lambda f: progress(base + f, total, label)))(k, labels[k])
            outputs.append(run_task(scenario, arch, replication, k, tick))
    else:
        outputs = _run_parallel(scenario, tasks, labels, progress, jobs, executor)
    if progress is not None:
        progress(total, total, "done")
    rows = [row for row, _, _ in outputs]
    frames = {name: pd.concat([tables[name] for _, tables, _ in outputs], ignore_index=True)
              for name in ("writes", "replicas", "timeseries")}
    records = [record for _, _, record in outputs]
    del outputs
    requests = requests_table(records)
    del records
    per_replication = pd.DataFrame(rows)
    times = replication_times(requests, frames["writes"])
    per_replication = per_replication.merge(times, on=["architecture", "replication"], how="left")
    visibility = visibility_table(requests, frames["writes"])
    manifest = build_manifest(scenario, wall_time=time.perf_counter() - began)
    manifest["jobs"] = 1 if executor is None and jobs <= 1 else (jobs if executor is None else type(executor).__name__)
    stopped = per_replication[per_replication["stopped_at"].notna()]
    manifest["incomplete"] = [
        {"architecture": row.architecture, "replication": int(row.replication), "stopped_at": float(row.stopped_at),
         "reason": f"more than limits.max_in_system = {scenario.limits.max_in_system:,} reads in the system"}
        for row in stopped.itertuples()]
    return Results(scenario=scenario, per_replication=per_replication, manifest=manifest, requests=requests,
                   visibility=visibility, **frames)


def _run_parallel(scenario: Scenario, tasks: list[tuple[int, str]], labels: list[str], progress: Optional[ProgressFn],
                  jobs: int, executor: Optional[Executor]) -> list:
    """Run the tasks on a local process pool (terminated at once on error or interrupt) or on ``executor``."""
    fractions = [0.0] * len(tasks)

    def report(queue_: Any) -> None:
        while queue_ is not None:
            try:
                task, fraction = queue_.get_nowait()
            except queue_module.Empty:
                break
            fractions[task] = max(fractions[task], min(fraction, 0.99))
        if progress is not None:
            running = [labels[k] for k, f in enumerate(fractions) if 0 < f < 1]
            progress(sum(fractions), len(tasks), ", ".join(running[:2]) or "starting")

    if executor is not None:
        futures: list[Future] = [executor.submit(run_task, scenario, arch, rep, k) for k, (rep, arch) in enumerate(tasks)]
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # raise a task's error here
                    fractions[futures.index(future)] = 1.0
                report(None)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return [future.result() for future in futures]

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["cqrs_sim"])
    progress_queue = context.Queue() if progress is not None else None
    pool = context.Pool(min(jobs, len(tasks)), initializer=_init_worker, initargs=(progress_queue,))
    try:
        handles = [pool.apply_async(run_task, (scenario, arch, rep, k)) for k, (rep, arch) in enumerate(tasks)]
        while not all(handle.ready() for handle in handles):
            for k, handle in enumerate(handles):
                if handle.ready():
                    handle.get()  # raise a task's error here
                    fractions[k] = 1.0
            report(progress_queue)
            waiting = [handle for handle in handles if not handle.ready()]
            if waiting:
                waiting[0].wait(0.25)
        outputs = [handle.get() for handle in handles]
        pool.close()
        return outputs
    except BaseException:
        pool.terminate()  # stop running tasks now, not when they finish
        raise
    finally:
        pool.join()
        if progress_queue is not None:
            progress_queue.close()
