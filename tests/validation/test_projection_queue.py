"""Validation of projections against queueing theory: each projecting replica is an M/M/1 queue.

Set-up: Poisson writes at rate w = 1/s on one write server with exponential
apply time (an M/M/1 queue, so by Burke's theorem its commits are again a
Poisson process at rate w); every commit reaches every replica at once
(trigger_delay 0), and a replica applies events one at a time in commit
order with exponential projection times of mean m = 0.5 s: each replica is
an M/M/1 queue with arrival rate w and service rate μ = 1/m, utilisation
ρ = w m = 0.5. In steady state the FCFS sojourn time of an M/M/1 queue
(from a commit until that replica has applied it) is exponential with rate
μ − w, so

* the t-visibility curve, the probability that a (version, replica) pair is
  visible t after the commit, is P(t) = 1 − exp(−(μ − w) t). A read routed
  at random, independently of the replicas' state, samples one such pair,
  so the share of (read, version) pairs whose read sees the version is the
  same curve; over a bin [a, b) of t its average is
  1 − (exp(−(μ − w) a) − exp(−(μ − w) b)) / ((μ − w)(b − a));
* ``visibility_t99``, the time from which 99% see the write, is
  ln(100) / (μ − w) = 4.61 s;
* a read is stale exactly when its replica has not applied every commit,
  i.e. its queue is not empty; Poisson reads see the time average (PASTA),
  so ``stale_read_fraction`` = P(busy) = ρ = 0.5.

Reads (Poisson, 100/s, 1 ms queries on ample connections) do not disturb
the projectors: applying an event takes no connection.

Tolerance: the theory must lie inside the 99% Student-t interval of the
replications' values, and that interval must be narrow (half-width stated
per check), so a test cannot pass by being imprecise. ``visibility_t99`` is
read off the curve's monotone fit in bins of 1/2000 of its horizon; the
interval is not widened.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.analysis.visibility import curve_counts

from .stats import per_replication, t_interval

pytestmark = pytest.mark.validation

W, M = 1.0, 0.5
RATE = 1 / M - W  #: μ − w, the rate of the sojourn time

MM1 = """
duration: 1500s
warmup: 0s
seed: 3
replications: 8
architectures: [cqrs]
record: full
workload:
  reads:
    rate: 100/s
    handler_time: 0s
    query_time: 1ms
  writes:
    rate: {w}/s
    apply_time: {{dist: exponential, mean: 50ms}}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: 8, connections: 1000, routing: random}}
  sync: {{strategy: projection, projection_time: {{dist: exponential, mean: {m}s}}}}
"""


@pytest.fixture(scope="module")
def mm1(tmp_path_factory):
    path = tmp_path_factory.mktemp("mm1") / "mm1.yaml"
    path.write_text(MM1.format(w=W, m=M), encoding="utf-8")
    return cqrs_sim.simulate(cqrs_sim.load_scenario(path))


def bin_theory(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1 - (np.exp(-RATE * a) - np.exp(-RATE * b)) / (RATE * (b - a))


def test_visibility_curve_is_the_mm1_sojourn_distribution(mm1):
    """At t = 0.5, 1, 2 and 3 mean sojourns after the commit, each replication's share
    of (read, version) pairs seeing the version, in a bin 0.1 mean sojourns wide."""
    req, writes = mm1.requests, mm1.writes
    edges = np.array([0, 0.45, 0.55, 0.95, 1.05, 1.95, 2.05, 2.95, 3.05]) / RATE  # the odd bins are checked
    lo, hi = edges[1::2], edges[2::2]
    shares = []
    for rep in range(mm1.scenario.replications):
        reads = req[(req.kind == "read") & (req.replication == rep)]
        w = writes[writes.replication == rep]
        n, seen = curve_counts(reads, w, edges)
        shares.append(seen[1::2] / n[1::2])
    shares = np.array(shares)
    theory = bin_theory(lo, hi)
    for k, t in enumerate((lo + hi) / 2):
        mean, low, high = t_interval(shares[:, k])
        print(f"t = {t:.2f}s: simulated {mean:.4f} (99% CI {low:.4f}..{high:.4f}), theory {theory[k]:.4f}")
        assert low <= theory[k] <= high
        assert (high - low) / 2 < 0.03


def test_visibility_t99_is_ln100_over_the_sojourn_rate(mm1):
    theory = math.log(100) / RATE
    values = per_replication(mm1, "cqrs", "visibility_t99")
    mean, low, high = t_interval(values)
    print(f"visibility_t99: simulated {mean:.3f} (99% CI {low:.3f}..{high:.3f}), theory {theory:.3f}")
    assert low <= theory <= high
    assert (high - low) / 2 < 0.1 * theory


def test_stale_read_fraction_is_the_projector_utilisation(mm1):
    values = per_replication(mm1, "cqrs", "stale_read_fraction")
    mean, low, high = t_interval(values)
    print(f"stale_read_fraction: simulated {mean:.4f} (99% CI {low:.4f}..{high:.4f}), theory {W * M}")
    assert low <= W * M <= high
    assert (high - low) / 2 < 0.03


def test_replicas_never_leave_the_pool(mm1):
    assert mm1.replicas.empty
    assert (per_replication(mm1, "cqrs", "replica_availability") == 1).all()
