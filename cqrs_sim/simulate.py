"""Running a scenario: every replication, every architecture, on common random numbers.

Each (replication, architecture) pair is an independent task: it draws its
workload from the replication's named streams, so it gives the same result
in any process and in any order. ``simulate`` runs the tasks one after
another (``jobs=1``), on a local process pool (``jobs=N``), or on any
``concurrent.futures.Executor`` passed in, and assembles the results in task
order, so every way of running gives identical tables.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any, Callable, Optional

import pandas as pd

from .metrics import replication_metrics
from .model import run_architecture
from .results import Results, build_manifest
from .scenario import Scenario
from .executors import LocalPool, worker_progress
from .visibility import run_visibility_times, visibility_from_records
from .tables import replicas_table, requests_table, timeseries_table, writes_table
from .workload import write_workload

#: progress(done, total, label): done and total count simulated architecture-runs (fractions allowed)
ProgressFn = Callable[[float, int, str], None]

def run_task(scenario: Scenario, architecture: str, replication: int, task: int = 0,
             tick: Optional[Callable[[float], None]] = None, keep: bool = True) -> tuple[dict, dict[str, pd.DataFrame], Any]:
    """One architecture of one replication: its metrics row, and (``keep``) its small tables and raw record."""
    if tick is None:
        report = worker_progress()
        if report is not None:
            tick = lambda fraction: report(task, fraction)  # noqa: E731
    record = run_architecture(scenario, architecture, replication, write_workload(scenario, replication), tick)
    row = {"architecture": architecture, "replication": replication, **replication_metrics(record, scenario),
           **run_visibility_times(record),
           "stopped_at": record.stopped_at if record.stopped_at is not None else float("nan")}
    if not keep:
        return row, {}, None
    tables = {
        "writes": writes_table(record),
        "replicas": replicas_table(record),
        "timeseries": timeseries_table(record, scenario.duration, scenario.bin_width),
    }
    return row, tables, record


def simulate(scenario: Scenario, progress: Optional[ProgressFn] = None, jobs: int = 1,
             executor: Optional[Executor] = None) -> Results:
    """Simulate every architecture in every replication; returns all tables and metrics.

    Within a replication both architectures run on one drawn workload (the
    same read and write arrivals, handler, query and apply times), so their
    difference is a paired comparison. ``jobs`` > 1 runs the tasks on that
    many local processes (in a script, call it under ``if __name__ ==
    "__main__":``, else the workers, which import the script, raise a
    RuntimeError saying so); ``executor`` runs them on one you provide.
    Results do not depend on either. Whatever ends the call (a result, an
    exception, SIGINT, SIGTERM), no worker process outlives it.
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
    visibility = visibility_from_records(records, frames["writes"])
    requests = requests_table(records)
    del records
    per_replication = pd.DataFrame(rows)
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
    """Run the tasks on a local pool (killed at once on error or interrupt) or on ``executor``.

    The pool is always shut down before this returns or raises, whatever
    interrupts it (an exception, SIGINT, SIGTERM), so no worker outlives the call.
    """
    owned = executor is None
    pool = LocalPool(min(jobs, len(tasks)), progress=progress is not None) if owned else executor
    assert pool is not None
    fractions = [0.0] * len(tasks)
    futures: list[Future] = []
    try:
        futures.extend(pool.submit(run_task, scenario, arch, rep, k) for k, (rep, arch) in enumerate(tasks))
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # raise a task's error here
                fractions[futures.index(future)] = 1.0
            if isinstance(pool, LocalPool):
                for task, fraction in pool.progress_updates():
                    fractions[task] = max(fractions[task], min(fraction, 0.99))
            if progress is not None:
                running = [labels[k] for k, f in enumerate(fractions) if 0 < f < 1]
                progress(sum(fractions), len(tasks), ", ".join(running[:2]) or "starting")
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        if owned:
            pool.shutdown(cancel_futures=True)  # stop running tasks now, not when they finish
        raise
    finally:
        if owned:
            pool.shutdown()
