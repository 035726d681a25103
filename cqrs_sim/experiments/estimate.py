"""Before a run: what it simulates, how long it takes, how much memory and disk it needs (``check`` prints it).

The time is built from what one run schedules (:mod:`.events`: reads by the
path they take and the features they use, their retries, writes,
read-backs, rollout swaps, replica and projection applies, lag checks,
failures, stalls, autoscaler decisions) and the visibility curve each run
draws, each at a CPU cost measured on one machine class
(:mod:`.calibration`), plus the command's own work: starting, the worker
processes, each request kept in the result, the pooled visibility curve,
the plots. Runs are spread over the processes as a pool would (longest
first), so the time is the wall-clock time on a machine with that many
idle cores; a busy machine takes longer. Memory is the peak summed over
the command's processes: the command itself and every result it holds,
each worker, and the reads or events that pile up in a run whose tiers
cannot keep up.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from .calibration import BYTES, MICROSECONDS
from ..config.expected import expected_rollout_length, write_rate
from ..config.events import Kind, commit_rate, expected_reads, expected_writes, run_kinds
from ..config.workload import Diurnal
from ..config.designs import Failures
from ..config.scenario import Scenario, apply_time_of, query_time_of
from ..config.format import format_duration

#: bytes per row of requests.parquet with record: full (measured on the quick start: 201 MB / 5.4M rows)
FULL_BYTES_PER_REQUEST = 37.2
#: bytes per kept read with record: summary (measured on the quick start: 21 MB / 600k rows)
SAMPLE_BYTES_PER_READ = 35.0
#: scenario, manifest, summaries, the small tables and six PNG plots
FIXED_BYTES = 700_000
#: above this output size check warns
WARN_BYTES = 1e9
#: the machine class the costs were measured on
MACHINE = "a 2-core x86-64 VM"


def read_costs(scenario: Scenario, architecture: str) -> list[str]:
    """The entries of :data:`.calibration.MICROSECONDS` one read of ``architecture`` pays: its path, then each
    feature in use."""
    reads = scenario.workload.reads
    if architecture == "cqrs":
        path, routing = "read: replica pool", scenario.cqrs.replicas.routing
        autoscaled, max_lag = scenario.cqrs.autoscale is not None, scenario.cqrs.replicas.max_lag is not None
    elif scenario.crud.replicas:
        path, routing = "read: streaming replicas", scenario.crud.replica_routing
        autoscaled, max_lag = scenario.crud.replica_autoscale is not None, scenario.crud.max_lag is not None
    else:
        path, routing, autoscaled, max_lag = "read: database", "least_outstanding", False, False
    features = {
        "read: handler time": reads.handler_time.mean > 0,
        "read: keys": scenario.workload.keys is not None,
        "read: clients": reads.clients is not None,
        "read: timeout": reads.timeout is not None,
        "read: full recording": scenario.record == "full",
        "read: diurnal rate": isinstance(reads.rate, Diurnal),
        f"read: {scenario.load_balancer} balancer": scenario.load_balancer != "round_robin",
        f"read: {routing} replicas": routing != "least_outstanding",
        "read: autoscaled pool": autoscaled,
        "read: max_lag": max_lag,
    }
    return [path] + [name for name, used in features.items() if used]


def projection_backlog(scenario: Scenario) -> float:
    """Applies waiting at once, at most, when projecting replicas fall behind: each replica gets commits faster
    than it applies them (c · projection_time > 1), so by the last commit (1 − 1/(c · projection_time)) of them
    still wait, on every replica; 0 when they keep up."""
    if scenario.cqrs.sync.strategy != "projection" or "cqrs" not in scenario.architectures:
        return 0.0
    load = commit_rate(scenario) * scenario.cqrs.sync.projection_time.mean
    if load <= 1:
        return 0.0
    return scenario.cqrs.replicas.count * expected_writes(scenario) * (1 - 1 / load)


def _up(failures: Failures | None, back: float = 0.0) -> float:
    """The fraction of time an instance that fails is up."""
    if failures is None:
        return 1.0
    cycle = failures.mtbf.mean + failures.mttr.mean + back
    return failures.mtbf.mean / cycle if cycle > 0 else 0.0


def read_capacity(scenario: Scenario, architecture: str) -> float:
    """Reads per second ``architecture``'s read path serves at most: its narrowest tier (an autoscaled pool at its
    max; instances that fail only for the time they are up; CRUD's locked database only while no write holds it)."""
    query = query_time_of(scenario, architecture).mean
    if query <= 0:
        return math.inf
    handlers = scenario.handlers
    rates = [handlers.count * handlers.concurrency / (scenario.workload.reads.handler_time.mean + query)]
    crud, cqrs = scenario.crud, scenario.cqrs
    if architecture == "cqrs":
        count = cqrs.autoscale.max if cqrs.autoscale is not None else cqrs.replicas.count
        back = cqrs.sync.replace_time.mean if cqrs.sync.strategy != "projection" else 0.0
        rates.append(count * cqrs.replicas.connections / query * _up(cqrs.replicas.failures, back))
    elif crud.replicas:
        count = crud.replica_autoscale.max if crud.replica_autoscale is not None else crud.replicas
        rates.append(count * crud.replica_connections / query * _up(crud.failures))
    else:
        apply = apply_time_of(scenario, "crud")
        busy = write_rate(scenario) * apply.mean if apply is not None else 0.0
        free = 1 - busy if crud.locking == "exclusive" else 1 - busy / crud.connections
        rates.append(crud.connections / query * max(free, 0.0) * _up(crud.failures))
    return min(rates)


