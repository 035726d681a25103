"""Queueing theory the simulator is checked against, and the offered-load estimates of ``check``.

Erlang C (M/M/c), Pollaczek–Khinchine (M/G/1) and the Allen–Cunneen
approximation (G/G/c) give mean waits in queue; ``offered_loads`` turns a
scenario into per-tier utilisations with those estimates beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .model.rollout import batch_size
from .scenario import Scenario


def erlang_c(servers: int, offered: float) -> float:
    """P(wait) in M/M/c with ``offered`` = λ/μ erlangs; 1 when unstable."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    rho = offered / servers
    return blocking / (1 - rho * (1 - blocking))


def mmc_wait(rate: float, mean_service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C): C(c, a) / (cμ − λ); inf when unstable."""
    offered = rate * mean_service
    if offered >= servers:
        return math.inf
    return erlang_c(servers, offered) * mean_service / (servers - offered)


def mg1_wait(rate: float, mean_service: float, scv: float) -> float:
    """Mean wait in queue of M/G/1 (Pollaczek–Khinchine): ρ E[S] (1 + cs²) / (2 (1 − ρ))."""
    rho = rate * mean_service
    if rho >= 1:
        return math.inf
    return rho * mean_service * (1 + scv) / (2 * (1 - rho))


def ggc_wait(rate: float, mean_service: float, servers: int, arrival_scv: float, service_scv: float) -> float:
    """Allen–Cunneen approximation for G/G/c: Erlang C wait × (ca² + cs²) / 2 (exact for M/M/c and M/G/1)."""
    return mmc_wait(rate, mean_service, servers) * (arrival_scv + service_scv) / 2


@dataclass(frozen=True)
class TierLoad:
    """Offered load on one tier of one architecture."""

    architecture: str
    tier: str
    arrival_rate: float  #: per second, averaged over the run
    mean_service: float  #: seconds a request holds one unit of capacity
    capacity: int  #: servers, slots or connections
    utilization: float  #: at the average arrival rate
    peak_utilization: float  #: at the busiest read-rate step
    estimate: str  #: analytic estimate beside it
    warning: Optional[str] = None


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


def write_rate(scenario: Scenario) -> float:
    writes = scenario.workload.writes
    if writes is None:
        return 0.0
    if writes.rate is not None:
        return writes.rate
    if writes.at is not None:
        return len(writes.at) / scenario.duration
    return 1.0 / writes.interval.mean  # type: ignore[union-attr]


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
    else:  # E[max of `size` draws], by a fixed-seed Monte Carlo
        draws = replace.sample(np.random.default_rng(0), 20000 * size).reshape(20000, size)
        per_batch = float(draws.max(axis=1).mean())
    leaves_pool = sync.strategy in ("rolling", "all_at_once") and not sync.max_surge
    drain = scenario.workload.reads.query_time.mean if sync.drain and leaves_pool else 0.0
    return batches * (per_batch + drain)


def _fmt(seconds: float) -> str:
    from .units import format_duration

    if math.isinf(seconds):
        return "unbounded"
    return "<1us" if seconds < 1e-6 else format_duration(seconds)


def offered_loads(scenario: Scenario) -> list[TierLoad]:
    """Utilisation (arrival rate × mean service / capacity) of every tier, with estimates."""
    reads = scenario.workload.reads
    rate, peak = mean_read_rate(scenario)
    ca2 = 1.0 if reads.process == "poisson" else 0.0
    q, h = reads.query_time, reads.handler_time
    w_rate = write_rate(scenario)
    writes = scenario.workload.writes
    apply_mean = writes.apply_time.mean if writes is not None else 0.0
    apply_second = (writes.apply_time.variance + apply_mean**2) if writes is not None else 0.0
    out: list[TierLoad] = []

    def tier(arch: str, name: str, lam: float, lam_peak: float, service: float, capacity: int, estimate: str,
             extra: float = 0.0, what: str = "queues grow without bound") -> None:
        rho = lam * service / capacity + extra
        rho_peak = lam_peak * service / capacity + extra
        warning = None
        if rho >= 1:
            warning = f"{arch} {name}: utilisation {rho:.2f} >= 1: {what}"
        elif rho_peak >= 1:
            warning = f"{arch} {name}: utilisation {rho_peak:.2f} >= 1 during the busiest read step: queues grow while it lasts"
        out.append(TierLoad(arch, name, lam, service, capacity, rho, rho_peak, estimate, warning))

    slots = scenario.handlers.count * scenario.handlers.concurrency
    for arch in scenario.architectures:
        tier(arch, "handlers", rate, peak, h.mean + q.mean, slots,
             "lower bound: a slot is also held while the query waits")
        if arch == "crud" and scenario.crud.replicas:
            crud = scenario.crud
            c = crud.replicas * crud.replica_connections
            wait = ggc_wait(rate, q.mean, c, ca2, q.scv)
            tier(arch, "read replicas", rate, peak, q.mean, c,
                 f"pooled M/G/c over {crud.replicas} replicas: wait {_fmt(wait)}, latency {_fmt(h.mean + wait + q.mean)}; "
                 f"reads never wait for the primary; replication lag mean {_fmt(crud.replication_lag.mean)}")
            if writes is not None:
                capacity = 1 if crud.locking == "exclusive" else crud.connections
                tier(arch, "primary (writes)", w_rate, w_rate, apply_mean, capacity, "writes only; reads go to the replicas")
        elif arch == "crud":
            c = scenario.crud.connections
            wait = ggc_wait(rate, q.mean, c, ca2, q.scv)
            if scenario.crud.locking == "exclusive":
                blocked = w_rate * apply_mean
                block_wait = w_rate * apply_second / 2
                est = f"reads alone: Erlang C wait {_fmt(wait)}, latency {_fmt(h.mean + wait + q.mean)}"
                if w_rate:
                    est += f"; locked {blocked:.1%} of the time, adding about {_fmt(block_wait)} mean wait per read"
                tier(arch, "database", rate, peak, q.mean, c, est, extra=blocked)
            else:
                est = f"Erlang C wait {_fmt(wait)}, latency {_fmt(h.mean + wait + q.mean)}"
                tier(arch, "database", rate, peak, q.mean, c, est, extra=w_rate * apply_mean / c)
        else:
            servers = scenario.cqrs.write_servers
            if writes is not None:
                w_wait = ggc_wait(w_rate, apply_mean, servers, 1.0, writes.apply_time.scv)
                tier(arch, "write servers", w_rate, w_rate, apply_mean, servers,
                     f"Erlang C write wait {_fmt(w_wait)}, write latency {_fmt(w_wait + apply_mean)}")
            rep = scenario.cqrs.replicas
            pooled = rep.routing in ("least_outstanding", "power_of_two", "prefer_fresh")
            if pooled:
                wait = ggc_wait(rate, q.mean, rep.count * rep.connections, ca2, q.scv)
                how = "pooled M/G/c (" + rep.routing + (", which is close to pooled" if rep.routing == "power_of_two" else "") + ")"
            else:
                wait = ggc_wait(rate / rep.count, q.mean, rep.connections, ca2, q.scv)
                how = f"one replica's M/G/c at 1/{rep.count} of the reads ({rep.routing})"
            tier(arch, "replica pool", rate, peak, q.mean, rep.count * rep.connections,
                 f"{how}: wait {_fmt(wait)}, latency {_fmt(h.mean + wait + q.mean)} outside rollouts")
            sync = scenario.cqrs.sync
            size = batch_size(sync, rep.count)
            keeps_capacity = sync.strategy == "blue_green" or sync.max_surge > 0
            if writes is not None and keeps_capacity:
                pass  # new replicas are built beside the old ones: the pool never shrinks
            elif writes is not None:
                left = (rep.count - size) * rep.connections
                if left == 0:
                    est = "every replica leaves at once: reads wait for the first to rejoin"
                    out.append(TierLoad(arch, "replica pool in rollout", rate, q.mean, 0, math.inf, math.inf, est, None))
                else:
                    tier(arch, "replica pool in rollout", rate, peak, q.mean, left,
                         f"{rep.count - size} of {rep.count} replicas in the pool",
                         what="queues grow during every rollout")
            if writes is not None and rep.routing == "prefer_fresh":
                first = rep.count if sync.strategy == "blue_green" else size
                tier(arch, "fresh replicas early in a rollout", rate, peak, q.mean, first * rep.connections,
                     f"prefer_fresh sends every read to the {first} replica(s) refreshed first",
                     what="queues grow on the fresh replicas during every rollout")
            if writes is not None:
                length = expected_rollout_length(scenario)
                duty = w_rate * length
                warning = None
                if duty >= 1:
                    warning = (f"cqrs rollouts: duty cycle {duty:.2f} >= 1: rollouts run back to back and never catch up; "
                               "most reads are stale and writes ship in batches")
                out.append(TierLoad(arch, "rollouts", w_rate, length, 1, duty, duty,
                                    f"expected rollout {_fmt(length)} x write rate", warning))
    return out
