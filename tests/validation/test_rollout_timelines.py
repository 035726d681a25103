"""Validation of rollout mechanics against small hand-derived timelines (times in seconds).

Each test's docstring derives the expected events; the assertions are to
float tolerance. Reads are evenly spaced at 1/s (read k arrives at t = k),
handler time 0, one handler with ample slots; writes come at fixed times
with constant apply times, so every event time is known in advance.
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
architectures: [cqrs]
workload:
  reads:
    rate: 1/s
    process: uniform
    handler_time: 0s
    query_time: {query}s
  writes:
    at: {writes}
    apply_time: {apply}s
handlers: {{count: 1, concurrency: 1000}}
cqrs:
  write_servers: {servers}
  replicas: {{count: 2, connections: {connections}, routing: round_robin}}
  sync: {{strategy: {strategy}, batch_size: 1, replace_time: 10s, trigger_delay: {delay}s, drain: {drain}}}
"""


def simulate(scenario_from, *, writes, duration=50, query=0.4, apply=1, servers=1, connections=4,
             strategy="rolling", delay=0, drain="true"):
    text = BASE.format(duration=duration, query=query, writes=writes, apply=apply, servers=servers,
                       connections=connections, strategy=strategy, delay=delay, drain=drain)
    return cqrs_sim.simulate(scenario_from(text))


def reads(results):
    req = results.requests
    return req[req.kind == "read"].set_index("id").sort_index()


def test_writes_during_a_rollout_ship_together(scenario_from):
    """Query 0.3, so reads are in flight only in [k, k + 0.3]. Writes at 1.5, 3.5, 5.5
    (apply 1) commit at 2.5, 4.5, 6.5. Rollout 1 starts at 2.5 shipping v1: replica 0
    out [2.5, 12.5], replica 1 [12.5, 22.5] (no read is in flight at x.5, so no drain
    wait). v2 and v3 commit during it, so exactly one more rollout follows at 22.5
    shipping v3: [22.5, 32.5], [32.5, 42.5]. v1 is first visible at 12.5 and everywhere
    at 22.5; v2 and v3 at 32.5 and 42.5."""
    results = simulate(scenario_from, writes="[1.5s, 3.5s, 5.5s]", query=0.3)
    swaps = results.replicas.sort_values("out")
    np.testing.assert_allclose(swaps.out, [2.5, 12.5, 22.5, 32.5], atol=1e-9)
    np.testing.assert_allclose(swaps.back, [12.5, 22.5, 32.5, 42.5], atol=1e-9)
    np.testing.assert_array_equal(swaps.replica, [0, 1, 0, 1])
    np.testing.assert_array_equal(swaps.version, [1, 1, 3, 3])
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.commit, [2.5, 4.5, 6.5], atol=1e-9)
    np.testing.assert_allclose(writes.first_visible, [12.5, 32.5, 32.5], atol=1e-9)
    np.testing.assert_allclose(writes.all_visible, [22.5, 42.5, 42.5], atol=1e-9)


def test_trigger_delay_and_already_shipped_versions(scenario_from):
    """Two write servers, query 0.3; writes at 1.5 and 2.0 (apply 1) commit at 2.5 (v1)
    and 3.0 (v2). trigger_delay 1: triggers fire at 3.5 and 4.0. The first starts a
    rollout shipping v2 (the newest at its start): [3.5, 13.5], [13.5, 23.5]. The second
    finds v2 already shipping: it marks a follow-up, which finds nothing newer when the
    rollout ends and starts nothing. So two swaps, both with v2, and both writes first
    visible at 13.5 and everywhere at 23.5."""
    results = simulate(scenario_from, writes="[1.5s, 2.0s]", servers=2, delay=1, query=0.3)
    swaps = results.replicas.sort_values("out")
    np.testing.assert_allclose(swaps.out, [3.5, 13.5], atol=1e-9)
    np.testing.assert_array_equal(swaps.version, [2, 2])
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.commit, [2.5, 3.0], atol=1e-9)
    np.testing.assert_allclose(writes.first_visible, [13.5, 13.5], atol=1e-9)
    np.testing.assert_allclose(writes.all_visible, [23.5, 23.5], atol=1e-9)


def test_all_at_once_empties_the_pool_and_reads_wait(scenario_from):
    """all_at_once with 2 replicas; write at 1.3 commits at 2.3 and both replicas leave.
    Read 2 runs on replica 0 [2, 2.4] (round robin: reads 0, 1, 2 -> 0, 1, 0), so replica 0
    drains until 2.4 and rejoins at 12.4; replica 1 rejoins at 12.3. Reads 3..12 find
    no replica in the pool and wait until 12.3: latency 12.7 − k. They then see v1
    (fresh). first_visible 12.3, all_visible 12.4; availability over [0, 50) =
    1 − (10 + 10.1) / (2 × 50) = 0.799. (20 connections per replica, so the ten
    waiting reads all start at once on replica 1.)"""
    results = simulate(scenario_from, writes="[1.3s]", strategy="all_at_once", connections=20)
    r = reads(results)
    np.testing.assert_allclose(r.latency.loc[3:12], [12.7 - k for k in range(3, 13)], atol=1e-9)
    np.testing.assert_allclose(r.latency.drop(index=range(3, 13)), 0.4, atol=1e-9)
    assert not r.stale.loc[3:12].any()
    np.testing.assert_array_equal(r.replica.loc[3:12], 1)
    swaps = results.replicas.sort_values("replica")
    np.testing.assert_allclose(swaps.out, [2.3, 2.3], atol=1e-9)
    np.testing.assert_allclose(swaps.back, [12.4, 12.3], atol=1e-9)
    w = results.writes
    assert w.first_visible.iloc[0] == pytest.approx(12.3) and w.all_visible.iloc[0] == pytest.approx(12.4)
    s = results.summary().set_index("metric")["mean"]
    assert s["replica_availability"] == pytest.approx(1 - 20.1 / 100)


