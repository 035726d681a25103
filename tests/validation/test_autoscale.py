"""Validation of the autoscaler against hand-derived timelines (times in seconds).

Reads arrive evenly spaced (``process: uniform``), queries take a constant
20 ms and there are no writes, so the busy connections are known at every
instant: a rate of λ/s keeps exactly 0.02 λ connections busy (4 at 200/s,
7 at 350/s), and round-robin routing over replicas of 4 connections never
queues. Each test's docstring applies the rule of :mod:`cqrs_sim.model.autoscale`,

    utilization = busy connection-seconds / (4 × replica-seconds in the pool),
    desired = ceil(busy connection-seconds / 60 / (4 × target)),

to each 60 s interval, and the assertions check the decisions (times and
counts), the pool's membership and the instance-seconds to float tolerance.
Both designs share the autoscaler, so each timeline runs on both.
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

BASE = """
duration: {duration}s
warmup: 0s
replications: 1
record: full
architectures: [{arch}]
workload:
  reads:
    rate: {rate}
    process: {process}
    handler_time: 0s
    query_time: 20ms
handlers: {{count: 1, concurrency: 10000}}
crud:
  replicas: {count}
  replica_connections: 4
  replica_routing: round_robin
  replica_autoscale: {auto}
cqrs:
  replicas: {{count: {count}, connections: 4, routing: round_robin}}
  autoscale: {auto}
