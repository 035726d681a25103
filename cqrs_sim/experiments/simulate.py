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

from ..analysis.metrics import replication_metrics
from ..model import run_architecture
from ..io.results import Results, build_manifest
from ..config.scenario import Scenario
from .executors import LocalPool
from .workers import worker_progress
from ..analysis.outages import outage_effects
from ..analysis.visibility import run_visibility_times, visibility_from_records
from ..analysis.tables import autoscale_table, outages_table, replicas_table, requests_table, timeseries_table, writes_table
from ..workload.draws import write_workload

#: progress(done, total, label): done and total count simulated architecture-runs (fractions allowed);
#: the label says how many replications of each architecture are finished ("crud 2/3, cqrs 1/3")
ProgressFn = Callable[[float, int, str], None]


def finished_label(tasks: list[tuple[int, str]], finished: list[bool], replications: int) -> str:
    """'crud 2/3, cqrs 1/3': finished replications per architecture, in task order."""
    counts: dict[str, int] = {}
    for (_, arch), done in zip(tasks, finished):
        counts[arch] = counts.get(arch, 0) + int(done)
    return ", ".join(f"{arch} {n}/{replications}" for arch, n in counts.items())


def format_eta(seconds: float) -> str:
    """12s, 4m05s, 1h02m."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_lines(name: str, emit: Callable[[str], None], every: float = 5.0,
                   clock: Callable[[], float] = time.monotonic) -> ProgressFn:
    """A progress function writing plain lines for a log, at each new 10% and at least every ``every`` seconds.

    Each line reads "NAME: 40% (crud 2/3, cqrs 1/3), ETA 12s"; the ETA is
    the elapsed time scaled by what is left. The last line says how long
    the simulation took.
    """
    began = clock()
    state = {"decile": 0, "last": began, "finished": False}

    def progress(done: float, total: int, label: str) -> None:
        if state["finished"]:
            return
        fraction = min(1.0, done / total) if total else 1.0
        now = clock()
        decile = int(fraction * 10 + 1e-9)
        if label == "done" or fraction >= 1.0:
            state["finished"] = True
            emit(f"{name}: 100%, simulated in {format_eta(now - began)}")
            return
        if decile <= state["decile"] and now - state["last"] < every:
            return
        state["decile"], state["last"] = max(decile, state["decile"]), now
        eta = format_eta((now - began) * (1 - fraction) / fraction) if fraction > 0 else "?"
        emit(f"{name}: {fraction:.0%} ({label}), ETA {eta}")

    return progress


def run_task(scenario: Scenario, architecture: str, replication: int, task: int = 0,
             tick: Optional[Callable[[float], None]] = None, keep: bool = True,
             copy_draw: int = 0) -> tuple[dict, dict[str, pd.DataFrame], Any]:
    """One architecture of one replication: its metrics row, and (``keep``) its small tables and raw record."""
    if tick is None:
        report = worker_progress()
        if report is not None:
            tick = lambda fraction: report(task, fraction)  # noqa: E731
    record = run_architecture(scenario, architecture, replication, write_workload(scenario, replication), tick,
                              copy_draw)
    row = {"architecture": architecture, "replication": replication, **replication_metrics(record, scenario),
           **run_visibility_times(record),
           "stopped_at": record.stopped_at if record.stopped_at is not None else float("nan")}
    if not keep:
        return row, {}, None
    tables = {
        "writes": writes_table(record),
        "replicas": replicas_table(record),
        "timeseries": timeseries_table(record, scenario.duration, scenario.bin_width),
        "autoscale": autoscale_table(record),
    }
    tables["outages"] = outage_effects(outages_table(record), tables["timeseries"], scenario)
    return row, tables, record


def simulate(scenario: Scenario, progress: Optional[ProgressFn] = None, jobs: int = 1,
             executor: Optional[Executor] = None, copy_draw: int = 0) -> Results:
    """Simulate every architecture in every replication; returns all tables and metrics.

    Within a replication both architectures run on one drawn workload (the
    same read and write arrivals, handler, query and apply times), so their
    difference is a paired comparison. ``jobs`` > 1 runs the tasks on that
    many local processes (in a script, call it under ``if __name__ ==
    "__main__":``, else the workers, which import the script, raise a
    RuntimeError saying so); ``executor`` runs them on one you provide.
    Results do not depend on either. ``copy_draw`` > 0 draws CQRS's copy times from another independent stream
    (:func:`cqrs_sim.model.rollout.copy_stream`), everything else as drawn. Whatever ends the call (a result, an
    exception, SIGINT, SIGTERM), no worker process outlives it.
    """
    began = time.perf_counter()
    tasks = [(replication, arch) for replication in range(scenario.replications) for arch in scenario.architectures]
    total = len(tasks)
    if executor is None and (jobs <= 1 or total == 1):
        outputs = []
        for k, (replication, arch) in enumerate(tasks):
            tick = None
            if progress is not None:
                label = finished_label(tasks, [j < k for j in range(total)], scenario.replications)
                progress(k, total, label)
                tick = (lambda base, label: (lambda f: progress(base + f, total, label)))(k, label)
            outputs.append(run_task(scenario, arch, replication, k, tick, copy_draw=copy_draw))
    else:
        outputs = _run_parallel(scenario, tasks, progress, jobs, executor, copy_draw)
    if progress is not None:
        progress(total, total, "done")
    rows = [row for row, _, _ in outputs]
    frames = {name: pd.concat([tables[name] for _, tables, _ in outputs], ignore_index=True)
              for name in ("writes", "replicas", "timeseries", "autoscale", "outages")}
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


def _run_parallel(scenario: Scenario, tasks: list[tuple[int, str]], progress: Optional[ProgressFn],
                  jobs: int, executor: Optional[Executor], copy_draw: int = 0) -> list:
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
        futures.extend(pool.submit(run_task, scenario, arch, rep, k, None, True, copy_draw) for k, (rep, arch) in enumerate(tasks))
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
                progress(sum(fractions), len(tasks),
                         finished_label(tasks, [f >= 1 for f in fractions], scenario.replications))
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
