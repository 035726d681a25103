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
from .scenario import Scenario, apply_time_of, burst_windows, query_time_of


def erlang_c(servers: int, offered: float) -> float:
    """P(wait) in M/M/c with ``offered`` = λ/μ erlangs; 1 when unstable."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
        if blocking == 0.0:  # underflowed: it stays 0 for every later k
            break
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
        return float(np.mean(write_rate_at(scenario, np.linspace(0.0, scenario.duration, 20001)[:-1])))
    if writes.at is not None:
        return len(writes.at) / scenario.duration
    if writes.trace is not None:
        return int((writes.trace.times < scenario.duration).sum()) / scenario.duration
    return 1.0 / writes.interval.mean  # type: ignore[union-attr]


def write_rate_at(scenario: Scenario, t: np.ndarray) -> np.ndarray:
    """The write arrival rate at times ``t`` for a rate, steps or a shape, bursts included (None for other
    kinds of arrivals: then the mean rate)."""
    writes = scenario.workload.writes
    t = np.asarray(t, dtype=float)
    if writes is None:
        return np.zeros_like(t)
    rate = writes.rate
    if isinstance(rate, float):
        base = np.full_like(t, rate)
    elif isinstance(rate, list):
        starts = np.array([s for s, _ in rate])
        values = np.array([r for _, r in rate])
        base = values[np.clip(np.searchsorted(starts, t, side="right") - 1, 0, None)]
    elif rate is not None:
        base = np.asarray(rate.diurnal.rate(t), dtype=float)
    else:
        base = np.full_like(t, _base_write_rate(scenario))
    for start, end, burst in burst_windows(scenario):
        base = base + np.where((t >= start) & (t < end), burst, 0.0)
    return base


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


def projection_lag(scenario: Scenario) -> tuple[float, Optional[float], str]:
    """(mean time from a commit until one replica has applied it, its 99th percentile or None, the method).

    Each replica is a single-server FIFO queue of events at the write rate with
    projection_time service (commits taken to arrive as the writes do). With
    Poisson writes and exponential projection times it is M/M/1, whose sojourn
    time is exponential with rate 1/m − w: mean 1/(1/m − w), p99 ln(100)/(1/m − w).
    Otherwise the mean is the G/G/1 wait (:func:`ggc_wait`) plus m; the p99 is not estimated.
    """
    sync = scenario.cqrs.sync
    projection = sync.projection_time
    w, m = write_rate(scenario), projection.mean
    ca2 = write_arrival_scv(scenario)
    if w * m >= 1:
        return math.inf, math.inf, "unstable"
    if ca2 == 1 and projection.scv == 1:
        rate = 1 / m - w
        return sync.trigger_delay + 1 / rate, sync.trigger_delay + math.log(100) / rate, method(1.0, 1.0, 1)
    wait = ggc_wait(w, m, 1, 1.0 if ca2 is None else ca2, projection.scv)
    return sync.trigger_delay + wait + m, None, method(1.0 if ca2 is None else ca2, projection.scv, 1)


def method(arrival_scv: float, service_scv: float, servers: int) -> str:
    """The name of the estimate ``ggc_wait`` gives for these inputs: exact formulas are named as such."""
    if arrival_scv == 1 and service_scv == 1:
        return f"Erlang C (M/M/{servers})"
    if arrival_scv == 1 and servers == 1:
        return "Pollaczek–Khinchine (M/G/1)"
    kind = ("M" if arrival_scv == 1 else "G") + "/" + ("M" if service_scv == 1 else "G") + f"/{servers}"
    return f"Allen–Cunneen approximation ({kind})"


def _fmt(seconds: float) -> str:
    from .units import format_duration

    if math.isinf(seconds):
        return "unbounded"
    return "<1us" if seconds < 1e-6 else format_duration(seconds)


def steady_pools(scenario: Scenario) -> Scenario:
    """The scenario with each autoscaled read pool at the count its autoscaler settles on at the mean read rate."""
    rate, _ = mean_read_rate(scenario)
    busy = rate * scenario.workload.reads.query_time.mean
    crud, cqrs = scenario.crud, scenario.cqrs
    if crud.replica_autoscale is not None:
        n = crud.replica_autoscale.desired(busy, crud.replica_connections)
        scenario = scenario.model_copy(update={"crud": crud.model_copy(update={"replicas": n})})
    if cqrs.autoscale is not None:
        n = cqrs.autoscale.desired(busy, cqrs.replicas.connections)
        replicas = cqrs.replicas.model_copy(update={"count": n})
        scenario = scenario.model_copy(update={"cqrs": cqrs.model_copy(update={"replicas": replicas})})
    return scenario


def offered_loads(scenario: Scenario) -> list[TierLoad]:
    """Utilisation (arrival rate × mean service / capacity) of every tier, with estimates; an autoscaled pool
    at the count its autoscaler settles on at the mean read rate (see :func:`steady_pools`)."""
    scenario = steady_pools(scenario)
    reads = scenario.workload.reads
    rate, peak = mean_read_rate(scenario)
    ca2 = read_arrival_scv(scenario)
    h = reads.handler_time
    w_rate = write_rate(scenario)
    w_peak = peak_write_rate(scenario)
    writes = scenario.workload.writes
    out: list[TierLoad] = []

    def tier(arch: str, name: str, lam: float, lam_peak: float, service: float, capacity: int, estimate: str,
             extra: float = 0.0, what: str = "queues grow without bound", busiest: str = "read step") -> None:
        rho = lam * service / capacity + extra
        rho_peak = lam_peak * service / capacity + extra
        warning = None
        if rho >= 1:
            warning = f"{arch} {name}: utilisation {rho:.2f} >= 1: {what}"
        elif rho_peak >= 1:
            warning = f"{arch} {name}: utilisation {rho_peak:.2f} >= 1 during the busiest {busiest}: queues grow while it lasts"
        out.append(TierLoad(arch, name, lam, service, capacity, rho, rho_peak, estimate, warning))

    handlers = scenario.handlers
    slots = handlers.count * handlers.concurrency
    for arch in scenario.architectures:
        start = len(out)
        q = query_time_of(scenario, arch)  # each design's own query and apply times
        apply = apply_time_of(scenario, arch)
        apply_mean = apply.mean if apply is not None else 0.0
        apply_second = (apply.variance + apply_mean**2) if apply is not None else 0.0
        lock_note = ""
        # the read path below the handlers: (mean wait for a connection, connections it may use)
        if arch == "crud" and scenario.crud.replicas:
            crud = scenario.crud
            c = crud.replicas * crud.replica_connections
            binds = slots <= c
            wait = 0.0 if binds else ggc_wait(rate, q.mean, c, ca2, q.scv)
            tier(arch, "read replicas", rate, peak, q.mean, c,
                 f"pooled over {crud.replicas} replicas, {_db_wait(wait, binds, slots, ca2, q.scv, c)}, "
                 f"latency {_fmt(h.mean + wait + q.mean)}; "
                 f"reads never wait for the primary; replication lag mean {_fmt(crud.replication_lag.mean)}"
                 + ("; the autoscaler's count at the mean rate" if crud.replica_autoscale else ""))
            if writes is not None:
                capacity = 1 if crud.locking == "exclusive" else crud.connections
                tier(arch, "primary (writes)", w_rate, w_peak, apply_mean, capacity, "writes only; reads go to the replicas",
                     busiest="write rate (steps, shape or bursts)")
        elif arch == "crud":
            c = scenario.crud.connections
            binds = slots <= c
            wait = 0.0 if binds else ggc_wait(rate, q.mean, c, ca2, q.scv)
            if scenario.crud.locking == "exclusive":
                blocked = w_rate * apply_mean
                block_wait = w_rate * apply_second / 2
                est = f"reads alone: {_db_wait(wait, binds, slots, ca2, q.scv, c)}, latency {_fmt(h.mean + wait + q.mean)}"
                if w_rate:
                    est += f"; locked {blocked:.1%} of the time, adding about {_fmt(block_wait)} mean wait per read"
                    per_lock = rate * apply_mean
                    if per_lock > slots:
                        lock_note = (f"; during each write's lock (mean {_fmt(apply_mean)}) about {per_lock:,.0f} reads "
                                     f"arrive for {slots} slots: the slots fill and reads queue for them")
                tier(arch, "database", rate, peak, q.mean, c, est, extra=blocked)
            else:
                est = f"{_db_wait(wait, binds, slots, ca2, q.scv, c)}, latency {_fmt(h.mean + wait + q.mean)}"
                tier(arch, "database", rate, peak, q.mean, c, est, extra=w_rate * apply_mean / c)
        else:
            servers = scenario.cqrs.write_servers
            if writes is not None:
                scv = apply.scv  # type: ignore[union-attr]
                w_wait = ggc_wait(w_rate, apply_mean, servers, 1.0, scv)
                tier(arch, "write servers", w_rate, w_peak, apply_mean, servers,
                     f"{method(1.0, scv, servers)} write wait {_fmt(w_wait)}, write latency {_fmt(w_wait + apply_mean)}",
                     busiest="write rate (steps, shape or bursts)")
            rep = scenario.cqrs.replicas
            c = rep.count * rep.connections
            binds = slots <= c
            pooled = rep.routing in ("least_outstanding", "power_of_two", "prefer_fresh")
            if pooled:
                wait = 0.0 if binds else ggc_wait(rate, q.mean, c, ca2, q.scv)
                how = "pooled (" + rep.routing + (", which is close to pooled" if rep.routing == "power_of_two" else "") + ")"
                est = _db_wait(wait, binds, slots, ca2, q.scv, c)
            else:
                wait = ggc_wait(rate / rep.count, q.mean, rep.connections, ca2, q.scv)
                how = f"one replica at 1/{rep.count} of the reads ({rep.routing})"
                est = f"{method(ca2, q.scv, rep.connections)} wait {_fmt(wait)}"
            snapshots = " outside rollouts" if scenario.cqrs.sync.strategy != "projection" else ""
            tier(arch, "replica pool", rate, peak, q.mean, c,
                 f"{how}: {est}, latency {_fmt(h.mean + wait + q.mean)}{snapshots}"
                 + (f"; {rep.count} replicas, the autoscaler's count at the mean rate" if scenario.cqrs.autoscale else ""))
        _handler_tier(out, start, arch, tier, rate, peak, ca2, h, q, wait, binds, handlers, scenario.load_balancer, lock_note)
        if arch == "cqrs" and scenario.cqrs.sync.strategy == "projection":
            _projection_tiers(out, scenario, tier, rate, peak, q.mean)
        elif arch == "cqrs":
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


def _projection_tiers(out: list[TierLoad], scenario: Scenario, tier, rate: float, peak: float, query: float) -> None:
    """The projectors (one per replica, each a single-server queue of the writes) and what prefer_fresh does to them."""
    rep, sync, writes = scenario.cqrs.replicas, scenario.cqrs.sync, scenario.workload.writes
    if writes is None:
        return
    w, m = write_rate(scenario), sync.projection_time.mean
    mean, p99, how = projection_lag(scenario)
    if math.isinf(mean):
        est = "each replica applies writes slower than they come: its lag grows all run"
    else:
        est = f"{how}: a replica holds a write {_fmt(mean)} after its commit on average"
        if p99 is not None:
            est += f", 99% of (write, replica) pairs within {_fmt(p99)} (visibility_t99)"
        est += (f"; a replica rebuilt after {_fmt(scenario.duration)} replays about {w * scenario.duration:,.0f} "
                f"writes in about {_fmt(w * scenario.duration * m / (1 - w * m))}")
    tier("cqrs", "projector (each replica)", w, w, m, 1, est,
         what="each replica applies writes slower than they come: its lag grows all run")
    if rep.routing == "prefer_fresh":
        tier("cqrs", "freshest replica", rate, peak, query, rep.connections,
             "prefer_fresh sends every read to the replica(s) that applied the newest write first, often one",
             what="queues grow on the freshest replica after every write")


def _db_wait(wait: float, binds: bool, slots: int, ca2: float, scv: float, connections: int) -> str:
    if binds:
        return f"no wait: the {slots} handler slots bind first, so at most {slots} reads reach its {connections} connections"
    return f"{method(ca2, scv, connections)} wait {_fmt(wait)}"


def _handler_tier(out: list[TierLoad], at: int, arch: str, tier, rate: float, peak: float, ca2: float, h, q,
                  db_wait: float, binds: bool, handlers, balancer: str, note: str = "") -> None:
    """The handler slots: a read holds one for its handler time, its wait for a connection and its query
    (the wait behind an exclusive write lock is left out of the mean and described in ``note`` instead)."""
    slots = handlers.count * handlers.concurrency
    saturated = math.isinf(db_wait)
    hold = h.mean + q.mean + (0.0 if saturated else db_wait)
    scv = (h.variance + q.variance) / hold**2 if hold > 0 else 0.0
    if balancer in ("least_outstanding", "power_of_two"):
        wait = ggc_wait(rate, hold, slots, ca2, scv)
        how = f"pooled ({balancer}): {method(ca2, scv, slots)}"
    else:  # each handler sees 1/count of the reads; round robin also evens out their gaps
        share = ca2 / handlers.count if balancer == "round_robin" else ca2
        wait = ggc_wait(rate / handlers.count, hold, handlers.concurrency, share, scv)
        who = f"one handler at 1/{handlers.count} of the reads ({balancer})" if handlers.count > 1 else "one handler"
        how = f"{who}: {method(share, scv, handlers.concurrency)}"
    if saturated:
        est = "lower bound (the tier below is saturated, so a slot is also held while its queue grows)"
    else:
        est = f"{how} wait for a slot {_fmt(wait)}; end to end about {_fmt(wait + hold)}"
        if binds:
            est += f"; the handler slots ({slots}) bind before the connections below them"
    est += note
    before = len(out)
    tier(arch, "handlers", rate, peak, hold, slots, est)
    out.insert(at, out.pop(before))