def read_backlog(scenario: Scenario, architecture: str) -> float:
    """The most reads waiting at once: while reads come faster than the read path serves them
    (:func:`read_capacity`) the excess piles up, and it drains after; at most ``limits.max_in_system``."""
    capacity = read_capacity(scenario, architecture)
    rate = scenario.workload.reads.rate
    duration = scenario.duration
    if isinstance(rate, Diurnal):
        times = np.linspace(0.0, duration, 401)
        steps = list(zip(times[:-1], rate.diurnal.rate(times[:-1])))
    else:
        steps = [(start, value) for start, value in rate if start < duration]
    bounds = [start for start, _ in steps[1:]] + [duration]
    backlog = peak = 0.0
    for (start, value), end in zip(steps, bounds):
        backlog = max(0.0, backlog + (value - capacity) * (end - start))
        peak = max(peak, backlog)
    return min(peak, scenario.limits.max_in_system)


def visibility_window(scenario: Scenario, architecture: str) -> float:
    """About the longest time from a commit until every replica serves it: none for CRUD's database, a few
    replication lags for its replicas, two rollouts for CQRS's snapshots (one under way when the commit comes,
    then its own), and for projections that fall behind the whole backlog of applies."""
    if architecture == "crud":
        return 3 * scenario.crud.replication_lag.mean if scenario.crud.replicas else 0.0
    sync = scenario.cqrs.sync
    if sync.strategy != "projection":
        return sync.trigger_delay + 2 * expected_rollout_length(scenario)
    behind = projection_backlog(scenario) / scenario.cqrs.replicas.count
    return sync.trigger_delay + (behind + 3) * sync.projection_time.mean


def visibility_pairs(scenario: Scenario, architecture: str) -> float:
    """(write, kept read) pairs the visibility curve of one run counts: each write against the kept reads whose
    query starts within the curve's horizon (1.1 × the longest visibility window, at least 1 s) after its commit,
    reads and commits taken as spread evenly over the run."""
    writes = expected_writes(scenario)
    if not writes:
        return 0.0
    reads = expected_reads(scenario)
    kept = reads if scenario.record == "full" else min(reads, scenario.record_sample)
    span = max(1.0, 1.1 * visibility_window(scenario, architecture)) / scenario.duration
    return writes * kept * (span - span**2 / 2 if span < 1 else 0.5)


