"""Sweep benchmark: 10 points × 4 replications × 2 architectures (80 tasks, 40 point-replications).

Times the same sweep with one worker process and with every local core, in
one run of this script, and prints the parallel efficiency
T(1) / (cores × T(cores)). Run by hand: ``python benchmarks/sweep.py``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from cqrs_sim.experiments.executors import LocalPool, default_jobs
from cqrs_sim.experiments.sweep import run_sweep

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "netflix.yaml"
VARY = ["cqrs.replicas.count=2,4,6,8,10,12,14,16,18,20"]
SETS = ["duration=6m", "warmup=30s", "replications=4", "workload.writes.interval=90s", "workload.writes.apply_time=20s"]


def timed(jobs: int) -> float:
    directory = Path(tempfile.mkdtemp(prefix="cqrs-sim-sweep-bench-"))
    pool = LocalPool(jobs)
    try:
        began = time.perf_counter()
        result = run_sweep(SCENARIO, VARY, directory, pool, SETS)
        elapsed = time.perf_counter() - began
        assert result.ran == 10 and not result.failures
    finally:
        pool.shutdown()
        shutil.rmtree(directory, ignore_errors=True)
    return elapsed


def main() -> None:
    cores = default_jobs()
    one = timed(1)
    many = timed(cores)
    print("sweep: 10 points x 4 replications x 2 architectures = 40 point-replications, 80 tasks")
    print(f"1 worker:     {one:6.1f} s")
    print(f"{cores} workers:    {many:6.1f} s   speed-up {one / many:.2f}x, parallel efficiency {one / (cores * many):.0%}")


if __name__ == "__main__":
    main()
