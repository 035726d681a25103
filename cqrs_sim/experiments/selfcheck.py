"""Built-in validation: simulated against theory, so anyone can check an install (``cqrs-sim validate``).

Stochastic cases pass when the theory lies inside the 99% Student-t
interval of the replications; deterministic cases when the simulated value
equals the hand-derived one to 1e-9. The derivations are in
tests/validation/, which checks the same cases and more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

from ..analysis.queueing import mg1_wait, mmc_wait
from ..core.intervals import contains
from ..config.loader import parse_scenario
from .simulate import simulate

#: the deterministic timeline of tests/validation/test_timeline.py (derivation there)
TIMELINE = """
duration: 100s
warmup: 0s
replications: 1
workload:
  reads:
    rate: 1/s
    process: uniform
    handler_time: 0s
    query_time: 400ms
  writes:
    at: [10.2s, 50.2s]
    apply_time: 5s
handlers: {count: 1, concurrency: 1000}
crud: {connections: 2, locking: exclusive}
cqrs:
  write_servers: 1
  replicas: {count: 3, connections: 2, routing: round_robin}
  sync: {strategy: rolling, batch_size: 1, replace_time: 10s, trigger_delay: 2.4s, drain: true}
"""

QUEUE = """
duration: {duration}
warmup: 20s
seed: {seed}
replications: {replications}
architectures: [cqrs]
workload:
  reads:
    rate: {rate}/s
    handler_time: 0s
    query_time: {query}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: 1, connections: {c}}}
"""


@dataclass
class Check:
    case: str
    quantity: str
    theory: float
    simulated: float
    low: float  #: interval (equal to simulated for deterministic checks)
    high: float
    passed: bool
    kind: str = "duration"  #: how the values are written (cqrs_sim.config.format.format_kind)


def _interval(values: np.ndarray, level: float = 0.99) -> tuple[float, float, float]:
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def _queue(case: str, theory: float, *, rate: float, query: str, c: int, duration: str = "4m") -> Check:
    text = QUEUE.format(rate=rate, query=query, c=c, duration=duration, seed=5, replications=6)
    results = simulate(parse_scenario(text, f"<{case}>"))
    mean, low, high = _interval(results.per_replication["read_latency_mean"].to_numpy())
    return Check(case, "mean read latency", theory, mean, low, high, contains(low, high, theory))


def _exact(case: str, quantity: str, theory: float, simulated: float, kind: str = "duration") -> Check:
    return Check(case, quantity, theory, simulated, simulated, simulated, abs(simulated - theory) < 1e-9, kind)


def _timeline() -> list[Check]:
    results = simulate(parse_scenario(TIMELINE, "<timeline>"))
    s = results.summary().set_index(["architecture", "metric"])["mean"]
    w = results.writes[results.writes["architecture"] == "cqrs"].sort_values("version")
    return [
        _exact("CRUD exclusive lock (timeline)", "mean read latency", 0.676, s[("crud", "read_latency_mean")]),
        _exact("CRUD exclusive lock (timeline)", "max read latency", 4.8, s[("crud", "read_latency_max")]),
        _exact("CRUD exclusive lock (timeline)", "write latency", 5.2, s[("crud", "write_latency_mean")]),
        _exact("CQRS rolling rollout (timeline)", "first_visible, write 1", 27.6, float(w["first_visible"].iloc[0])),
        _exact("CQRS rolling rollout (timeline)", "all_visible, write 1", 47.6, float(w["all_visible"].iloc[0])),
        _exact("CQRS rolling rollout (timeline)", "replica availability", 0.8, s[("cqrs", "replica_availability")],
               "fraction"),
        _exact("CQRS rolling rollout (timeline)", "stale-read fraction", 0.34, s[("cqrs", "stale_read_fraction")],
               "fraction"),
    ]


def run_checks(report: Callable[[Check], None] = lambda check: None) -> list[Check]:
    """Every built-in check, reported one by one as it finishes."""
    cases: list[Callable[[], list[Check]]] = [
        lambda: [_queue("M/M/1, rho 0.7", 1 / (250 - 175), rate=175, query="{dist: exponential, mean: 4ms}", c=1, duration="6m")],
        lambda: [_queue("M/M/4, rho 0.8 (Erlang C)", mmc_wait(800, 0.004, 4) + 0.004, rate=800,
                        query="{dist: exponential, mean: 4ms}", c=4)],
        lambda: [_queue("M/D/1, rho 0.8 (Pollaczek-Khinchine)", mg1_wait(200, 0.004, 0.0) + 0.004, rate=200, query="4ms", c=1)],
        _timeline,
    ]
    checks = []
    for case in cases:
        for check in case():
            report(check)
            checks.append(check)
    return checks