def _cost_of(kind: Kind, scenario: Scenario, architecture: str) -> float:
    """µs per occurrence of ``kind`` (reads are costed by :func:`read_costs`)."""
    if kind.name in ("writes", "failures"):
        return MICROSECONDS[f"{kind.name}: {architecture}"]
    if kind.name == "projection applies" and projection_backlog(scenario):
        return MICROSECONDS["projection applies: behind"]
    return MICROSECONDS[kind.name]


def run_seconds(scenario: Scenario, architecture: str) -> dict[str, float]:
    """CPU seconds one run of ``architecture`` spends, by what spends them (``run``: its fixed part)."""
    per_read = sum(MICROSECONDS[name] for name in read_costs(scenario, architecture))
    spent = {"run": MICROSECONDS["run"]}
    for kind in run_kinds(scenario, architecture):
        if kind.name in ("reads", "read retries"):
            spent[kind.name] = kind.count * per_read
        elif kind.name == "read-backs":
            spent[kind.name] = kind.count * (per_read + MICROSECONDS["read-backs"])
        else:
            spent[kind.name] = kind.count * _cost_of(kind, scenario, architecture)
    spent["visibility curve"] = visibility_pairs(scenario, architecture) * MICROSECONDS["visibility pairs"]
    return {name: us * 1e-6 for name, us in spent.items()}


def makespan(seconds: list[float], workers: int) -> float:
    """When the last of the tasks ends, each taken by the first free worker, longest first."""
    loads = [0.0] * max(1, workers)
    for task in sorted(seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + task)
    return max(loads)


def kept_per_run(scenario: Scenario) -> float:
    """Requests one run keeps in the result: every one (record: full), or the read sample and every write."""
    reads, writes = expected_reads(scenario), expected_writes(scenario)
    return reads + writes if scenario.record == "full" else min(reads, scenario.record_sample) + writes


@dataclass(frozen=True)
class RunEstimate:
    """What a run of a scenario will cost, before it runs."""

    record: str
    reads_per_run: float  #: reads simulated in one run (warm-up included), read-backs included
    writes_per_run: float
    runs: int  #: replications × architectures
    jobs: int  #: processes the runs are spread over
    seconds: float  #: wall-clock seconds of the whole command on ``jobs`` idle cores
    output_bytes: float  #: size of the result directory
    sample: int = 0  #: record_sample (summary mode)
    simulation_seconds: float = 0.0  #: of ``seconds``, those spent simulating
    memory_bytes: float = 0.0  #: peak memory, every process of the command together
    shares: tuple[tuple[str, float], ...] = ()  #: what the simulation's CPU time goes to, largest first

    @property
    def reads(self) -> float:
        return self.reads_per_run * self.runs

    @property
    def warning(self) -> str | None:
        if self.output_bytes <= WARN_BYTES:
            return None
        hint = " (record: summary keeps exact counts and 0.1% percentiles in a few MB)" if self.record == "full" else ""
        return f"the results will take about {format_bytes(self.output_bytes)} on disk{hint}"

    def lines(self) -> list[str]:
        if self.record == "full":
            kept = "every request"
        elif self.reads_per_run <= self.sample:
            kept = f"every request: a run's reads fit in record_sample = {self.sample:,}, so its numbers are exact"
        else:
            kept = f"exact counts, 0.1% percentiles, every write and a sample of {self.sample:,} reads per run"
        spent = ", ".join(f"{name} {share:.0%}" for name, share in self.shares[:4] if share >= 0.005)
        rest = self.seconds - self.simulation_seconds
        return [
            f"reads: about {self.reads_per_run:,.0f} per run × {self.runs} run(s) = {self.reads:,.0f}",
            f"run time: about {format_duration(self.seconds)} on {self.jobs} process(es): "
            f"{format_duration(self.simulation_seconds)} simulating ({spent}), {format_duration(rest)} starting, "
            f"writing the results and drawing the plots (at CPU costs measured by benchmarks/estimate.py on "
            f"{MACHINE}; a busy machine takes longer)",
            f"memory: about {format_bytes(self.memory_bytes)} at the peak, every process together",
            f"output: about {format_bytes(self.output_bytes)} with record: {self.record} ({kept})",
        ]


