"""Validation: monotonic reads per client during rolling rollouts, sticky and random routing.

Timeline. n replicas, rolling one at a time (batch 1), constant replace time
R, drain on; reads evenly spaced, constant 1 ms query, no handler time and
no queueing, so reads start and finish in arrival order; writes far apart,
each committing at c and rolling out over [c, c + nR): during slot i
(t − c in [iR, (i+1)R)) replica i is out, replicas 0..i−1 hold the new
version v and i+1..n−1 the old v − 1. Each read belongs to one of C clients.

Sticky routing (rendezvous hashing) gives zero violations. A client's reads
go to its first-choice replica r while r is in the pool. Before r leaves, r
holds v − 1, the oldest version anywhere; while r is out, its reads go to
the client's next choice, which holds v − 1 or v and stays in the pool until
r is back (one replica out at a time); r comes back holding v, the newest.
So the versions a client sees never decrease in time, and, with reads
finishing in the order they start, never decrease in answer order either.
(Drain matters: reads already running on r finish on v − 1 before any later
read of the client starts, since queries are 1 ms and reads 10 ms apart.)

Random routing gives a positive share. A read in slot i sees v with
probability q = i / (n − 1) (uniform over the n − 1 replicas in the pool);
after the rollout, q = 1 until the next commit. Routing draws are
independent, so a client's read at t2 following its read at t1 within the
same write's window is a violation (t1 saw v, t2 saw v − 1) with probability
q(t1) (1 − q(t2)); reads in different windows never are (the later one sees
at least the version the earlier one could). Expected violations: the sum
over consecutive same-client pairs, taking the clients as drawn. Violations
of neighbouring pairs are mutually exclusive (the middle read cannot be both
new and old), so the variance is at most Σ p (1 − p); the test allows 4 of
those standard deviations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

COUNT, REPLACE, GAP, WRITES, RATE, CLIENTS = 4, 5.0, 40.0, 10, 100.0, 3
COMMIT_OFFSET = 3.3037 + 1.0  # write at 40k + 3.3037 s, 1 s apply: off the 10 ms read grid


def scenario(routing: str, keys: str = "") -> str:
    at = ", ".join(f"{GAP * k + 3.3037:.4f}s" for k in range(WRITES))
    return f"""
duration: {GAP * WRITES}s
warmup: 0s
seed: 11
replications: 1
record: full
architectures: [cqrs]
workload:
  {keys}
  reads: {{rate: {RATE}/s, process: uniform, query_time: 1ms, clients: {CLIENTS}}}
  writes: {{at: [{at}], apply_time: 1s}}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: {COUNT}, connections: 8, routing: {routing}}}
  sync: {{strategy: rolling, batch_size: 1, replace_time: {REPLACE}s, drain: true}}
"""


def q_new(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(window, probability of seeing the window's newest version) for reads at times t."""
    commits = GAP * np.arange(WRITES) + COMMIT_OFFSET
    window = np.searchsorted(commits, t, side="right") - 1  # -1: before the first commit
    since = t - commits[np.maximum(window, 0)]
    slot = np.floor(since / REPLACE)
    q = np.where(slot >= COUNT, 1.0, slot / (COUNT - 1))
    return window, np.where(window < 0, 1.0, q)  # before any write every replica holds version 0


def test_sticky_routing_gives_no_violations(scenario_from):
    for keys in ("", "keys: {count: 3}"):
        results = cqrs_sim.simulate(scenario_from(scenario("sticky", keys)))
        reads = results.requests[results.requests.kind == "read"]
        assert (reads.version_seen < reads.version_latest).sum() > 1000  # rollouts did leave reads behind
        assert results.per_replication.iloc[0].monotonic_read_violations == 0.0
        assert not reads.monotonic_violation.any()
        # each client stays on one replica except while that one is out (R of every GAP seconds)
        on_first_choice = reads.groupby("client").replica.agg(lambda r: r.value_counts().iloc[0] / len(r))
        assert (on_first_choice > 1 - REPLACE / GAP - 0.02).all()
        assert (on_first_choice < 1).all()


def test_random_routing_matches_the_hand_derivation(scenario_from):
    results = cqrs_sim.simulate(scenario_from(scenario("random")))
    reads = results.requests[results.requests.kind == "read"].sort_values("arrival")
    t, client = reads.arrival.to_numpy(), reads.client.to_numpy()
    window, q = q_new(t)
    expected, variance = 0.0, 0.0
    for c in range(CLIENTS):
        mine = client == c
        w, qc = window[mine], q[mine]
        p = np.where(w[1:] == w[:-1], qc[:-1] * (1 - qc[1:]), 0.0)
        expected += p.sum()
        variance += (p * (1 - p)).sum()
    got = int(reads.monotonic_violation.sum())
    sigma = math.sqrt(variance)
    print(f"violations: simulated {got}, expected {expected:.1f} ± {4 * sigma:.1f} of {len(reads)} reads")
    assert expected > 50
    assert abs(got - expected) < 4 * sigma + 2
    assert results.per_replication.iloc[0].monotonic_read_violations == pytest.approx(got / len(reads))
    # a violation is a drop from the newest version to the one before, inside a rollout
    seen = reads.version_seen.to_numpy()
    for c in range(CLIENTS):
        mine = client == c
        s, v = seen[mine], reads.monotonic_violation.to_numpy()[mine]
        np.testing.assert_array_equal(v[1:], s[1:] < s[:-1])
        assert not v[0]
