"""The random workload of one replication, drawn from named streams and shared by every architecture.

Reads are drawn in blocks (:class:`ReadSource`), so a run holds only the
current block in memory; writes are few and drawn at once
(:func:`write_workload`). Every architecture of a replication draws from the
same streams in the same block sizes, which is what makes their runs a
paired comparison (common random numbers): read ``i`` arrives at the same
instant, spends the same handler time and runs a query of the same length
in both. Where a design sets its own query or apply time
(``crud.query_time``, ``cqrs.replicas.query_time``, ``crud.apply_time``,
``cqrs.apply_time``) the workload's draw is mapped to the same quantile of
the design's distribution (:func:`.distributions.couple`): read ``i`` is
then long in both designs or short in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

from ..config.distributions import couple
from .keys import ReadKeys, write_keys
from ..config.scenario import Scenario, apply_time_of, query_time_of
from ..config.expected import burst_windows
from .streams import stream

BLOCK = 1 << 16  #: reads drawn per block


def _poisson_block(rng: np.random.Generator, start: float, end: float, rate: float) -> Iterator[np.ndarray]:
    """Poisson arrivals in [start, end) by exponential gaps, in blocks."""
    t = start
    while True:
        times = t + np.cumsum(rng.exponential(1.0 / rate, BLOCK))
        if times[-1] >= end:
            yield times[times < end]
            return
        yield times
        t = float(times[-1])


def read_arrivals(steps: list[tuple[float, float]], duration: float, process: str,
                  rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Arrival times in [0, duration) for a piecewise-constant rate, in blocks.

    Poisson: exponential gaps at each step's rate, restarted at each step's
    start (the process is memoryless, so this is exact). Uniform: evenly
    spaced at 1/rate, the first at the step's start.
    """
    bounds = [start for start, _ in steps] + [duration]
    for (start, rate), end in zip(steps, bounds[1:]):
        end = min(end, duration)
        if rate <= 0 or end <= start:
            continue
        if process == "poisson":
            yield from _poisson_block(rng, start, end, rate)
        else:
            count = int(np.ceil((end - start) * rate - 1e-9))
            for first in range(0, count, BLOCK):
                times = start + np.arange(first, min(first + BLOCK, count)) / rate
                yield times[times < end]


def diurnal_arrivals(shape, duration: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A non-homogeneous Poisson process by thinning (Lewis and Shedler): candidates at the peak rate,
    each kept with probability rate(t) / peak."""
    peak = shape.mean * (1 + shape.amplitude)
    for candidates in _poisson_block(rng, 0.0, duration, peak):
        keep = rng.random(len(candidates)) * peak < shape.rate(candidates)
        yield candidates[keep]


def trace_arrivals(times: np.ndarray, duration: float) -> Iterator[np.ndarray]:
    """Measured arrival times in [0, duration), in blocks."""
    times = times[times < duration]
    for first in range(0, len(times), BLOCK):
        yield times[first:first + BLOCK]


class Replay:
    """A trace column's values handed out in order, in place of a distribution's draws (``sample`` ignores rng)."""

    def __init__(self, values: np.ndarray):
        self._values = values
        self._next = 0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = self._values[self._next:self._next + n]
        self._next += n
        return out


class ReadSource:
    """Blocks of (arrival times, handler times, query times, keys, clients) for one replication.

    With ``architecture`` the query times are that design's own (see the
    module's docstring); without, the workload's. Keys and clients come from
    their own streams (``read.key``, ``read.client``), so turning them on
    leaves every other draw as it was; without them every read has key 0
    and client 0.
    """

    def __init__(self, scenario: Scenario, replication: int, architecture: str | None = None):
        reads = scenario.workload.reads
        rng = stream(scenario.seed, replication, "read.arrivals")
        if reads.trace is not None:
            self._arrivals = trace_arrivals(reads.trace.times, scenario.duration)
        elif isinstance(reads.rate, list):
            self._arrivals = read_arrivals(reads.rate, scenario.duration, reads.process, rng)
        else:
            self._arrivals = diurnal_arrivals(reads.rate.diurnal, scenario.duration, rng)
        self._handler = reads.handler_time
        self._query = reads.query_time
        #: the workload's query times: drawn, or a trace's replayed in order (the distribution then stands for them)
        self._queries = self._query if reads.trace is None or reads.trace.query_time is None \
            else Replay(reads.trace.query_times)
        self._handler_rng = stream(scenario.seed, replication, "read.handler_time")
        self._query_rng = stream(scenario.seed, replication, "read.query_time")
        own = query_time_of(scenario, architecture) if architecture is not None else self._query
        self._own_query = own if own != self._query else None
        self._coupling_rng = stream(scenario.seed, replication, "read.query_time.coupling")
        self._sessions = ReadSessions(scenario, replication)

    def __iter__(self) -> Iterator[tuple[list[float], list[float], list[float], list[int], list[int]]]:
        for times in self._arrivals:
            n = len(times)
            if n == 0:
                continue
            query = self._queries.sample(self._query_rng, n)
            if self._own_query is not None:
                query = couple(query, self._query, self._own_query, self._coupling_rng)
            keys, clients = self._sessions.draw(times)
            yield (times.tolist(), self._handler.sample(self._handler_rng, n).tolist(), query.tolist(), keys, clients)


class ReadSessions:
    """Each read's key (one uniform per read from ``read.key``, mapped through the popularity) and client
    (uniform over the clients, from ``read.client``), or a read trace's ``key`` and ``client`` columns in order."""

    def __init__(self, scenario: Scenario, replication: int):
        workload = scenario.workload
        self._keys: Optional[ReadKeys] = None
        if workload.keys is not None:
            arrivals = write_arrivals(scenario, stream(scenario.seed, replication, "write.arrivals"))
            self._keys = ReadKeys(scenario, arrivals)
            self._key_rng = stream(scenario.seed, replication, "read.key")
        self._clients = workload.reads.clients
        if self._clients is not None:
            self._client_rng = stream(scenario.seed, replication, "read.client")
        #: a read trace's key and client columns, replayed in order in place of the draws
        trace = workload.reads.trace
        self._key_replay = Replay(trace.keys) if trace is not None and trace.key is not None else None
        self._client_replay = Replay(trace.clients) if trace is not None and trace.client is not None else None

    def draw(self, times: np.ndarray) -> tuple[list[int], list[int]]:
        n = len(times)
        zeros = [0] * n
        if self._key_replay is not None:
            keys = self._key_replay.sample(self._key_rng, n).tolist()
        else:
            keys = zeros if self._keys is None else self._keys(self._key_rng.random(n), times).tolist()
        if self._client_replay is not None:
            clients = self._client_replay.sample(self._client_rng, n).tolist()
        else:
            clients = zeros if self._clients is None else self._client_rng.integers(0, self._clients, n).tolist()
        return keys, clients


@dataclass(frozen=True)
class WriteWorkload:
    arrival: np.ndarray  #: seconds, sorted
    apply_time: np.ndarray  #: per write
    keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int64))  #: per write, the keys it writes
    client: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  #: per write, the writer's client

    def __len__(self) -> int:
        return len(self.arrival)