def command_seconds(scenario: Scenario, used: int) -> float:
    """CPU seconds the command spends besides the runs: starting (and its workers), gathering and writing the
    results (each kept request, the pooled visibility curve drawn again from every run), drawing the plots."""
    us = MICROSECONDS
    writes = expected_writes(scenario)
    pooled_curve = scenario.replications * sum(
        writes * us["visibility writes"] + visibility_pairs(scenario, arch) * us["visibility pairs"]
        for arch in scenario.architectures)
    kept = scenario.replications * len(scenario.architectures) * kept_per_run(scenario)
    return 1e-6 * (us["start"] + us["results"] + us["plots"] + (us["pool"] if used > 1 else 0.0)
                   + kept * (us["kept requests"] + us["plotted requests"]) + pooled_curve)


def memory_bytes(scenario: Scenario, used: int) -> float:
    """Peak memory of the command, summed over its processes: itself, holding every run's result (its kept
    requests, and its rows of swaps, failures, decisions and read-backs), and each run while it runs (the reads
    and events that pile up), in the command or in each of its ``used`` workers."""
    kept = scenario.replications * len(scenario.architectures) * kept_per_run(scenario)
    rows = scenario.replications * sum(kind.count for arch in scenario.architectures
                                       for kind in run_kinds(scenario, arch) if kind.kept and kind.name != "writes")
    waiting = max(read_backlog(scenario, arch) * BYTES["read in flight"] for arch in scenario.architectures) \
        + projection_backlog(scenario) * BYTES["pending event"]
    memory = BYTES["base"] + BYTES["results"] + BYTES["plots"] + (kept + rows) * BYTES["kept request"]
    return memory + (waiting if used == 1 else used * (BYTES["worker"] + waiting))


def output_bytes(scenario: Scenario) -> float:
    """Size of the result directory."""
    reads, writes = expected_reads(scenario), expected_writes(scenario)
    if scenario.record == "full":
        rows = (reads + writes) * FULL_BYTES_PER_REQUEST
    else:
        rows = min(reads, scenario.record_sample) * SAMPLE_BYTES_PER_READ + writes * FULL_BYTES_PER_REQUEST
    return scenario.replications * len(scenario.architectures) * rows + FIXED_BYTES


def estimate_run(scenario: Scenario, jobs: int) -> RunEstimate:
    """Reads, wall-clock time on ``jobs`` processes, peak memory and output size of ``cqrs-sim run``."""
    runs = scenario.replications * len(scenario.architectures)
    used = max(1, min(jobs, runs))
    per_architecture = {arch: run_seconds(scenario, arch) for arch in scenario.architectures}
    simulating = makespan([sum(spent.values()) for spent in per_architecture.values()] * scenario.replications, used)
    totals: dict[str, float] = {}
    for spent in per_architecture.values():
        for name, seconds in spent.items():
            if name != "run":
                totals[name] = totals.get(name, 0.0) + seconds
    whole = sum(totals.values()) or 1.0
    shares = tuple(sorted(((name, seconds / whole) for name, seconds in totals.items()), key=lambda s: -s[1]))
    return RunEstimate(record=scenario.record, reads_per_run=expected_reads(scenario),
                       writes_per_run=expected_writes(scenario), runs=runs, jobs=used,
                       seconds=simulating + command_seconds(scenario, used), output_bytes=output_bytes(scenario),
                       sample=scenario.record_sample, simulation_seconds=simulating,
                       memory_bytes=memory_bytes(scenario, used), shares=shares)


def format_bytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} B"
