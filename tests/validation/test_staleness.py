"""Validation: stale-read fraction and mean staleness during rolling rollouts with random routing.

Derivation. n replicas, rolling, batch 1, constant replace time R, trigger
delay 0, drain on; reads evenly spaced at rate λ with a tiny query (1 ms,
so draining takes at most 1 ms per replica and no read queues); writes at
fixed times far apart, each committing at c and starting a rollout at c.
During slot i of the rollout, s = t − c ∈ [iR, (i+1)R), replica i is out,
replicas 0..i−1 already hold the new version and i+1..n−1 do not. Random
routing picks each of the n − 1 in-pool replicas with probability 1/(n−1),
so a read in slot i is stale with probability p_i = (n−1−i)/(n−1), with
staleness s (it sees version k−1 and version k committed at c). Summing
over slots, per write:

    E[stale reads]      = λ R Σ_i p_i                    = λ R n / 2
    E[staleness summed] = λ Σ_i p_i ∫_{iR}^{(i+1)R} s ds  = λ R² Σ_i p_i (i + ½)

Reads outside rollouts are fresh. Dividing by all reads N gives the
expected stale fraction and mean staleness (fresh reads count 0). Given the
arrival times, reads are independent Bernoulli(p_i) draws, so the test's
tolerance is 4 standard deviations of that sum (σ² = Σ p(1−p) for the count,
Σ s² p(1−p) for staleness), plus a deterministic allowance for the drain
(≤ 1 ms per replica shifts the slot edges) and for reads on slot edges.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

N_REPLICAS, REPLACE, RATE, DURATION = 4, 20.0, 200.0, 1000.0
WRITES = [100.3, 300.3, 500.3, 700.3]  # apply 1 s: commits at 101.3, 301.3, ...

SCENARIO = f"""
duration: {DURATION}s
warmup: 0s
seed: 2024
replications: 1
record: full
architectures: [cqrs]
workload:
  reads:
    rate: {RATE}/s
    process: uniform
    handler_time: 0s
    query_time: 1ms
  writes:
    at: {[f"{w}s" for w in WRITES]}
    apply_time: 1s
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: {N_REPLICAS}, connections: 8, routing: random}}
  sync: {{strategy: rolling, batch_size: 1, replace_time: {REPLACE}s, trigger_delay: 0s, drain: true}}
"""


def expectation():
    """Per-read stale probability and staleness for every read, from the derivation above."""
    t = np.arange(int(DURATION * RATE)) / RATE
    p = np.zeros_like(t)
    s = np.zeros_like(t)
    for w in WRITES:
        commit = w + 1.0
        since = t - commit
        for i in range(N_REPLICAS):
            inside = (since >= i * REPLACE) & (since < (i + 1) * REPLACE)
            p[inside] = (N_REPLICAS - 1 - i) / (N_REPLICAS - 1)
            s[inside] = since[inside]
    return p, s


def test_expectation_formula_is_the_closed_form():
    p, s = expectation()
    per_write = RATE * REPLACE * N_REPLICAS / 2
    assert p.sum() == pytest.approx(len(WRITES) * per_write, rel=1e-3)
    closed = RATE * REPLACE**2 * sum((N_REPLICAS - 1 - i) / (N_REPLICAS - 1) * (i + 0.5) for i in range(N_REPLICAS))
    assert (p * s).sum() == pytest.approx(len(WRITES) * closed, rel=1e-3)


def test_stale_fraction_and_staleness_match_expectation(scenario_from):
    results = cqrs_sim.simulate(scenario_from(SCENARIO))
    reads = results.requests[results.requests.kind == "read"]
    n = len(reads)
    p, s = expectation()
    assert n == len(p)

    expected_fraction = p.sum() / n
    sigma_fraction = math.sqrt((p * (1 - p)).sum()) / n
    edge = len(WRITES) * N_REPLICAS * (2 + 0.001 * RATE) / n  # slot-edge reads and drain shifts
    simulated_fraction = reads.stale.mean()
    print(f"stale fraction: simulated {simulated_fraction:.5f}, expected {expected_fraction:.5f} ± {4 * sigma_fraction + edge:.5f}")
    assert abs(simulated_fraction - expected_fraction) < 4 * sigma_fraction + edge
    assert expected_fraction == pytest.approx(len(WRITES) * REPLACE * N_REPLICAS / 2 / DURATION, rel=1e-3)

    expected_staleness = (p * s).sum() / n
    sigma_staleness = math.sqrt((s**2 * p * (1 - p)).sum()) / n
    edge_s = len(WRITES) * N_REPLICAS * (2 * REPLACE * N_REPLICAS + 0.001 * RATE * REPLACE * N_REPLICAS) / n
    simulated_staleness = reads.staleness.mean()
    print(f"mean staleness: simulated {simulated_staleness:.5f}s, expected {expected_staleness:.5f}s ± {4 * sigma_staleness + edge_s:.5f}")
    assert abs(simulated_staleness - expected_staleness) < 4 * sigma_staleness + edge_s

    # no read is stale outside a rollout, and a stale read's staleness is its time since the commit
    stale = reads[reads.stale]
    commits = np.array(WRITES) + 1.0
    k = np.searchsorted(commits, stale.start.to_numpy(), side="right") - 1
    since = stale.start.to_numpy() - commits[k]
    assert (since >= 0).all() and (since < N_REPLICAS * REPLACE + 0.01).all()
    np.testing.assert_allclose(stale.staleness, since, atol=1e-9)
