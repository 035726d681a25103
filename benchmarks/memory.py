"""Memory benchmark: peak memory of ``simulate`` as the number of reads grows.

Each measurement runs in a fresh process (so peaks do not mix) and reports
two numbers: the process's peak resident set (what a user's machine sees,
interpreter and libraries included) and tracemalloc's peak of Python and
numpy allocations made by ``simulate`` itself.

Targets: record: summary — 10x more reads grows peak memory by less than
20%; record: full — at most 150 bytes per recorded request (tracemalloc
peak / requests on the largest run).
Run by hand: ``python benchmarks/memory.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, sys, tracemalloc
import cqrs_sim
overrides = json.loads(sys.argv[1])
scenario = cqrs_sim.load_scenario(sys.argv[2], overrides)
tracemalloc.start()
results = cqrs_sim.simulate(scenario)
current, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
requests = int(results.per_replication["reads_completed"].sum()) if scenario.warmup == 0 else None
print(json.dumps({"peak_traced": peak, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "requests_recorded": len(results.requests), "reads": requests}))
"""


def measure(duration: str, record: str) -> dict:
    overrides = {"duration": duration, "record": record, "architectures": ["cqrs"], "warmup": "0s"}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(overrides), str(HERE / "speed_cqrs.yaml")],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    print("record   duration   reads       tracemalloc peak   peak RSS")
    rows = {}
    for record, durations in (("summary", ("10m", "100m")), ("full", ("10m", "100m"))):
        for duration in durations:
            m = measure(duration, record)
            rows[(record, duration)] = m
            print(f"{record:8} {duration:>8} {m['reads']:>9,}   {m['peak_traced'] / 2**20:10.1f} MiB   "
                  f"{m['maxrss_kib'] / 1024:8.1f} MiB")
    small, big = rows[("summary", "10m")], rows[("summary", "100m")]
    print(f"summary, 10x reads: tracemalloc peak x{big['peak_traced'] / small['peak_traced']:.3f}, "
          f"peak RSS x{big['maxrss_kib'] / small['maxrss_kib']:.3f}   (target: < 1.20)")
    full = rows[("full", "100m")]
    per = full["peak_traced"] / full["requests_recorded"]
    marginal = (full["peak_traced"] - rows[("full", "10m")]["peak_traced"]) / (
        full["requests_recorded"] - rows[("full", "10m")]["requests_recorded"])
    print(f"full: {per:.1f} bytes per recorded request (tracemalloc peak / requests), "
          f"{marginal:.1f} marginal   (target: <= 150)")


if __name__ == "__main__":
    main()