"""

AUTO = "{{min: 1, max: 6, target_utilization: 0.5, tolerance: {tolerance}, interval: 60s, " \
       "scale_out_cooldown: 60s, scale_in_cooldown: {scale_in}s, provision_time: 30s}}"


def run(scenario_from, arch, *, rate, count, duration=480, process="uniform", tolerance=0, scale_in=600, seed=1):
    auto = AUTO.format(tolerance=tolerance, scale_in=scale_in)
    text = BASE.format(duration=duration, arch=arch, rate=rate, process=process, count=count, auto=auto)
    return cqrs_sim.simulate(scenario_from(text, overrides={"seed": seed}))


def metric(results, name):
    return float(results.summary().set_index("metric")["mean"][name])


@pytest.mark.parametrize("arch", ["cqrs", "crud"])
def test_a_step_up_gives_the_hand_computed_scale_outs(scenario_from, arch):
    """Two replicas (8 connections), target 0.5, tolerance 0, provision 30 s; 200/s, then 350/s from t = 150.

    t = 60, 120: 4 busy → utilization 4/8 = 0.5 (t = 60 a hair less: the first 15 ms fill up),
    desired ceil(4/2) = 2: no change. t = 180: [120, 180) holds 30 s at 4 busy and 30 s at 7,
    330 connection-seconds: utilization 330/480 = 0.6875, desired ceil(5.5/2) = 3: +1, joining at 210.
    t = 240: 420 connection-seconds over 2 × 30 + 3 × 30 = 150 replica-seconds in the pool:
    utilization 420/600 = 0.7, desired ceil(7/2) = 4 > 3, and the 60 s scale-out cooldown has just
    passed: +1, joining at 270. t = 300: 420 over 3 × 30 + 4 × 30 = 210: utilization 0.5, desired 4:
    no change; t = 360, 420, 480: 7/16 = 0.4375, desired 4: none (t = 480 is the end: measured only).
    Replica instance-seconds: 2 × 480 + (480 − 180) + (480 − 240) = 1500, plus the write image or
    primary's 480; no read ever waits (latency 20 ms throughout)."""
    results = run(scenario_from, arch, rate="[[0s, 200/s], [150s, 350/s]]", count=2)
    scale = results.autoscale
    np.testing.assert_allclose(scale.t, [60, 120, 180, 240, 300, 360, 420, 480])
    np.testing.assert_array_equal(scale.change, [0, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(scale.desired, [2, 2, 3, 4, 4, 4, 4, 4])
    np.testing.assert_array_equal(scale.replicas_in_pool, [2, 2, 2, 3, 4, 4, 4, 4])  # before each decision
    np.testing.assert_array_equal(scale.provisioning, 0)  # each new replica is ready 30 s after its decision
    np.testing.assert_allclose(scale.utilization, [0.5, 0.5, 0.6875, 0.7, 0.5, 0.4375, 0.4375, 0.4375], rtol=1e-3)
    ts = results.timeseries.set_index("t").replicas_in_pool  # 200 bins of 2.4 s
    assert ts[:207.0].eq(2).all() and ts[211.0:267.0].eq(3).all() and ts[271.0:].eq(4).all()
    assert metric(results, "replica_seconds") == pytest.approx(480 + 1500, abs=1e-6)
    assert metric(results, "replica_availability") == pytest.approx(1.0)
    busy = 150 * 4 + 330 * 7  # connection-seconds; member replica-seconds: 2 × 480 + 270 + 210 = 1440
    assert metric(results, "db_utilization") == pytest.approx(busy / (4 * 1440), rel=1e-3)
    assert metric(results, "read_latency_max") == pytest.approx(0.02)


@pytest.mark.parametrize("arch", ["cqrs", "crud"])
def test_a_step_down_removes_replicas_after_the_scale_in_cooldown(scenario_from, arch):
    """Four replicas, scale-in cooldown 120 s; 350/s, then 200/s from t = 200.

    t = 60 … 180: 7 busy on 16 connections, utilization 0.4375, desired ceil(3.5) = 4: no change.
    t = 240: [180, 240) holds 20 s at 7 and 40 s at 4, 300 connection-seconds: utilization
    300/960 = 0.3125, desired ceil(2.5) = 3: remove replica 3 (the highest slot). t = 300: 240 over
    3 × 60 replica-seconds: utilization 1/3, desired 2, but only 60 s since the last change: none.
    t = 360: the same numbers, 120 s passed: remove replica 2. t = 420, 480: 4/8 = 0.5, desired 2: none.
    A removed replica drains (at most one 20 ms query), so its instance ends within 20 ms of its
    removal: replica instance-seconds 2 × 480 + 240 + 360 = 1560 (+ at most 0.04)."""
    results = run(scenario_from, arch, rate="[[0s, 350/s], [200s, 200/s]]", count=4, scale_in=120)
    scale = results.autoscale
    np.testing.assert_array_equal(scale.change, [0, 0, 0, -1, 0, -1, 0, 0])
    np.testing.assert_array_equal(scale.desired, [4, 4, 4, 3, 2, 2, 2, 2])
    np.testing.assert_array_equal(scale.replicas_in_pool, [4, 4, 4, 4, 3, 3, 2, 2])
    np.testing.assert_allclose(scale.utilization, [0.4375, 0.4375, 0.4375, 0.3125, 1 / 3, 1 / 3, 0.5, 0.5], rtol=1e-3)
    replicas = metric(results, "replica_seconds") - 480
    assert 1560 <= replicas <= 1560.04
    reads = results.requests[results.requests.kind == "read"]
    late = reads[reads.start > 360.02]
    assert set(late.replica) == {0, 1}  # replicas 3 and 2 take no read once removed
    assert not set(reads[reads.start > 240.02].replica) & {3}
    assert metric(results, "read_latency_max") == pytest.approx(0.02)


@pytest.mark.parametrize("arch", ["cqrs", "crud"])
def test_a_constant_load_at_the_target_never_scales(scenario_from, arch):
    """200/s on two replicas of 4 connections: 4 busy, utilization exactly the target 0.5 in every
    interval (the first a hair below), desired ceil(4 / (4 × 0.5)) = 2 = the replicas there: with
    tolerance 0 the rule itself holds still for half an hour (30 decisions, no change)."""
    results = run(scenario_from, arch, rate="200/s", count=2, duration=1800)
    scale = results.autoscale
    assert len(scale) == 30
    assert (scale.change == 0).all() and (scale.desired == 2).all() and (scale.replicas_in_pool == 2).all()
    np.testing.assert_allclose(scale.utilization, 0.5, rtol=1e-3)
    assert metric(results, "replica_seconds") == pytest.approx(3 * 1800)


def test_tolerance_holds_a_poisson_load_at_the_target_still(scenario_from):
    """Poisson arrivals at 200/s: the busy connection-seconds of an interval are 0.02 × (a Poisson
    count of mean 12,000), so utilization is 0.5 × (1 ± 0.9%) (one standard deviation). With
    tolerance 0 half the intervals read above the target, desired ceil(2 × 1.00x) = 3, and the pool
    grows and shrinks (scale-in cooldown 120 s); with the default-sized band of ±10% (11 standard
    deviations) it never changes."""
    still = run(scenario_from, "cqrs", rate="200/s", count=2, duration=1800, process="poisson", tolerance=0.1,
                scale_in=120)
    assert (still.autoscale.change == 0).all()
    np.testing.assert_allclose(still.autoscale.utilization, 0.5, rtol=0.05)
    jumpy = run(scenario_from, "cqrs", rate="200/s", count=2, duration=1800, process="poisson", tolerance=0,
                scale_in=120)
    assert (jumpy.autoscale.change > 0).sum() >= 3 and (jumpy.autoscale.change < 0).sum() >= 3
