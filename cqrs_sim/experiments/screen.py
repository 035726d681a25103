"""What a design costs and whether it can meet the SLOs, known before it is simulated.

Cost: ``cost_per_hour`` derives from the instance-seconds in the window
(:func:`cqrs_sim.analysis.metrics.cost_per_hour`): the write instance, the replicas
always running, and instances that are not always running (built beside the
others by a surge or blue-green rollout, or added by an autoscaler). So a
design's cost lies between two bounds known from its settings alone:
:func:`instance_bounds` gives the fewest and the most instances it can run at
once (an autoscaled pool between its min and max; a blue-green rollout builds
a whole second set beside the first, a surge rollout ``max_surge`` more), and
:func:`cost_bounds` prices them. Without autoscaling, surge or blue-green
both bounds are the cost the simulation measures.

Screening with the analytic twin (:func:`screen`): a design is infeasible
without simulating when

* a tier's offered load is 1 or more at the mean rate (the handlers, the
  database, a read pool, the write servers, a projector), and an SLO bounds
  a read or write latency: its queue grows all run, in steady state without
  bound (``screened: handler utilisation 1.3``);
* an analytic lower bound on an SLO's metric already fails the bound by more
  than :data:`MARGIN`: the mean read latency is at least the mean handler
  time plus the mean query time; a read-latency percentile is at least that
  percentile of the query time and of the handler time (every read takes
  both, after any wait); the cost is at least its lower bound.

The margin keeps a sampled metric that falls a little below its long-run
value (a percentile over a finite run) from being screened out wrongly.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..analysis.analytic import offered_loads
from ..analysis.metrics import cost_per_hour
from ..config.scenario import Scenario, query_time_of
from ..analysis.slo import SLO
from ..analysis.values import format_value

#: an analytic lower bound screens a design out only when it fails the SLO's bound by more than this share
MARGIN = 0.10
#: tiers a read or a write waits in for as long as the run lasts when they are overloaded (rollouts and the
#: pool during a rollout are transient; "rollouts" is a duty cycle, not a queue)
_PERSISTENT = ("handlers", "database", "read replicas", "replica pool", "primary (writes)", "write servers",
               "projector (each replica)")
_PERCENTILES = {"read_latency_p50": 0.50, "read_latency_p95": 0.95, "read_latency_p99": 0.99,
                "read_latency_p999": 0.999}


def instance_bounds(scenario: Scenario, architecture: str) -> tuple[float, float]:
    """(fewest, most) database instances ``architecture`` runs at once: the write instance and its replicas."""
    if architecture == "crud":
        crud = scenario.crud
        if crud.replica_autoscale is not None:
            return 1 + crud.replica_autoscale.min, 1 + crud.replica_autoscale.max
        return 1 + crud.replicas, 1 + crud.replicas
    cqrs = scenario.cqrs
    low = high = cqrs.replicas.count
    if cqrs.autoscale is not None:
        low, high = cqrs.autoscale.min, cqrs.autoscale.max
    sync = cqrs.sync
    if scenario.workload.writes is not None and sync.strategy == "blue_green":
        high *= 2  # the green set is built beside the blue one
    elif scenario.workload.writes is not None and sync.strategy == "rolling":
        high += sync.max_surge
    return 1 + low, 1 + high


def cost_bounds(scenario: Scenario, architecture: str) -> Optional[tuple[float, float]]:
    """(lowest, highest) ``cost_per_hour`` of ``architecture`` (None: the scenario gives no prices)."""
    if scenario.cost is None:
        return None
    keeps_snapshot = architecture == "cqrs" and scenario.cqrs.sync.strategy != "projection"
    low, high = instance_bounds(scenario, architecture)
    return (cost_per_hour(scenario.cost, keeps_snapshot, low, 1.0),
            cost_per_hour(scenario.cost, keeps_snapshot, high, 1.0))


def metric_bounds(scenario: Scenario, architecture: str, metric: str) -> Optional[tuple[float, float]]:
    """(lowest, highest) value of ``metric`` known before simulating, for the metrics that have them: the cost,
    and replica_seconds (instances × window); None for every other metric."""
    if metric == "cost_per_hour":
        return cost_bounds(scenario, architecture)
    if metric == "replica_seconds":
        low, high = instance_bounds(scenario, architecture)
        return low * scenario.window, high * scenario.window
    return None


def _quantile(distribution, p: float) -> float:
    return float(np.asarray(distribution.ppf(np.array([p])))[0])


def lower_bound(scenario: Scenario, architecture: str, metric: str) -> Optional[float]:
    """An analytic lower bound on ``metric`` (None where this module knows none)."""
    reads = scenario.workload.reads
    query = query_time_of(scenario, architecture)
    if metric == "read_latency_mean":
        return reads.handler_time.mean + query.mean
    if metric in _PERCENTILES:
        p = _PERCENTILES[metric]
        return max(_quantile(query, p), _quantile(reads.handler_time, p))
    bounds = metric_bounds(scenario, architecture, metric)
    return None if bounds is None else bounds[0]


def screen(scenario: Scenario, architecture: str, slos: list[SLO]) -> Optional[str]:
    """Why ``architecture`` of ``scenario`` cannot meet ``slos`` (``handler utilisation 1.3``), or None."""
    latency = any(s.upper and (s.metric.startswith("read_latency") or s.metric.startswith("write_latency"))
                  for s in slos)
    if latency:
        for tier in offered_loads(scenario):
            if tier.architecture == architecture and tier.tier in _PERSISTENT and tier.utilization >= 1:
                name = tier.tier.split(" (")[0]
                return f"{name} utilisation {tier.utilization:.2f}"
    for slo in slos:
        bound = lower_bound(scenario, architecture, slo.metric)
        if bound is None or not slo.upper or not math.isfinite(bound):
            continue
        if bound > slo.bound * (1 + MARGIN) or (slo.metric == "cost_per_hour" and not slo.holds(bound)):
            return f"{slo.metric} at least {format_value(slo.metric, bound)}, which fails {slo.text}"
    return None


__all__ = ["MARGIN", "cost_bounds", "instance_bounds", "lower_bound", "metric_bounds", "screen"]
