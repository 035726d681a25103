"""Memory benchmark: what ``cqrs-sim run``, ``plot`` and ``report`` cost in memory and disk.

(1) The command line, as a user runs it: each command runs in a fresh
process and its peak memory is the peak of the summed resident set of the
whole process tree (the parent, the pool's workers and its fork server),
sampled every 50 ms with psutil — ``/usr/bin/time`` would see one process
only. Reported: the result directory's size, the run's peak, and the peaks
of ``plot`` and ``report`` on that result as a ratio of the run's.
Targets (the quick start, default recording): directory ≤ 50 MB, run ≤ 1 GiB,
plot and report ≤ 1.5 × the run.

(2) ``simulate`` alone, as the reads grow: tracemalloc's peak and the
process's peak RSS. Targets: record: summary — 10x more reads grows peak
memory by less than 20%; record: full — at most 150 bytes per recorded
request (tracemalloc peak / requests on the largest run).

Run by hand: ``python benchmarks/memory.py`` (the quick start and (2)), with
``--big`` also 30 minutes at 2,000 reads/s in both recordings (about 20
minutes of wall time on 2 cores and 4 GB of memory for the full recording).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUICK_START = ROOT / "scenarios" / "netflix.yaml"
BIG = ["--set", "duration=30m", "--set", "workload.reads.rate=2000/s"]

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


def peak_tree_rss(command: list[str], interval: float = 0.05) -> tuple[int, float]:
    """(peak of the summed RSS of the process and all its descendants in bytes, wall seconds) of a command."""
    import psutil  # a benchmark-only dependency: pip install psutil

    began = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in tree:
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak = max(peak, total)
        time.sleep(interval)
    errors = proc.stderr.read().decode() if proc.stderr else ""
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{errors}")
    return peak, time.perf_counter() - began


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure_cli(label: str, sets: list[str], jobs: int | None, workdir: Path) -> dict:
    out = workdir / label.replace(" ", "_")
    cli = [sys.executable, "-m", "cqrs_sim"]
    run = [*cli, "run", str(QUICK_START), "-o", str(out), "--force", *sets] + (["-j", str(jobs)] if jobs else [])
    row = {"label": label}
    row["run"], row["run_s"] = peak_tree_rss(run)
    row["size"] = directory_size(out)
    row["plot"], _ = peak_tree_rss([*cli, "plot", str(out)])
    row["report"], _ = peak_tree_rss([*cli, "report", str(out)])
    shutil.rmtree(out, ignore_errors=True)
    return row


def measure_simulate(duration: str, record: str) -> dict:
    overrides = {"duration": duration, "record": record, "architectures": ["cqrs"], "warmup": "0s"}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(overrides), str(HERE / "speed_cqrs.yaml")],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def command_line(big: bool) -> None:
    cases = [("quick start", [], None), ("quick start -j 1", [], 1)]
    if big:
        cases += [("30m 2000/s", BIG, None), ("30m 2000/s --record full", [*BIG, "--record", "full"], None)]
    mib = 2**20
    print("case                          dir size   run peak (wall)        plot peak  ÷ run   report peak  ÷ run")
    with tempfile.TemporaryDirectory(prefix="cqrs-sim-memory-") as tmp:
        for label, sets, jobs in cases:
            r = measure_cli(label, sets, jobs, Path(tmp))
            print(f"{label:28} {r['size'] / 1e6:7.1f} MB {r['run'] / mib:7.0f} MiB ({r['run_s']:5.0f} s) "
                  f"{r['plot'] / mib:9.0f} MiB  {r['plot'] / r['run']:5.2f} {r['report'] / mib:9.0f} MiB  "
                  f"{r['report'] / r['run']:5.2f}", flush=True)
    print("targets (quick start): dir <= 50 MB, run <= 1024 MiB, plot and report <= 1.5 x run")


def simulate_only() -> None:
    print("record   duration   reads       tracemalloc peak   peak RSS")
    rows = {}
    for record, durations in (("summary", ("10m", "100m")), ("full", ("10m", "100m"))):
        for duration in durations:
            m = measure_simulate(duration, record)
            rows[(record, duration)] = m
            print(f"{record:8} {duration:>8} {m['reads']:>9,}   {m['peak_traced'] / 2**20:10.1f} MiB   "
                  f"{m['maxrss_kib'] / 1024:8.1f} MiB", flush=True)
    small, big = rows[("summary", "10m")], rows[("summary", "100m")]
    print(f"summary, 10x reads: tracemalloc peak x{big['peak_traced'] / small['peak_traced']:.3f}, "
          f"peak RSS x{big['maxrss_kib'] / small['maxrss_kib']:.3f}   (target: < 1.20)")
    full = rows[("full", "100m")]
    per = full["peak_traced"] / full["requests_recorded"]
    marginal = (full["peak_traced"] - rows[("full", "10m")]["peak_traced"]) / (
        full["requests_recorded"] - rows[("full", "10m")]["requests_recorded"])
    print(f"full: {per:.1f} bytes per recorded request (tracemalloc peak / requests), "
          f"{marginal:.1f} marginal   (target: <= 150)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also 30 minutes at 2,000 reads/s, in both recordings")
    parser.add_argument("--skip-simulate", action="store_true", help="only the command-line measurements")
    args = parser.parse_args()
    command_line(args.big)
    if not args.skip_simulate:
        simulate_only()


if __name__ == "__main__":
    main()
