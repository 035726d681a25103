"""The offered-load estimates of ``check``: per-tier utilisations with queueing estimates beside them.

``offered_loads`` turns a scenario into the utilisation of every tier, each
with the mean wait the queueing formulas (:mod:`.queueing`) give for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..config.rollout import batch_size
from ..config.expected import (expected_rollout_length, mean_read_rate, peak_write_rate, read_arrival_scv,
                               write_arrival_scv, write_rate)
from ..config.scenario import Scenario, apply_time_of, query_time_of
from .queueing import ggc_wait, method
from ..config.format import format_duration


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


def _fmt(seconds: float) -> str:

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