def test_without_drain_inflight_queries_restart_elsewhere(scenario_from):
    """drain: false, rolling, query 0.6, write at 1.3 committing at 2.3. Read 2 runs on
    replica 0 [2, 2.6]; at 2.3 replica 0 leaves and read 2's query is abandoned and
    restarted on replica 1 at 2.3, finishing at 2.9 (latency 0.9; it started after the
    commit on a v0 replica: stale with staleness 0). Reads 3..12 use replica 1, stale,
    staleness k − 2.3. At 12.3 replica 0 rejoins with v1 and replica 1 leaves: read 12,
    running on replica 1 [12, 12.6], restarts on replica 0 at 12.3 (latency 0.9, fresh)."""
    results = simulate(scenario_from, writes="[1.3s]", query=0.6, drain="false", connections=1)
    r = reads(results)
    assert r.latency.loc[2] == pytest.approx(0.9) and r.replica.loc[2] == 1
    assert r.start.loc[2] == pytest.approx(2.3) and r.stale.loc[2] and r.staleness.loc[2] == pytest.approx(0)
    np.testing.assert_array_equal(r.replica.loc[3:11], 1)
    assert r.stale.loc[3:11].all()
    np.testing.assert_allclose(r.staleness.loc[3:11], [k - 2.3 for k in range(3, 12)], atol=1e-9)
    assert r.latency.loc[12] == pytest.approx(0.9) and r.replica.loc[12] == 0 and not r.stale.loc[12]
    others = r.drop(index=[2, 12])
    np.testing.assert_allclose(others.latency, 0.6, atol=1e-9)
    swaps = results.replicas.sort_values("out")
    np.testing.assert_allclose(swaps.out, [2.3, 12.3], atol=1e-9)
    np.testing.assert_allclose(swaps.back, [12.3, 22.3], atol=1e-9)


def test_with_drain_the_leaving_replica_finishes_its_reads(scenario_from):
    """The same as above with drain: true: read 2 finishes on replica 0 at 2.6 (latency
    0.6, fresh: its query started before the commit), and replica 0's swap starts
    only then: out at 2.3, back at 12.6."""
    results = simulate(scenario_from, writes="[1.3s]", query=0.6, drain="true", connections=1)
    r = reads(results)
    np.testing.assert_allclose(r.latency, 0.6, atol=1e-9)
    assert r.replica.loc[2] == 0 and not r.stale.loc[2]
    swaps = results.replicas.sort_values("out")
    np.testing.assert_allclose(swaps.back, [12.6, 22.6], atol=1e-9)


def test_without_drain_a_cold_query_restarts_and_ends_first(scenario_from):
    """drain: false with cold replicas (cold_factor 11, warm_up_time 1 s: a query starting s seconds after
    its replica rejoined takes 0.4 × (1 + 10 × (1 − s)) for s < 1, else 0.4). Two replicas, round robin,
    replace 1 s; writes commit at 0.5 (v1) and 3.75 (v2). Rollout 1: replica 0 out [0.5, 1.5], replica 1
    out [1.5, 2.5]; rollout 2: replica 0 out [3.75, 4.75], replica 1 out [4.75, 5.75].
    Read 0 on replica 0 [0, 0.4] and read 1 on replica 1 [1, 1.4] (both warm). Read 2 goes to replica 0,
    0.5 s after it rejoined: 0.4 × 6 = 2.4, so it would end at 4.4; at 3.75 replica 0 leaves, the query is
    abandoned and restarts on replica 1, rejoined 1.25 s earlier (warm): [3.75, 4.15]. The restarted query
    ends before the abandoned one would have, and 4.15 is read 2's finish. Read 3 goes to replica 1, 0.5 s
    after it rejoined: would end at 5.4; at 4.75 replica 1 leaves and read 3 restarts on replica 0, just
    rejoined (0.4 × 11 = 4.4): [4.75, 9.15]. Read 4 finds replica 0 out: replica 1, warm, [4, 4.4]. Read 5
    finds replica 1 out: replica 0, 0.25 s after it rejoined (0.4 × 8.5 = 3.4): [5, 8.4]. Read 6 on replica 1,
    0.25 s after it rejoined: [6, 9.4]. Reads 7, 8, 9 alternate 0, 1, 0, warm: 0.4 each."""
    text = """
duration: 10s
warmup: 0s
replications: 1
architectures: [cqrs]
workload:
  reads: {rate: 1/s, process: uniform, handler_time: 0s, query_time: 0.4s}
  writes: {at: [0.25s, 3.5s], apply_time: 0.25s}
handlers: {count: 1, concurrency: 100}
cqrs:
  replicas: {count: 2, connections: 10, routing: round_robin, cold_factor: 11, warm_up_time: 1s}
  sync: {strategy: rolling, batch_size: 1, replace_time: 1s, drain: false}
"""
    r = reads(cqrs_sim.simulate(scenario_from(text)))
    assert list(r.index) == list(range(10))
    np.testing.assert_allclose(r.start, [0, 1, 3.75, 4.75, 4, 5, 6, 7, 8, 9], atol=1e-9)
    np.testing.assert_allclose(r.finish, [0.4, 1.4, 4.15, 9.15, 4.4, 8.4, 9.4, 7.4, 8.4, 9.4], atol=1e-9)
    np.testing.assert_array_equal(r.replica, [0, 1, 1, 0, 1, 0, 1, 0, 1, 0])
