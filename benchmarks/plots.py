"""Plot benchmark: time to draw a run's plots as a ratio to the time to simulate it, in one process.

Simulates the quick start (scenarios/netflix.yaml, as ``cqrs-sim run`` does,
on every local core unless ``-j``), then draws every plot of ``save_all``
into a temporary directory and prints both wall times, the ratio (target:
plots <= 0.25 × simulation) and the time of each plot.
Run by hand: ``python benchmarks/plots.py [-j N] [--set PATH=VALUE ...]``;
the machine's noise moves both times, so compare ratios from one run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cqrs_sim
from cqrs_sim import plots
from cqrs_sim.experiments.executors import default_jobs

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "netflix.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", type=Path, default=SCENARIO)
    parser.add_argument("-j", "--jobs", type=int, default=None, help="processes to simulate on (default: every core)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")
    parser.add_argument("--format", default="png")
    args = parser.parse_args()

    scenario = cqrs_sim.load_scenario(args.scenario, args.sets)
    began = time.perf_counter()
    results = cqrs_sim.simulate(scenario, jobs=args.jobs or default_jobs())
    simulated = time.perf_counter() - began

    directory = Path(tempfile.mkdtemp(prefix="cqrs-sim-plot-bench-"))
    each: dict[str, float] = {}
    try:
        began = time.perf_counter()
        for name, plot in plots.available(results).items():
            start = time.perf_counter()
            plot(results).savefig(directory / f"{name}.{args.format}", format=args.format)
            each[name] = time.perf_counter() - start
        drawn = time.perf_counter() - began
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    reads = int((results.requests["kind"] == "read").sum())
    print(f"{scenario.name}: {scenario.replications} replication(s), {reads:,} reads recorded")
    print(f"simulation: {simulated:6.2f} s")
    print(f"plots:      {drawn:6.2f} s   ratio plots/simulation {drawn / simulated:.2f} (target <= 0.25)")
    for name, seconds in each.items():
        print(f"  {name:<20} {seconds:5.2f} s")


if __name__ == "__main__":
    main()