def write_arrivals(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    writes = scenario.workload.writes
    duration = scenario.duration
    if writes is None:
        return np.empty(0)
    if writes.at is not None:
        at = np.sort(np.asarray(writes.at, dtype=float))
        return at[at < duration]
    if writes.trace is not None:
        return writes.trace.times[writes.trace.times < duration]
    if isinstance(writes.rate, list):  # steps, drawn as the reads' are
        return _joined(read_arrivals(writes.rate, duration, "poisson", rng))
    if writes.rate is not None and not isinstance(writes.rate, float):  # a diurnal shape
        return _joined(diurnal_arrivals(writes.rate.diurnal, duration, rng))
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


def _joined(blocks: Iterator[np.ndarray]) -> np.ndarray:
    parts = list(blocks)
    return np.concatenate(parts) if parts else np.empty(0)


def burst_arrivals(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    """Poisson arrivals of the write bursts (their own stream), in [0, duration)."""
    return np.sort(_joined(t for start, end, rate in burst_windows(scenario)
                           for t in _poisson_block(rng, start, end, rate)))


def write_workload(scenario: Scenario, replication: int) -> WriteWorkload:
    """Write arrivals and apply times of one replication, from their named streams (bursts from one of their own,
    drawn only when there are bursts)."""
    arrival = write_arrivals(scenario, stream(scenario.seed, replication, "write.arrivals"))
    if scenario.workload.writes is not None and scenario.workload.writes.bursts:
        bursts = burst_arrivals(scenario, stream(scenario.seed, replication, "write.bursts"))
        arrival = np.sort(np.concatenate([arrival, bursts]), kind="stable")
    if scenario.workload.writes is not None:
        apply = scenario.workload.writes.apply_time.sample(stream(scenario.seed, replication, "write.apply_time"), len(arrival))
    else:
        apply = np.empty(0)
    keys = write_keys(scenario, len(arrival), stream(scenario.seed, replication, "write.key"))
    clients = scenario.workload.reads.clients
    if clients is None:
        client = np.zeros(len(arrival), dtype=np.int64)
    else:
        client = stream(scenario.seed, replication, "write.client").integers(0, clients, len(arrival))
    return WriteWorkload(arrival, apply, keys, client)


def writes_of_design(writes: WriteWorkload, scenario: Scenario, replication: int, architecture: str) -> WriteWorkload:
    """``writes`` with ``architecture``'s own apply times (coupled write by write), or ``writes`` itself."""
    workload = scenario.workload.writes
    own = apply_time_of(scenario, architecture)
    if workload is None or own is None or own == workload.apply_time or not len(writes):
        return writes
    rng = stream(scenario.seed, replication, "write.apply_time.coupling")
    return WriteWorkload(writes.arrival, couple(writes.apply_time, workload.apply_time, own, rng), writes.keys,
                         writes.client)
