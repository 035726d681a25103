"""Before a run: how many reads it simulates, how long that takes and how much it writes (``check`` prints it).

The time is (reads per run × a measured cost per read) per wave of runs, a
wave being as many runs as there are processes. The cost per read and the
bytes per row were measured on one machine class (below); on another,
scale the time by its speed. Plots and result files add a few seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .analytic import mean_read_rate, write_rate
from .scenario import Scenario
from .units import format_duration

#: µs of simulation per read and process (crud and cqrs alike, either recording): benchmarks/speed.py's
#: scenario measured on a 2-core x86-64 cloud VM; other machine classes differ
MICROSECONDS_PER_READ = 5.5
#: bytes per row of requests.parquet with record: full (measured on the quick start: 201 MB / 5.4M rows)
FULL_BYTES_PER_REQUEST = 37.2
#: bytes per kept read with record: summary (measured on the quick start: 21 MB / 600k rows)
SAMPLE_BYTES_PER_READ = 35.0
#: scenario, manifest, summaries, the small tables and six PNG plots
FIXED_BYTES = 700_000
#: above this output size check warns
WARN_BYTES = 1e9


@dataclass(frozen=True)
class RunEstimate:
    """What a run of a scenario will cost, before it runs."""

    record: str
    reads_per_run: float  #: reads simulated in one run (warm-up included), read-backs included
    writes_per_run: float
    runs: int  #: replications × architectures
    jobs: int  #: processes the runs are spread over
    seconds: float  #: wall-clock seconds of simulation
    output_bytes: float  #: size of the result directory
    sample: int = 0  #: record_sample (summary mode)

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
        return [
            f"reads: about {self.reads_per_run:,.0f} per run × {self.runs} run(s) = {self.reads:,.0f}",
            f"run time: about {format_duration(self.seconds)} of simulation on {self.jobs} process(es) "
            f"(at {MICROSECONDS_PER_READ} µs per read, measured on a 2-core x86-64 VM)",
            f"output: about {format_bytes(self.output_bytes)} with record: {self.record} ({kept})",
        ]


def expected_reads(scenario: Scenario) -> float:
    """Reads one run simulates: arrivals over [0, duration), plus the writers' read-backs."""
    reads = mean_read_rate(scenario)[0] * scenario.duration
    writes = scenario.workload.writes
    if writes is not None and writes.read_back is not None:
        reads += expected_writes(scenario) * writes.read_back.probability
    return reads


def expected_writes(scenario: Scenario) -> float:
    """Writes one run simulates."""
    writes = scenario.workload.writes
    if writes is not None and writes.at is not None:
        return float(sum(1 for t in writes.at if t < scenario.duration))
    return write_rate(scenario) * scenario.duration


def estimate_run(scenario: Scenario, jobs: int) -> RunEstimate:
    """Reads, wall-clock time on ``jobs`` processes and output size of ``cqrs-sim run``."""
    runs = scenario.replications * len(scenario.architectures)
    reads, writes = expected_reads(scenario), expected_writes(scenario)
    used = max(1, min(jobs, runs))
    seconds = math.ceil(runs / used) * reads * MICROSECONDS_PER_READ * 1e-6
    if scenario.record == "full":
        rows = (reads + writes) * FULL_BYTES_PER_REQUEST
    else:
        rows = min(reads, scenario.record_sample) * SAMPLE_BYTES_PER_READ + writes * FULL_BYTES_PER_REQUEST
    return RunEstimate(record=scenario.record, reads_per_run=reads, writes_per_run=writes, runs=runs, jobs=used,
                       seconds=seconds, output_bytes=runs * rows + FIXED_BYTES, sample=scenario.record_sample)


def format_bytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} B"
