"""Optimize benchmark: the exhaustive grid (``optimize --pareto``) against the cheapest-first search.

Three questions, each answered both ways on the same local pool:

* ``priced``: scenarios/priced.yaml and its 9-design sweep: block, p99 < 50 ms and < 1% stale reads;
* ``shop-12``: benchmarks/shop.yaml (3,000 reads/s, 50,000 Zipf keys, 20,000 clients, read-backs) on 12 designs,
  p99 < 50 ms, < 1% stale reads, < 1% writers missing their write;
* ``shop-50``: the same question on 50 designs.

For each: whether both give the same answer, the runs, simulated seconds and reads each simulated, the wall time
of each, and the ratios (targets: the same answer everywhere, at least 5x less simulation on 12 designs and 10x
on 50). Run by hand: ``python benchmarks/optimize.py [-j 2] [--only shop-12]``; wall times depend on how busy the
machine is, so compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent / "scenarios"
SHOP_SLOS = ["read_latency_p99<50ms", "stale_read_fraction<1%", "read_your_writes_violations<1%"]
CASES = {
    "priced": (SCENARIOS / "priced.yaml", [], ["read_latency_p99<50ms", "stale_read_fraction<1%"]),
    "shop-12": (HERE / "shop.yaml", ["crud.replicas=0,2,4", "cqrs.replicas.count=2,4,6",
                                     "cqrs.sync.strategy=rolling,blue_green,projection"], SHOP_SLOS),
    "shop-50": (HERE / "shop.yaml", ["crud.replicas=0,1,2,3,4", "crud.replica_connections=4,8",
                                     "cqrs.replicas.count=2,3,4,5,6", "cqrs.replicas.connections=4,8",
                                     "cqrs.sync.strategy=rolling,blue_green,projection,all_at_once"], SHOP_SLOS),
}


def label(optimum) -> str:
    return "none" if optimum.best is None else optimum.best.label()


def run_case(name: str, pool, width: int) -> dict:
    from cqrs_sim.experiments.estimate import expected_reads
    from cqrs_sim.config.loader import load_scenario
    from cqrs_sim.experiments.optimize import optimize
    from cqrs_sim.experiments.search import search
    from cqrs_sim.analysis.slo import parse_slos

    path, vary, slo_texts = CASES[name]
    slos = parse_slos(slo_texts)
    base = load_scenario(path)
    per_run_reads = expected_reads(base)
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        grid = optimize(path, vary, slos, Path(tmp) / "grid", pool)
        grid_wall = time.perf_counter() - began
        began = time.perf_counter()
        found = search(path, vary, slos, Path(tmp) / "search", pool, width=width)
        search_wall = time.perf_counter() - began
    grid_runs = sum(d.n for d in grid.designs)
    search_runs = found.procedure["replications"]
    counts = found.procedure["counts"]
    return {"case": name, "designs": len(grid.designs), "same": label(grid) == label(found), "grid_answer": label(grid),
            "search_answer": label(found), "grid_runs": grid_runs, "search_runs": search_runs,
            "grid_sim_s": grid_runs * base.duration, "search_sim_s": found.procedure["simulated_seconds"],
            "grid_reads": grid_runs * per_run_reads, "search_reads": search_runs * per_run_reads,
            "grid_wall": grid_wall, "search_wall": search_wall, "counts": counts}


def main() -> None:
    from cqrs_sim.experiments.executors import LocalPool

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--only", choices=list(CASES), action="append")
    args = parser.parse_args()
    pool = LocalPool(args.jobs)
    rows = []
    try:
        for name in args.only or list(CASES):
            row = run_case(name, pool, args.jobs)
            rows.append(row)
            print(f"{name}: grid {row['grid_answer']!r} ({row['grid_runs']} runs, {row['grid_wall']:.0f} s); search "
                  f"{row['search_answer']!r} ({row['search_runs']} runs, {row['search_wall']:.0f} s); {row['counts']}",
                  flush=True)
    finally:
        pool.shutdown()
    print()
    print("| grid | designs | same answer | runs grid / search | simulated s grid / search | reads grid / search "
          "| less simulation | wall grid / search | wall ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['designs']} | {'yes' if r['same'] else 'no'} | {r['grid_runs']} / {r['search_runs']} "
              f"| {r['grid_sim_s']:,.0f} / {r['search_sim_s']:,.0f} | {r['grid_reads']:,.0f} / {r['search_reads']:,.0f} "
              f"| {r['grid_sim_s'] / max(r['search_sim_s'], 1e-9):.1f}x "
              f"| {r['grid_wall']:.0f} s / {r['search_wall']:.0f} s | {r['grid_wall'] / r['search_wall']:.1f}x |")


if __name__ == "__main__":
    main()
