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


def test_a_replica_provisioned_during_a_rollout_joins_with_the_newest_version(scenario_from):
    """CQRS, 200/s on two replicas (4 busy of 8 connections), target 0.3, provision 20 s; writes at
    55 and 70 (apply 1 s) commit v1 at 56 and v2 at 71; rolling rollouts, replace 10 s, drain on
    (a leaving replica finishes its at most 4 running 20 ms queries first: each swap may end up to
    0.02 later than written here).

    The first rollout ships v1: replica 0 out [56, 66], replica 1 [66, 76]. t = 60: [0, 60) held 240
    busy connection-seconds, desired ceil(4 / (4 × 0.3)) = 4 > 2: +2 (slots 2 and 3), ready at 80.
    v2 committed during the first rollout, so a second follows at 76, shipping v2 to the members
    behind it, replicas 0 and 1 (slots 2 and 3 are still being provisioned): [76, 86], [86, 96].
    At 80 the new replicas join with the newest version, v2, built from the newest snapshot: so v2
    is first visible at 80 (not 86, when replica 0 returns), everywhere at 96; the new replicas
    never appear in a rollout, and every read they serve sees v2."""
    text = BASE.format(duration=150, arch="cqrs", rate="200/s", process="uniform", count=2,
                       auto="{min: 1, max: 4, target_utilization: 0.3, tolerance: 0, interval: 60s, "
                            "scale_out_cooldown: 60s, scale_in_cooldown: 600s, provision_time: 20s}")
    text += """
  sync: {strategy: rolling, batch_size: 1, replace_time: 10s}
"""
    text = text.replace("workload:\n  reads:", "workload:\n  writes: {at: [55s, 70s], apply_time: 1s}\n  reads:")
    results = cqrs_sim.simulate(scenario_from(text))
    scale = results.autoscale
    assert scale.change.tolist() == [2, 0]
    swaps = results.replicas.sort_values("out")
    assert swaps.replica.tolist() == [0, 1, 0, 1] and swaps.version.tolist() == [1, 1, 2, 2]
    np.testing.assert_allclose(swaps.out, [56, 66, 76, 86], atol=0.1)
    np.testing.assert_allclose(swaps.back, [66, 76, 86, 96], atol=0.1)
    writes = results.writes.set_index("version")
    assert writes.first_visible[2] == pytest.approx(80)
    assert writes.all_visible[2] == pytest.approx(96, abs=0.1)
    reads = results.requests[results.requests.kind == "read"]
    on_new = reads[reads.replica >= 2]
    assert len(on_new) > 0 and on_new.start.min() >= 80 and (on_new.version_seen == 2).all()


@pytest.mark.parametrize("arch", ["cqrs", "crud"])
def test_a_scale_in_during_a_scale_out_gives_up_the_replicas_still_being_provisioned(scenario_from, arch):
    """Two replicas, scale-out and scale-in cooldowns 60 s, provision 150 s; 350/s, then 250/s from t = 60.

    t = 60: [0, 60) held 7 busy on 8 connections (a hair less: the first 20 ms fill up), utilization
    0.875, desired ceil(3.5) = 4: +2 (slots 2 and 3), ready at 210. t = 120: 5 busy on the 2 replicas
    in the pool, utilization 0.625 (above the target), desired ceil(2.5) = 3 < 4 = 2 members + 2 being
    provisioned, and 60 s have passed: one fewer. It gives up slot 3 (the newest, serving nothing yet)
    and keeps both serving replicas, which hold the 5 busy connections without a queue (round-robin:
    2.5 each of 4). t = 180: still 0.625, desired 3 = 2 + 1 provisioned: none. At 210 slot 2 joins.
    t = 240: 300 connection-seconds over 2 × 30 + 3 × 30 replica-seconds: utilization 0.5, desired 3:
    none; t = 300 (the end): 5/12, measured only. No read ever waits (latency 20 ms). Replica
    instance-seconds: 2 × 300 + (300 − 60) + (120 − 60) for the one given up = 900."""
    auto = ("{min: 1, max: 6, target_utilization: 0.5, tolerance: 0, interval: 60s, scale_out_cooldown: 60s, "
            "scale_in_cooldown: 60s, provision_time: 150s}")
    text = BASE.format(duration=300, arch=arch, rate="[[0s, 350/s], [60s, 250/s]]", process="uniform", count=2,
                       auto=auto)
    results = cqrs_sim.simulate(scenario_from(text))
    scale = results.autoscale
    np.testing.assert_allclose(scale.t, [60, 120, 180, 240, 300])
    np.testing.assert_array_equal(scale.change, [2, -1, 0, 0, 0])
    np.testing.assert_array_equal(scale.desired, [4, 3, 3, 3, 3])
    np.testing.assert_array_equal(scale.replicas_in_pool, [2, 2, 2, 3, 3])  # before each decision
    np.testing.assert_array_equal(scale.provisioning, [0, 2, 1, 0, 0])
    np.testing.assert_allclose(scale.utilization, [0.875, 0.625, 0.625, 0.5, 5 / 12], rtol=1e-3)
    assert metric(results, "read_latency_max") == pytest.approx(0.02)
    assert metric(results, "replica_seconds") == pytest.approx(300 + 900, abs=1e-6)
    reads = results.requests[results.requests.kind == "read"]
    assert set(reads.replica) == {0, 1, 2}  # slot 3 never served


@pytest.mark.parametrize("arch", ["cqrs", "crud"])
def test_a_pool_above_its_target_never_loses_a_serving_replica(scenario_from, arch):
    """As above, but 280/s from t = 60 and a scale-in cooldown of 0: t = 60 +2 (ready at 210); t = 120: 5.6 busy
    on 2 replicas, utilization 0.7, desired ceil(2.8) = 3 < 4: slot 3 is given up; t = 180: desired 3 = 3: none.
    The two serving replicas stay (removing one would leave 5.6 busy on 4 connections); t = 240: 5.6 busy over
    2 × 30 + 3 × 30 replica-seconds, utilization 0.56, desired 3: none."""
    auto = ("{min: 1, max: 6, target_utilization: 0.5, tolerance: 0, interval: 60s, scale_out_cooldown: 60s, "
            "scale_in_cooldown: 0s, provision_time: 150s}")
    text = BASE.format(duration=250, arch=arch, rate="[[0s, 350/s], [60s, 280/s]]", process="uniform", count=2,
                       auto=auto)
    results = cqrs_sim.simulate(scenario_from(text))
    np.testing.assert_array_equal(results.autoscale.change, [2, -1, 0, 0])
    assert metric(results, "read_latency_max") == pytest.approx(0.02)
