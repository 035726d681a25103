"""Validation: a replica the autoscaler adds fails and is repaired like any other (a hand-derived timeline).

Reads arrive every 0.1 s (read k at t = k/10, uniform), each query takes
0.02 s, handler time 0: 0.2 connections are busy at every instant. CQRS
starts with one replica of 100 connections; the autoscaler (min 1, max 3,
target 0.0015, tolerance 0, interval 60 s, provision 30.05 s) wants
ceil(0.2 / (100 × 0.0015)) = ceil(1.33) = 2 replicas whatever the pool
holds. Every replica instance fails after a constant mtbf 100.03 s up,
stays down mttr 20 s and loads the newest snapshot for replace_time 10 s.
One write, at 194.5 s for 1.05 s, commits version 1 at 195.55; rolling
rollouts, one replica at a time, no trigger delay. No failure, repair,
join or swap falls on the instant a read arrives or runs, so no read fails.

    t = 60       decision: utilization 12 / (100 × 60) = 0.002, desired 2 > 1: +1, slot 1 provisioned
    t = 90.05    replica 1 joins (its failure clock starts now)
    t = 100.03   replica 0 fails (up since 0): reads go to replica 1 alone
    t = 120      decision: busy 12 over 40.03 + 29.95 = 69.98 replica-seconds in the pool;
                 desired 2, and the failed replica 0 is still a member: have 2, no change
    t = 130.03   replica 0 back (100.03 + 20 + 10)
    t = 180      decision: 12 over 49.97 + 60 = 109.97 replica-seconds: no change
    t = 190.08   replica 1 fails (90.05 + 100.03)
    t = 195.55   version 1 commits; the rollout swaps replica 0 (the pool is empty until 205.55:
                 the 100 reads arriving at 195.6 … 205.5 wait, then all start at 205.55) and skips
                 replica 1, which is failed
    t = 220.08   replica 1 back (190.08 + 20 + 10) from the newest snapshot: version 1
    t = 230      the end; replica 0's next failure (230.06) and replica 1's (320.11) come after it

Round robin over the pool (slots 0..2) gives replica 1 the first read after
each time it enters the pool (90.1, 220.1) and replica 0 the first after it
comes back at 130.03. Version 1 is first visible at 205.55 and visible
everywhere at 220.08: the failed replica is a member, so full visibility
waits for its repair. replica_seconds counts the write image and replica 0
for 230 s and replica 1 from its provisioning at 60 (its down time
included): 230 + 230 + 170 = 630. replica_availability is the in-pool time
over the member time: in the pool 190 (replica 0: 230 − 30 − 10) + 109.95
(replica 1: 100.03 + 9.92) over members 230 + 139.95.
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

SCENARIO = """
duration: 230s
warmup: 0s
replications: 1
record: full
architectures: [cqrs]
workload:
  reads:
    rate: 10/s
    process: uniform
    handler_time: 0s
    query_time: 0.02s
  writes:
    at: [194.5s]
    apply_time: 1.05s
handlers: {count: 1, concurrency: 1000}
cqrs:
  replicas: {count: 1, connections: 100, routing: round_robin, failures: {mtbf: 100.03s, mttr: 20s}}
  sync: {replace_time: 10s, trigger_delay: 0s}
  autoscale: {min: 1, max: 3, target_utilization: 0.0015, tolerance: 0, interval: 60s, scale_out_cooldown: 60s,
              scale_in_cooldown: 600s, provision_time: 30.05s}
"""


def metric(results, name):
    return float(results.summary().set_index("metric")["mean"][name])


def test_an_autoscaled_replica_fails_and_is_repaired(scenario_from):
    results = cqrs_sim.simulate(scenario_from(SCENARIO))

    scale = results.autoscale
    np.testing.assert_allclose(scale.t, [60, 120, 180])
    np.testing.assert_array_equal(scale.change, [1, 0, 0])
    np.testing.assert_array_equal(scale.desired, [2, 2, 2])
    np.testing.assert_array_equal(scale.replicas_in_pool, [1, 1, 2])
    np.testing.assert_allclose(scale.utilization, [12 / 6000, 12 / (100 * 69.98), 12 / (100 * 109.97)], rtol=1e-6)

    out = results.replicas.sort_values(["out", "replica"])
    np.testing.assert_array_equal(out.replica, [0, 1, 0])
    np.testing.assert_allclose(out.out, [100.03, 190.08, 195.55], atol=1e-9)
    np.testing.assert_allclose(out.back, [130.03, 220.08, 205.55], atol=1e-9)
    np.testing.assert_array_equal(out.version, [0, 1, 1])

    req = results.requests
    r = req[req.kind == "read"].set_index("id").sort_index()
    assert len(r) == 2300 and r.timed_out.sum() == 0
    on1 = r[r.replica == 1]
    # replica 1 serves only while it is in the pool: [90.05, 190.08) and [220.08, 230)
    assert ((on1.start > 90.05) & (on1.start < 190.08) | (on1.start > 220.08)).all()
    assert on1.start.min() == pytest.approx(90.1)  # the first read after it joins
    assert on1.start[on1.start > 190].min() == pytest.approx(220.1)  # the first read after its repair
    assert on1.start[on1.start < 190.08].max() == pytest.approx(190.0)  # the last read before it fails
    # while replica 0 is failed, replica 1 takes every read; when it is back it takes the next one
    during = r[(r.start > 100.03) & (r.start < 130.03)]
    assert len(during) == 300 and (during.replica == 1).all()
    assert r.replica[r.start > 130.03].iloc[0] == 0
    # the rollout's swap of replica 0 with replica 1 failed: reads wait for replica 0, then all start
    waited = r[(r.arrival > 195.55) & (r.arrival < 205.55)]
    assert len(waited) == 100 and (waited.replica == 0).all()
    np.testing.assert_allclose(waited.start, 205.55, atol=1e-9)
    # both replicas hold version 1 once back; reads before the commit see version 0
    assert (r.version_seen[r.start > 205.55] == 1).all() and (r.version_seen[r.start < 195.55] == 0).all()

    assert metric(results, "reads_failed") == 0
    assert metric(results, "first_visible_mean") == pytest.approx(205.55 - 195.55)
    assert metric(results, "visibility_window_mean") == pytest.approx(220.08 - 195.55)
    assert metric(results, "replica_seconds") == pytest.approx(230 + 230 + 170)
    assert metric(results, "replica_availability") == pytest.approx((190 + 109.95) / (230 + 139.95))
