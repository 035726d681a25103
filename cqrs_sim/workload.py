"""The random workload of one replication, drawn once and shared by every architecture.

Drawing arrival times and per-request service times up front, from their own
named streams, is what makes the CRUD and CQRS runs of a replication a paired
comparison (common random numbers): read ``i`` arrives at the same instant,
spends the same handler time and runs a query of the same length in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenario import Scenario
from .streams import stream


@dataclass(frozen=True)
class Workload:
    read_arrival: np.ndarray  #: seconds, sorted
    handler_time: np.ndarray  #: per read
    query_time: np.ndarray  #: per read
    write_arrival: np.ndarray  #: seconds, sorted
    apply_time: np.ndarray  #: per write

    @property
    def reads(self) -> int:
        return len(self.read_arrival)

    @property
    def writes(self) -> int:
        return len(self.write_arrival)


def read_arrivals(steps: list[tuple[float, float]], duration: float, process: str, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in [0, duration) for a piecewise-constant rate.

    Poisson: in each step a Poisson number of arrivals placed uniformly (the
    order statistics of a Poisson process). Uniform: evenly spaced at 1/rate,
    the first at the step's start.
    """
    bounds = [start for start, _ in steps] + [duration]
    parts = []
    for (start, rate), end in zip(steps, bounds[1:]):
        end = min(end, duration)
        if rate <= 0 or end <= start:
            continue
        if process == "poisson":
            n = rng.poisson(rate * (end - start))
            parts.append(np.sort(rng.uniform(start, end, n)))
        else:
            n = int(np.ceil((end - start) * rate - 1e-9))
            times = start + np.arange(n) / rate
            parts.append(times[times < end])
    return np.concatenate(parts) if parts else np.empty(0)


def write_arrivals(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    writes = scenario.workload.writes
    duration = scenario.duration
    if writes is None:
        return np.empty(0)
    if writes.at is not None:
        at = np.sort(np.asarray(writes.at, dtype=float))
        return at[at < duration]
    if writes.rate is not None:
        mean = 1.0 / writes.rate
        draw = lambda n: rng.exponential(mean, n)  # noqa: E731
    else:
        interval = writes.interval
        mean = interval.mean  # type: ignore[union-attr]
        draw = lambda n: interval.sample(rng, n)  # type: ignore[union-attr]  # noqa: E731
    times = np.empty(0)
    last = 0.0
    chunk = max(16, int(2 * duration / mean) + 16)
    while last < duration:
        more = last + np.cumsum(draw(chunk))
        times = np.concatenate([times, more])
        last = float(times[-1]) if len(times) else duration
    return times[times < duration]


def generate(scenario: Scenario, replication: int) -> Workload:
    """The workload of one replication, from its named streams."""
    seed = scenario.seed
    reads = scenario.workload.reads
    arrival = read_arrivals(reads.rate, scenario.duration, reads.process, stream(seed, replication, "read.arrivals"))
    n = len(arrival)
    handler = reads.handler_time.sample(stream(seed, replication, "read.handler_time"), n)
    query = reads.query_time.sample(stream(seed, replication, "read.query_time"), n)
    w_arrival = write_arrivals(scenario, stream(seed, replication, "write.arrivals"))
    if scenario.workload.writes is not None:
        apply = scenario.workload.writes.apply_time.sample(stream(seed, replication, "write.apply_time"), len(w_arrival))
    else:
        apply = np.empty(0)
    return Workload(arrival, handler, query, w_arrival, apply)
