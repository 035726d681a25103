"""What a scenario implies on average, before anything runs: read and write rates, the expected rollout
length, and how variable arrivals are.

Read by the event budget (:mod:`.events`), the warnings, the offered loads of
``check`` and the run-time estimate.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .rollout import batch_size
from .scenario import Scenario, query_time_of


def mean_read_rate(scenario: Scenario) -> tuple[float, float]:
    """(time-averaged, peak) read rate over [0, duration)."""
    rate = scenario.workload.reads.rate
    if not isinstance(rate, list):
        grid = np.linspace(0.0, scenario.duration, 20001)
        values = rate.diurnal.rate(grid)
        return float(np.trapezoid(values, grid) / scenario.duration), float(values.max())
    steps = rate
    bounds = [s for s, _ in steps] + [scenario.duration]
    total = 0.0
    peak = 0.0
    for (start, rate), end in zip(steps, bounds[1:]):
        span = max(0.0, min(end, scenario.duration) - start)
        total += rate * span
        if span > 0:
            peak = max(peak, rate)
    return total / scenario.duration, peak


def peak_read_rate_between(scenario: Scenario, start: float, end: float) -> float:
    """The highest read arrival rate the scenario sets within [start, end) (steps or a diurnal shape)."""
    rate = scenario.workload.reads.rate
    end = min(end, scenario.duration)
    if not isinstance(rate, list):
        grid = np.linspace(start, end, 2001)
        return float(rate.diurnal.rate(grid).max())
    bounds = [s for s, _ in rate[1:]] + [math.inf]
    return max((r for (s, r), e in zip(rate, bounds) if s < end and e > start), default=0.0)


def burst_windows(scenario: Scenario) -> list[tuple[float, float, float]]:
    """(start, end, rate) of every write burst starting before ``duration``, in order of start."""
    writes = scenario.workload.writes
    duration = scenario.duration
    windows = []
    for burst in writes.bursts if writes is not None else []:
        start = burst.at
        while start < duration:
            windows.append((start, min(start + burst.duration, duration), burst.rate))
            if burst.every is None:
                break
            start += burst.every
    return sorted(windows)


def write_rate(scenario: Scenario) -> float:
    """Mean write rate over the run: the arrivals' (a rate, steps or a shape averaged over [0, duration)) and
    the bursts' (their writes spread over the run)."""
    writes = scenario.workload.writes
    if writes is None:
        return 0.0
    return _base_write_rate(scenario) + sum((end - start) * rate for start, end, rate in burst_windows(scenario)) \
        / scenario.duration


def _base_write_rate(scenario: Scenario) -> float:
    writes = scenario.workload.writes
    assert writes is not None
    if isinstance(writes.rate, float):
        return writes.rate
    if writes.rate is not None:
        return float(np.mean(_shape_rate_at(scenario, np.linspace(0.0, scenario.duration, 20001)[:-1])))
    if writes.at is not None:
        return len(writes.at) / scenario.duration
    if writes.trace is not None:
        return int((writes.trace.times < scenario.duration).sum()) / scenario.duration
    return 1.0 / writes.interval.mean  # type: ignore[union-attr]


def write_rate_at(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    """The write arrival rate at times ``t`` for a rate, steps or a shape, bursts included (other kinds of
    arrivals: their mean rate)."""
    t = np.asarray(t, dtype=float)
    if scenario.workload.writes is None:
        return np.zeros_like(t)
    base = _shape_rate_at(scenario, t)
    if base is None:
        base = np.full_like(t, _base_write_rate(scenario))
    for start, end, burst in burst_windows(scenario):
        base = base + np.where((t >= start) & (t < end), burst, 0.0)
    return base


def _shape_rate_at(scenario: Scenario, t: np.ndarray) -> np.ndarray | None:
    """The write arrival rate at times ``t`` set by ``writes.rate`` alone (one rate, steps or a shape; no bursts),
    None for writes that arrive otherwise."""
    rate = scenario.workload.writes.rate  # type: ignore[union-attr]
    if isinstance(rate, float):
        return np.full_like(t, rate)
    if isinstance(rate, list):
        starts = np.array([s for s, _ in rate])
        values = np.array([r for _, r in rate])
        return values[np.clip(np.searchsorted(starts, t, side="right") - 1, 0, None)]
    if rate is not None:
        return np.asarray(rate.diurnal.rate(t), dtype=float)
    return None


def peak_write_rate(scenario: Scenario) -> float:
    """The highest write arrival rate the scenario sets (steps, shape and bursts; the mean for other arrivals)."""
    if scenario.workload.writes is None:
        return 0.0
    t = np.linspace(0.0, scenario.duration, 20001)[:-1]
    t = np.concatenate([t, [start for start, _, _ in burst_windows(scenario)]])
    return float(write_rate_at(scenario, t).max())


def expected_rollout_length(scenario: Scenario) -> float:
    """Batches × E[max replace time in a batch] (+ a query's drain per batch)."""
    cqrs = scenario.cqrs
    count = cqrs.replicas.count
    sync = cqrs.sync
    size = batch_size(sync, count)
    batches = math.ceil(count / size)
    replace = cqrs.sync.replace_time
    if replace.variance == 0 or size == 1:
        per_batch = replace.mean
    elif size <= 100:  # E[max of `size` draws], by a fixed-seed Monte Carlo
        draws = replace.sample(np.random.default_rng(0), 20000 * size).reshape(20000, size)
        per_batch = float(draws.max(axis=1).mean())
    else:  # the same from the order statistics of one sample: E[max] = Σ x_(i) ((i/m)^n − ((i−1)/m)^n)
        draws = np.sort(replace.sample(np.random.default_rng(0), 200_000))
        cdf = np.arange(len(draws) + 1) / len(draws)
        per_batch = float(np.dot(draws, np.diff(cdf**size)))
    leaves_pool = sync.strategy in ("rolling", "all_at_once") and not sync.max_surge
    drain = query_time_of(scenario, "cqrs").mean if sync.drain and leaves_pool else 0.0
    return batches * (per_batch + drain)


def measured_scv(times: np.ndarray, duration: float) -> Optional[float]:
    """Squared coefficient of variation of the gaps between given arrival times before ``duration``
    (None when fewer than two gaps, or none positive, leave nothing to measure)."""
    times = np.sort(np.asarray(times, dtype=float))
    gaps = np.diff(times[times < duration])
    if len(gaps) < 2 or gaps.mean() <= 0:
        return None
    return float(gaps.var() / gaps.mean() ** 2)


def write_arrival_scv(scenario: Scenario) -> Optional[float]:
    """Squared coefficient of variation of the write inter-arrival times, for every way writes arrive: 1 for a
    Poisson rate, the interval distribution's, or measured from given times (``at``, a trace); None without
    writes, or when too few given times leave nothing to measure."""
    writes = scenario.workload.writes
    if writes is None:
        return None
    if writes.rate is not None:
        return 1.0
    if writes.interval is not None:
        return writes.interval.scv
    times = writes.trace.times if writes.trace is not None else writes.at
    return measured_scv(times, scenario.duration)  # type: ignore[arg-type]


def read_arrival_scv(scenario: Scenario) -> float:
    """Squared coefficient of variation of the read inter-arrival times: 1 for Poisson arrivals, 0 for evenly
    spaced ones, measured from a trace's times (1 when it has too few)."""
    reads = scenario.workload.reads
    if reads.trace is not None:
        measured = measured_scv(reads.trace.times, scenario.duration)
        return 1.0 if measured is None else measured
    return 1.0 if reads.process == "poisson" else 0.0
