"""Validation of retry storms and retry budgets against the offered-load condition λ·(1 + a)·S < c.

A CQRS pool of 4 replicas × 1 connection (c = 4), constant query time
S = 0.1 s, Poisson reads at λ = 25/s: ρ = λ·S / c = 0.625. Clients time
out after 0.5 s and retry up to r = 3 times, at once. Replicas 0 and 1 are
scheduled down for [60, 120) s (+ a 1 s snapshot load): c = 2, and
λ·S = 2.5 > 2, so the pool is overloaded while they are down and its queue
grows; attempts wait past their timeout and are retried.

Derivation (see :mod:`cqrs_sim.model.retry`). An attempt a client gave up
on still occupies a connection until the server finishes it, so the pool
serves every attempt: with retry amplification a (retries per read) it is
stable only if λ·(1 + a)·S < c.

- Without a budget, once queueing delay exceeds the timeout every attempt
  is lost and a = r = 3: λ·(1 + a)·S = 25 × 4 × 0.1 = 10 > c = 4 even with
  every replica back. The overload sustains itself after the repair: nearly
  every read fails until the end of the run (a metastable state).
- With a budget of ratio 0.1, a ≤ 0.1 in the long run: λ·(1 + a)·S =
  2.75 < 4. The backlog built while two replicas were down, about
  (λ·(1 + a) − 2/S)·60 s = (27.5 − 20) × 60 = 450 attempts, drains at
  4/S − 27.5 = 12.5 attempts/s: about 36 s after the repair, which the
  5 s bins and the three-bin settling rule of :mod:`cqrs_sim.analysis.outages`
  place at 36–55 s; well before ``verdict.metastable_after`` (60 s).
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.model.retry import Backoff, RetryBudget

pytestmark = pytest.mark.validation

STORM = """
duration: 300s
warmup: 0s
replications: 2
architectures: [cqrs]
bin: 5s
workload:
  reads:
    rate: 25/s
    query_time: 100ms
    timeout: 500ms
    retries: 3
handlers: {count: 1, concurrency: 100000}
cqrs:
  replicas: {count: 4, connections: 1}
  sync: {replace_time: 1s}
failures:
  scheduled:
    - {at: 60s, for: 60s, target: cqrs.replicas.0}
    - {at: 60s, for: 60s, target: cqrs.replicas.1}
"""


def failed_share_after(results, t: float) -> float:
    ts = results.timeseries[results.timeseries.t >= t]
    return float(ts.reads_failed.sum() / (ts.reads_failed.sum() + ts.reads_completed.sum()))


def test_without_a_budget_the_storm_outlasts_the_repair(scenario_from):
    """a = 3: λ·(1 + a)·S = 10 > c = 4 after the repair: no recovery, a metastable state in each replication."""
    results = cqrs_sim.simulate(scenario_from(STORM))
    outages = results.outages
    assert len(outages) == 4 and outages.metastable.all()
    assert outages.time_to_recover.isna().all()
    assert failed_share_after(results, 180.0) > 0.95  # a minute after the repair: nearly every read fails
    # the amplification the derivation assumes: from the repair on (60% of the run) reads use all 3 retries,
    # so over the run a ≥ 3 × 0.6 = 1.8 retries per read
    summary = results.summary()
    retries = summary[summary.metric == "read_retries"]["mean"].iloc[0]
    reads = sum(summary[summary.metric == name]["mean"].iloc[0] for name in ("reads_completed", "reads_failed"))
    assert retries / reads > 1.8


def test_a_retry_budget_lets_the_pool_recover(scenario_from):
    """a ≤ 0.1: λ·(1 + a)·S = 2.75 < c = 4: the backlog of ~450 attempts drains in ~36 s after the repair
    (36–55 s at the bins' resolution), no metastable state, and no read fails in the last two minutes."""
    results = cqrs_sim.simulate(scenario_from(STORM + "", overrides={"workload.reads.retry_budget.ratio": 0.1}))
    outages = results.outages
    assert len(outages) == 4 and not outages.metastable.any()
    assert ((outages.time_to_recover >= 30) & (outages.time_to_recover <= 55)).all(), outages.time_to_recover
    assert failed_share_after(results, 180.0) < 0.001


def test_a_budget_allows_ratio_retries_per_read_plus_its_burst():
    """A bucket of burst 10 and ratio 0.1: 10 retries at once, then one per ten reads arrived."""
    budget = RetryBudget(0.1, 10.0)
    assert sum(budget.allow(0) for _ in range(15)) == 10
    assert budget.denied == 5
    assert budget.allow(9) is False  # 0.9 of a token
    assert budget.allow(10) is True  # the tenth read completes one token
    assert sum(budget.allow(10 + k) for k in range(1, 1001)) == 100  # 1,000 more reads: 100 retries


def test_full_jitter_draws_below_the_backoff_and_none_waits_exactly():
    exact = Backoff(0.2, None)
    assert [exact.delay(n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    jittered = Backoff(0.2, np.random.default_rng(1))
    draws = np.array([jittered.delay(3) for _ in range(2000)])
    assert draws.min() >= 0 and draws.max() <= 0.8
    assert draws.mean() == pytest.approx(0.4, rel=0.05)  # uniform on [0, 0.8]
