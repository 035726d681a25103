"""Running a scenario: every replication, every architecture, on common random numbers."""

from __future__ import annotations

import time
from typing import Callable, Optional

import pandas as pd

from .metrics import replication_metrics
from .model import run_architecture
from .results import Results, build_manifest
from .scenario import Scenario
from .tables import replicas_table, requests_table, timeseries_table, writes_table
from .workload import generate

#: progress(done, total, label): done and total count simulated architecture-runs (fractions allowed)
ProgressFn = Callable[[float, int, str], None]


def simulate(scenario: Scenario, progress: Optional[ProgressFn] = None) -> Results:
    """Simulate every architecture in every replication; returns all tables and metrics.

    Within a replication both architectures run on one drawn workload (the
    same read and write arrivals, handler, query and apply times), so their
    difference is a paired comparison.
    """
    began = time.perf_counter()
    archs = list(scenario.architectures)
    total = scenario.replications * len(archs)
    tables: dict[str, list[pd.DataFrame]] = {"requests": [], "writes": [], "replicas": [], "timeseries": []}
    rows = []
    done = 0
    for replication in range(scenario.replications):
        workload = generate(scenario, replication)
        for arch in archs:
            label = f"{arch} replication {replication + 1}/{scenario.replications}"
            tick = None
            if progress is not None:
                progress(done, total, label)
                tick = (lambda base, lab: (lambda f: progress(base + f, total, lab)))(done, label)
            record = run_architecture(scenario, workload, arch, replication, tick)
            rows.append({"architecture": arch, "replication": replication, **replication_metrics(record, scenario)})
            tables["requests"].append(requests_table(record))
            tables["writes"].append(writes_table(record))
            tables["replicas"].append(replicas_table(record))
            tables["timeseries"].append(timeseries_table(record, scenario.duration, scenario.bin_width))
            done += 1
    if progress is not None:
        progress(total, total, "done")
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
    per_replication = pd.DataFrame(rows)
    manifest = build_manifest(scenario, wall_time=time.perf_counter() - began)
    return Results(scenario=scenario, per_replication=per_replication, manifest=manifest, **frames)
