"""Run-time and memory estimate benchmark: measures the costs ``check`` estimates from, and checks the estimate.

``python benchmarks/estimate.py calibrate`` measures the coefficients of
``cqrs_sim/experiments/calibration.py`` on this machine and prints them as that module's
table (paste it there when the machine class or the model changes):

* CPU time (``time.process_time``: other work on a shared machine barely
  inflates it) of one simulated run (``run_task``: the model, its metrics
  and tables), the least of three, for small scenarios that each isolate one
  kind of event or one feature of the read path; a cost per occurrence is
  the difference from the scenario without it, divided by how many
  occurrences the run really had;
* CPU time and peak memory (the command's VmHWM) of the command
  ``cqrs-sim run -j 1`` on a tiny scenario (start-up: imports, loading,
  writing the result, drawing the plots) and on one that keeps 400,000
  requests (the cost of each request kept in the result, with and without
  plots), less the simulation measured in-process; with ``-j 2``, the cost
  of starting the worker processes and their memory (psutil, summed over the
  process tree).

``python benchmarks/estimate.py check [-j N] [--only NAME]`` runs ``cqrs-sim
run`` on every shipped scenario and on scenarios the estimate was not fitted
on (write-heavy, projections, keys + 20,000 clients + read-backs, failures,
autoscaling; each a shipped scenario changed with ``--set``), and prints the
estimate beside the measured CPU time, wall time and peak memory, with the
ratio measured / estimated. Target: every ratio within [0.5, 2]. CPU time is
what a quiet machine's wall time would be with ``-j 1``; on a busy machine
wall time is longer. Takes about half an hour with ``-j 1``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIOS = ROOT / "scenarios"
COMMAND = [sys.executable, "-m", "cqrs_sim"]

#: the calibration baseline: 1,000 reads/s for a minute, nothing else
BASE = {"name": "calibration", "duration": 60.0, "warmup": 0.0, "replications": 1, "seed": 3,
        "workload": {"reads": {"rate": 1000.0, "query_time": {"dist": "exponential", "mean": 0.004}}}}


def scenario(overrides: dict, base: dict = BASE):
    import cqrs_sim

    data = copy.deepcopy(base)
    for path, value in overrides.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return cqrs_sim.Scenario.model_validate(data)


def run_cpu(overrides: dict, architecture: str, repeat: int = 3, base: dict = BASE):
    """(least CPU seconds of one run_task, its record)."""
    from cqrs_sim.experiments.simulate import run_task

    sc = scenario(overrides, base)
    best, record = float("inf"), None
    for _ in range(repeat):
        began = time.process_time()
        _, _, record = run_task(sc, architecture, 0)
        best = min(best, time.process_time() - began)
    return best, record


def _peak_rss(pid: int) -> int:
    """The peak resident set of process ``pid`` so far (VmHWM: since its exec, so not the forking parent's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cli_cost(args: list[str], tree: bool = False) -> tuple[float, float, float]:
    """(CPU seconds of the command and its children, wall seconds, peak memory in bytes) of ``cqrs-sim ARGS``.

    CPU time comes from wait4 on the command (its children, reaped before it exits, are counted in it). Peak
    memory: the command's own peak (VmHWM, read every 20 ms until it exits; ru_maxrss would count the memory
    of this process at the fork), or with ``tree`` the peak of the summed resident set of the process tree,
    sampled every 50 ms (psutil).
    """
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([*COMMAND, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, text=True)
        peak, root = 0, None
        if tree:
            import psutil  # a benchmark-only dependency

            root = psutil.Process(proc.pid)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if root is None:
                peak = max(peak, _peak_rss(proc.pid))
            else:
                try:
                    peak = max(peak, sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]))
                except psutil.Error:
                    pass
            time.sleep(0.05 if tree else 0.02)
        code = proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        if code not in (0, 3):
            log.seek(0)
            raise SystemExit(f"cqrs-sim {' '.join(args)} failed ({code}): {log.read()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, peak


# --- calibrate ---------------------------------------------------------------------------------------------------


def _rows(record, name: str) -> int:
    columns = getattr(record, name)
    return len(next(iter(columns.values()))) if columns else 0


class Table:
    """The coefficients being measured, with a note on each."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def put(self, name: str, value: float, note: str) -> float:
        self.values[name] = max(value, 0.0)
        self.notes[name] = note
        return self.values[name]

    def per(self, name: str, extra_seconds: float, count: float, note: str) -> float:
        """µs per occurrence."""
        return self.put(name, extra_seconds / count * 1e6, note)

    def show(self, title: str, variable: str) -> None:
        print(title)
        print(f"{variable} = {{")
        for name, value in self.values.items():
            print(f"    {json.dumps(name)}: {value:.4g},  # {self.notes[name]}")
        print("}")


def calibrate_runs(us: Table) -> None:
    """Per-run, per-read and per-event CPU costs of the model, from run_task in this process."""
    tiny_cpu, _ = run_cpu({"duration": 0.01}, "crud", repeat=7)
    us.put("run", tiny_cpu * 1e6, "one run with no reads: building the model, its metrics and tables")
    paths = {"read: database": ({}, "crud"), "read: replica pool": ({}, "cqrs"),
             "read: streaming replicas": ({"crud.replicas": 4}, "crud")}
    plain = {}
    for name, (overrides, architecture) in paths.items():
        cpu, record = run_cpu(overrides, architecture, repeat=5)
        plain[name] = cpu
        us.per(name, cpu - tiny_cpu, record.reads_recorded, f"a read through {architecture}'s {name.split(': ')[1]}")
    features = {
        "read: handler time": {"workload.reads.handler_time": {"dist": "exponential", "mean": 0.001}},
        "read: keys": {"workload.keys": {"count": 10_000, "popularity": {"zipf": 1.0}}},
        "read: clients": {"workload.reads.clients": 20_000},
        "read: timeout": {"workload.reads.timeout": 10.0},
        "read: full recording": {"record": "full"},
        "read: diurnal rate": {"workload.reads.rate": {"diurnal": {"mean": 1000.0, "amplitude": 0.5, "period": 60.0}}},
        "read: least_outstanding balancer": {"load_balancer": "least_outstanding"},
        "read: power_of_two balancer": {"load_balancer": "power_of_two"},
        "read: random balancer": {"load_balancer": "random"},
        "read: sticky balancer": {"load_balancer": "sticky", "workload.reads.clients": 1000},
    }
    for policy in ("round_robin", "random", "power_of_two", "sticky"):
        features[f"read: {policy} replicas"] = {"cqrs.replicas.routing": policy, "crud.replica_routing": policy}
    features["read: sticky replicas"]["workload.reads.clients"] = 1000
    features["read: autoscaled pool"] = {"cqrs.autoscale": {"min": 8, "max": 9, "interval": 30.0},
                                         "crud.replica_autoscale": {"min": 4, "max": 5, "interval": 30.0}}
    features["read: max_lag"] = {"cqrs.replicas.max_lag": 1000.0, "crud.max_lag": 1000.0}
    for name, overrides in features.items():
        pools = "replicas" in name or "pool" in name or "max_lag" in name
        extra = []
        for path in ("read: replica pool", "read: streaming replicas") if pools else ("read: database", "read: replica pool"):
            base_overrides, architecture = paths[path]
            cpu, record = run_cpu({**base_overrides, **overrides}, architecture)
            extra.append((cpu - plain[path]) / record.reads_recorded)
            if "workload.reads.clients" in overrides and name != "read: clients":
                extra[-1] -= us.values["read: clients"] * 1e-6  # sticky routing needs clients: their cost is apart
        us.per(name, sum(extra) / len(extra), 1, f"more per read with {name.split(': ')[1]} (mean over two designs)")
    cpu, record = run_cpu({"cqrs.replicas.routing": "prefer_fresh"}, "cqrs")
    us.per("read: prefer_fresh replicas", (cpu - plain["read: replica pool"]) / record.reads_recorded, 1,
           "more per read with prefer_fresh replicas")

    # writes and what each triggers: 100 writes/s for a minute, 10 reads/s
    few = {"workload.reads.rate": 10.0}
    quiet = {**few, "workload.writes": {"rate": 100.0, "apply_time": 0.001}, "crud.locking": "mvcc"}
    base_cpu, _ = run_cpu(few, "crud")
    cpu, record = run_cpu(quiet, "crud")
    writes = len(record.writes["arrival"])
    us.per("writes: crud", cpu - base_cpu, writes, "a write on CRUD's database (arrival, apply, commit, its table rows)")
    cqrs_base, _ = run_cpu({**few, "cqrs.replicas.count": 1}, "cqrs")
    cpu, record = run_cpu({**quiet, "cqrs.replicas.count": 1, "cqrs.sync.replace_time": 1e6}, "cqrs")
    us.per("writes: cqrs", cpu - cqrs_base, len(record.writes["arrival"]),
           "a write on CQRS's write image (arrival, apply, commit, its table rows), without its rollout")
    rep_base, _ = run_cpu({**few, "crud.replicas": 8}, "crud")
    cpu, record = run_cpu({**quiet, "crud.replicas": 8}, "crud")
    writes = len(record.writes["arrival"])
    us.per("replica applies", cpu - rep_base - writes * us.values["writes: crud"] * 1e-6, writes * 8,
           "one streaming replica applying one write")
    proj_base, _ = run_cpu({**few, "cqrs.sync.strategy": "projection"}, "cqrs")
    for name, (rate, projection_time) in (("projection applies", (100.0, 0.001)),
                                          ("projection applies: behind", (200.0, 0.3))):
        cpu, record = run_cpu({**quiet, "workload.writes.rate": rate,
                               "cqrs.sync": {"strategy": "projection", "projection_time": projection_time}}, "cqrs")
        writes = len(record.writes["arrival"])
        us.per(name, cpu - proj_base - writes * us.values["writes: cqrs"] * 1e-6, writes * 8,
               "one projecting replica applying one write" + (
                   ", replicas far behind (every apply waiting as a scheduled event)" if "behind" in name else ""))
    us.put("projection replays", us.values["projection applies: behind"], "as a projection apply, behind")
    us.put("lag checks", us.values["projection applies"], "as a projection apply (one scheduled timeout each)")
    hour = {"duration": 3600.0, **few}
    swap_base, _ = run_cpu({**hour, "cqrs.replicas.count": 50}, "cqrs")
    cpu, record = run_cpu({**hour, "cqrs.replicas.count": 50, "cqrs.sync.replace_time": 0.05,
                           "workload.writes": {"interval": {"dist": "exponential", "mean": 10.0}, "apply_time": 0.01}},
                          "cqrs")
    writes = len(record.writes["arrival"])
    us.per("rollout swaps", cpu - swap_base - writes * us.values["writes: cqrs"] * 1e-6, _rows(record, "swaps"),
           "one replica swapped in a rollout (leave, drain, replace, join, its row)")
    plain_writes, _ = run_cpu(quiet, "crud", repeat=5)
    reads_back, record = run_cpu({**quiet, "workload.writes.read_back": {"probability": 1.0, "after": 0.5}}, "crud",
                                 repeat=5)
    us.per("read-backs", reads_back - plain_writes, _rows(record, "read_backs"),
           "a writer's read-back besides its read (drawn one at a time, its row)")
    us.values["read-backs"] = max(us.values["read-backs"] - us.values["read: database"], 0.0)
    fail = {"mtbf": {"dist": "exponential", "mean": 0.5}, "mttr": 0.5}  # about 26,000 failures an hour
    rep_hour, _ = run_cpu({**hour, "crud.replicas": 8}, "crud")
    cpu, record = run_cpu({**hour, "crud.replicas": 8, "crud.failures": fail}, "crud")
    us.per("failures: crud", cpu - rep_hour, _rows(record, "swaps"), "a failure and repair of a CRUD instance")
    cqrs_hour, _ = run_cpu({**hour, "cqrs.replicas.count": 8}, "cqrs")
    cpu, record = run_cpu({**hour, "cqrs.replicas.count": 8, "cqrs.replicas.failures": fail,
                           "cqrs.sync.replace_time": 0.1}, "cqrs")
    us.per("failures: cqrs", cpu - cqrs_hour, _rows(record, "swaps"),
           "a failure, repair and snapshot load of a CQRS replica")
    us.put("failures skipped during swaps", us.values["failures: cqrs"] / 2, "half a CQRS failure (2 of its 4 events)")
    cpu, record = run_cpu({**hour, "crud.replicas": 8,
                           "crud.replication_stalls": {"every": {"dist": "exponential", "mean": 0.5}, "duration": 0.5}},
                          "crud")
    us.per("stalls", cpu - rep_hour, 8 * 3600 / 1.0, "a stall of a streaming replica (expected count)")
    auto = {"duration": 600.0, **few}
    auto_base, _ = run_cpu({**auto, "cqrs.autoscale": {"min": 8, "max": 9, "interval": 600.0}}, "cqrs")
    cpu, record = run_cpu({**auto, "cqrs.autoscale": {"min": 8, "max": 9, "interval": 0.05}}, "cqrs")
    us.per("autoscaler decisions", cpu - auto_base, _rows(record, "autoscale"), "one autoscaler decision and its row")


def calibrate_visibility(us: Table) -> None:
    """The visibility curve's cost (once per run in its worker, once more in the command): a loop over the writes,
    and a step per (write, kept read starting within the horizon after its commit) pair."""
    import numpy as np
    import pandas as pd

    from cqrs_sim.analysis.visibility import BINS, curve_counts

    rng = np.random.default_rng(1)
    reads = {"start": np.sort(rng.uniform(0, 1000, 100_000)), "version_seen": np.zeros(100_000, np.int64)}
    timings = {}
    for horizon in (0.01, 100.0):  # about 1 and about 10,000 reads after each commit
        writes = pd.DataFrame({"version": np.arange(1, 5001), "commit": np.sort(rng.uniform(0, 900, 5000))})
        edges = np.linspace(0.0, horizon, BINS + 1)
        best = float("inf")
        for _ in range(3):
            began = time.process_time()
            curve_counts(reads, writes, edges)
            best = min(best, time.process_time() - began)
        timings[horizon] = (best, 5000 * 100_000 / 1000 * horizon)
    (short, few), (long, many) = timings.values()
    pair = us.per("visibility pairs", long - short, many - few, "a (write, read after it) pair of the visibility curve")
    us.per("visibility writes", short - few * pair * 1e-6, 5000, "a write in the visibility curve's loop")


def _file(work: Path, name: str, data: dict) -> str:
    path = work / f"{name}.yaml"
    path.write_text(json.dumps(data))
    return str(path)


def calibrate_command(us: Table, memory: Table) -> None:
    """The command's own costs (start-up, kept requests, plots, workers) and its memory, from cqrs-sim run."""
    work = Path(tempfile.mkdtemp(prefix="cqrs-sim-calibrate-"))
    out = str(work / "out")

    def best(path: str, *extra: str, repeat: int = 3, tree: bool = False) -> tuple[float, float, float]:
        """(least CPU, wall, least peak memory) of `cqrs-sim run PATH -j 1 EXTRA`."""
        costs = [cli_cost(["run", path, "-o", out, "--force", "-j", "1", *extra], tree=tree) for _ in range(repeat)]
        return min(c[0] for c in costs), min(c[1] for c in costs), min(c[2] for c in costs)

    reads = {"rate": 10.0, "query_time": 0.004}
    tiny_data = {**BASE, "duration": 1.0, "architectures": ["crud"], "workload": {"reads": reads}}
    tiny = _file(work, "tiny", tiny_data)
    tiny_sim, _ = run_cpu({}, "crud", repeat=5, base=tiny_data)
    bare, plots = best(tiny, "--no-plots"), best(tiny)
    start = us.put("start", (bare[0] - tiny_sim) * 1e6, "the command: imports, loading, writing a tiny result")
    us.put("plots", (plots[0] - bare[0]) * 1e6, "drawing the plots of a tiny result")
    memory.put("base", bare[2], "the command with a tiny result")
    memory.put("plots", plots[2] - bare[2], "drawing the plots")

    # requests kept in the result: 400,000 and 1,200,000 of them (a straight line through the two)
    sizes = {}
    for duration in (200.0, 600.0):
        data = {**BASE, "duration": duration, "architectures": ["crud"], "record": "full"}
        data["workload"] = {"reads": {"rate": 2000.0, "query_time": {"dist": "exponential", "mean": 0.004}}}
        path = _file(work, f"big{duration:.0f}", data)
        sim_cpu, record = run_cpu({}, "crud", repeat=1, base=data)
        sizes[duration] = (record.reads_recorded, sim_cpu, best(path, "--no-plots", repeat=2), best(path, repeat=2))
    (small, small_sim, small_bare, small_plots), (large, large_sim, large_bare, large_plots) = sizes.values()
    more = large - small
    us.per("kept requests", (large_bare[0] - large_sim) - (small_bare[0] - small_sim), more,
           "a request kept in the result: tables, files")
    us.per("plotted requests", (large_plots[0] - large_bare[0]) - (small_plots[0] - small_bare[0]), more,
           "a kept request in the plots")
    slope = memory.put("kept request", (large_bare[2] - small_bare[2]) / more, "a request kept in the result")
    memory.put("results", small_bare[2] - small * slope - bare[2],
               "writing a result that is not tiny (the libraries' buffers)")
    us.put("results", (small_bare[0] - small_sim) * 1e6 - small * us.values["kept requests"] - start,
           "writing a result that is not tiny")

    # reads waiting: 2,000/s for 10 minutes on a database that serves 1,000/s (600,000 waiting at the end)
    over_data = {**BASE, "duration": 600.0, "architectures": ["crud"], "crud": {"connections": 4},
                 "workload": {"reads": {"rate": 2000.0, "query_time": 0.004}}}
    over = best(_file(work, "over", over_data), "--no-plots")
    calm = best(_file(work, "calm", {**over_data, "crud": {"connections": 16}}), "--no-plots")
    memory.put("read in flight", (over[2] - calm[2]) / (1000 * 600),
               "a read waiting in the system (the largest backlog of an overloaded run)")
    # events waiting: projecting replicas far behind (8 replicas × 120,000 writes, nearly all waiting at the end)
    behind_data = {**BASE, "duration": 600.0, "architectures": ["cqrs"], "workload": {
        "reads": reads, "writes": {"rate": 200.0, "apply_time": 0.001}}, "cqrs": {
        "sync": {"strategy": "projection", "projection_time": 0.3}}}
    level = {**behind_data, "cqrs": {"sync": {"strategy": "projection", "projection_time": 0.001}}}
    behind = best(_file(work, "behind", behind_data), "--no-plots", repeat=2)
    even = best(_file(work, "level", level), "--no-plots", repeat=2)
    memory.put("pending event", (behind[2] - even[2]) / (8 * 200 * 600 * (1 - 1 / 60)),
               "an event scheduled and waiting (a projection apply far behind)")

    # worker processes: two runs of about 10 s each, on 1 and on 2 processes
    pair_data = {**BASE, "duration": 2000.0, "architectures": ["crud", "cqrs"],
                 "workload": {"reads": {"rate": 1000.0, "query_time": {"dist": "exponential", "mean": 0.004}}}}
    pair = _file(work, "pair", pair_data)
    serial = best(pair, "--no-plots", repeat=2, tree=True)
    costs = [cli_cost(["run", pair, "-o", out, "--force", "-j", "2", "--no-plots"], tree=True) for _ in range(2)]
    us.put("pool", (min(c[0] for c in costs) - serial[0]) * 1e6, "starting two worker processes (CPU of all of them)")
    memory.put("worker", (min(c[2] for c in costs) - serial[2]) / 2, "a worker process holding one run")


def calibrate(part: str, rounds: int) -> None:
    """Measure ``rounds`` times and print the median of each coefficient (a busy machine makes single
    differences noisy)."""
    import statistics

    tables = []
    for _ in range(rounds):
        us, memory = Table(), Table()
        if part in ("all", "runs"):
            calibrate_runs(us)
            calibrate_visibility(us)
        if part in ("all", "command"):
            calibrate_command(us, memory)
        tables.append((us, memory))
    us, memory = tables[0]
    for which in (0, 1):
        table = tables[0][which]
        for name in table.values:
            table.values[name] = statistics.median(t[which].values[name] for t in tables)
    if part == "command":  # the model's costs as they are in the package, for a whole table
        from cqrs_sim.experiments.calibration import MICROSECONDS

        us.values = {**MICROSECONDS, **us.values}
        us.notes = {**{name: "(from the package)" for name in MICROSECONDS}, **us.notes}
    us.show("#: µs of CPU per occurrence; ``run``: per simulated run; ``start``, ``plots``, ``pool``: per command",
            "MICROSECONDS: dict[str, float]")
    memory.show("#: bytes of peak memory, summed over the command's processes", "BYTES: dict[str, float]")


# --- check ------------------------------------------------------------------------------------------------------

#: shipped scenarios changed into cases the estimate was not fitted on: (name, scenario, --set assignments)
SHORT = ["duration=20s", "warmup=0s", "replications=2"]
UNSEEN = [
    ("write-heavy", "netflix.yaml", SHORT + ["workload.writes.interval=1ms"]),
    ("projections", "projections.yaml", SHORT + ["workload.writes.rate=1000/s"]),
    ("keys+clients+read-backs", "sessions.yaml", ["duration=12m", "workload.reads.rate=3000/s",
                                                  "workload.reads.clients=20000"]),
    ("failures", "replica_failure.yaml", ["cqrs.replicas.failures.mtbf=20s", "cqrs.replicas.failures.mttr=5s",
                                          "crud.failures.mtbf=1m", "crud.failures.mttr=5s"]),
    ("autoscale", "autoscale.yaml", ["duration=20m", "warmup=1m", "cqrs.autoscale.interval=100ms",
                                     "crud.replica_autoscale.interval=100ms"]),
]


def check(jobs: int, only: str | None) -> None:
    import cqrs_sim
    from cqrs_sim.experiments.estimate import estimate_run, format_bytes
    from cqrs_sim.config.format import format_duration

    cases = [(path.stem, path.name, []) for path in sorted(SCENARIOS.glob("*.yaml"))] + UNSEEN
    work = Path(tempfile.mkdtemp(prefix="cqrs-sim-estimate-"))
    print(f"{'scenario':26s} {'estimate':>9s} {'cpu':>9s} {'wall':>9s} {'cpu/est':>7s} "
          f"{'mem est':>9s} {'mem':>9s} {'mem/est':>7s}")
    worst = []
    for name, file, sets in cases:
        if only and only != name:
            continue
        path = SCENARIOS / file
        guess = estimate_run(cqrs_sim.load_scenario(path, sets), jobs)
        args = ["run", str(path), "-o", str(work / name), "--force", "-j", str(jobs)]
        for assignment in sets:
            args += ["--set", assignment]
        cpu, wall, peak = cli_cost(args, tree=jobs > 1)
        measured = cpu if jobs == 1 else wall  # CPU time stands for a quiet machine's wall time only on one process
        ratio, mem_ratio = measured / guess.seconds, peak / guess.memory_bytes
        worst.append(max(ratio, 1 / ratio, mem_ratio, 1 / mem_ratio))
        print(f"{name:26s} {format_duration(guess.seconds):>9s} {format_duration(cpu):>9s} {format_duration(wall):>9s} "
              f"{ratio:7.2f} {format_bytes(guess.memory_bytes):>9s} {format_bytes(peak):>9s} {mem_ratio:7.2f}",
              flush=True)
    inside = sum(w <= 2 for w in worst)
    print(f"{inside} of {len(worst)} within 2x (time and memory); worst factor {max(worst):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    calibrating = sub.add_parser("calibrate", help="measure the coefficients and print them")
    calibrating.add_argument("--part", choices=["all", "runs", "command"], default="all",
                             help="the model's costs (runs), the command's (command), or both")
    calibrating.add_argument("--rounds", type=int, default=3, help="measure this many times; print the medians")
    checking = sub.add_parser("check", help="compare the estimate with measured runs")
    checking.add_argument("-j", "--jobs", type=int, default=1)
    checking.add_argument("--only", help="one scenario (a shipped file's stem or an unseen case's name)")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if args.what == "calibrate":
        calibrate(args.part, args.rounds)
    else:
        check(args.jobs, args.only)


if __name__ == "__main__":
    main()
