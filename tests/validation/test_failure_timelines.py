"""Validation of failures, repairs and stalls against small hand-derived timelines (times in seconds).

Each test's docstring derives the expected events; the assertions hold to
float tolerance. Reads are evenly spaced at 1/s (read k arrives at t = k),
handler time 0, one handler with ample slots, each query 0.4; failure and
stall times are constants, so every event time is known in advance. A
failure, a repair or a stall never falls on the instant a read arrives or
ends.
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

READS = """
duration: {duration}s
warmup: 0s
replications: 1
record: full
architectures: [{arch}]
workload:
  reads:
    rate: 1/s
    process: uniform
    handler_time: 0s
    query_time: 0.4s
{client}
{writes}
handlers: {{count: 1, concurrency: 1000}}
"""


def run(scenario_from, arch: str, body: str, *, duration: int = 60, client: str = "", writes: str = ""):
    text = READS.format(duration=duration, arch=arch, client=client, writes=writes) + body
    return cqrs_sim.simulate(scenario_from(text))


def reads(results):
    req = results.requests
    return req[req.kind == "read"].set_index("id").sort_index()


def metric(results, arch: str, name: str) -> float:
    s = results.summary()
    return float(s[(s.architecture == arch) & (s.metric == name)]["mean"].iloc[0])


CQRS_ONE_REPLICA = """
cqrs:
  replicas: {count: 1, connections: 100, failures: {mtbf: 25.2s, mttr: 5s}}
  sync: {replace_time: 10s}
"""


def test_cqrs_replica_fails_and_is_rebuilt(scenario_from):
    """One replica, no writes. It fails at 25.2, while read 25 runs [25, 25.4]: read 25
    fails (no timeout, so no retry), its latency 0.2. The replica is down for mttr 5,
    then loads the newest snapshot for replace_time 10: out of the pool [25.2, 40.2].
    Reads 26..40 arrive meanwhile and wait; at 40.2 they all start (100 connections)
    and end at 40.6, latency 40.6 − k. The next failure would come 25.2 after 40.2, past
    duration 60: none. So read_availability = 59/60, replica_availability = 1 − 15/60 =
    0.75, the pool is empty 15/60 of the time and 15 reads waited for it; the mean
    latency, over the 59 served reads, is (Σ_{k=26}^{40} (40.6 − k) + 44 × 0.4) / 59 =
    (114 + 17.6) / 59, and read 25 failed 0.2 after it arrived."""
    results = run(scenario_from, "cqrs", CQRS_ONE_REPLICA)
    r = reads(results)
    assert r.timed_out.sum() == 1 and bool(r.timed_out[25])
    assert r.latency[25] == pytest.approx(0.2)
    waited = np.arange(26, 41)
    np.testing.assert_allclose(r.start[waited], 40.2, atol=1e-9)
    np.testing.assert_allclose(r.latency[waited], 40.6 - waited, atol=1e-9)
    others = r.drop(index=[25, *waited])
    np.testing.assert_allclose(others.latency, 0.4, atol=1e-9)
    swaps = results.replicas
    assert len(swaps) == 1
    assert (swaps.out.iloc[0], swaps.back.iloc[0]) == pytest.approx((25.2, 40.2))
    assert metric(results, "cqrs", "reads_failed") == 1
    assert metric(results, "cqrs", "read_availability") == pytest.approx(59 / 60)
    assert metric(results, "cqrs", "replica_availability") == pytest.approx(0.75)
    assert metric(results, "cqrs", "read_latency_mean") == pytest.approx(131.6 / 59)
    assert metric(results, "cqrs", "read_failure_time_mean") == pytest.approx(0.2)
    assert metric(results, "cqrs", "pool_empty_fraction") == pytest.approx(15 / 60)
    assert metric(results, "cqrs", "reads_waited_for_pool") == 15
    assert r.waited_for_pool.sum() == 15 and r.waited_for_pool[waited].all()


def test_failed_reads_retry_through_the_timeout_path(scenario_from):
    """As above, with timeout 2 and one retry (no backoff). Read 25's query fails at
    25.2: its client retries at once; the retry waits for a replica and times out at
    27.2: read 25 failed (one retry, one timeout). Reads 26..36: the first attempt
    times out at k + 2, the retry at k + 4 ≤ 40 < 40.2: failed (two timeouts, one
    retry each). Reads 37, 38: their retries (sent at 39, 40) start at 40.2 and
    succeed, latency 40.6 − k. Reads 39, 40 are served at 40.2 on their first attempt
    (timeouts due at 41, 42). So 12 failed, 1 + 22 + 2 = 25 timeouts, 1 + 13 = 14
    retries, read_availability 48/60."""
    client = "    timeout: 2s\n    retries: 1"
    results = run(scenario_from, "cqrs", CQRS_ONE_REPLICA, client=client)
    r = reads(results)
    failed = r.index[r.timed_out.astype(bool)].tolist()
    assert failed == [25, *range(26, 37)]
    assert r.finish[25] == pytest.approx(27.2)
    np.testing.assert_allclose(r.finish[range(26, 37)], np.arange(26, 37) + 4, atol=1e-9)
    np.testing.assert_allclose(r.latency[[37, 38, 39, 40]], 40.6 - np.array([37, 38, 39, 40]), atol=1e-9)
    assert metric(results, "cqrs", "reads_failed") == 12
    assert metric(results, "cqrs", "read_timeouts") == 25
    assert metric(results, "cqrs", "read_retries") == 14
    assert metric(results, "cqrs", "read_availability") == pytest.approx(48 / 60)


def test_crud_primary_failure_stops_writes_and_reads(scenario_from):
    """A single database (exclusive locking, 32 connections), failing at 25.2 for 5. A
    write arrives at 24.1: it waits for read 24 [24, 24.4] and applies [24.4, 26.4]; read
    25 arrives at 25 and queues behind it. At 25.2 the database fails: read 25, queued,
    fails (no timeout, so no retry); the write is aborted and stays first in the queue.
    Reads 26..30 arrive while it is down and are refused at once (latency 0). At 30.2 it
    is back: the write applies again [30.2, 32.2] (commit 32.2, latency 8.1); reads 31,
    32 queue behind it, start at 32.2 and end at 32.6. The next failure would come at
    55.4, past duration 50. So 6 reads failed, read_availability 44/50, and
    replica_availability (the one database) 1 − 5/50 = 0.9."""
    body = "crud: {failures: {mtbf: 25.2s, mttr: 5s}}\n"
    writes = "  writes:\n    at: [24.1s]\n    apply_time: 2s"
    results = run(scenario_from, "crud", body, duration=50, writes=writes)
    w = results.writes
    assert w.commit.iloc[0] == pytest.approx(32.2)
    assert w.latency.iloc[0] == pytest.approx(8.1)
    r = reads(results)
    assert r.index[r.timed_out.astype(bool)].tolist() == list(range(25, 31))
    assert r.finish[25] == pytest.approx(25.2)
    np.testing.assert_allclose(r.latency[range(26, 31)], 0, atol=1e-9)
    np.testing.assert_allclose(r.start[[31, 32]], 32.2, atol=1e-9)
    np.testing.assert_allclose(r.latency[[31, 32]], [1.6, 0.6], atol=1e-9)
    np.testing.assert_allclose(r.drop(index=range(25, 33)).latency, 0.4, atol=1e-9)
    assert metric(results, "crud", "reads_failed") == 6
    assert metric(results, "crud", "read_availability") == pytest.approx(44 / 50)
    assert metric(results, "crud", "replica_availability") == pytest.approx(0.9)
    assert metric(results, "crud", "pool_empty_fraction") == pytest.approx(0.1)
    # 25 failed at 25.2, 0.2 after it arrived; 26..30 were refused as they came
    assert metric(results, "crud", "read_failure_time_mean") == pytest.approx(0.2 / 6)
    assert metric(results, "crud", "read_latency_mean") == pytest.approx((42 * 0.4 + 1.6 + 0.6) / 44)
    assert (results.replicas.out.iloc[0], results.replicas.back.iloc[0]) == pytest.approx((25.2, 30.2))


def test_cqrs_write_server_failure_restarts_the_write(scenario_from):
    """One write server failing at 10.5 for 5; a write arrives at 10 (apply 2). It is
    aborted at 10.5 and applies again when the server is back, [15.5, 17.5]: commit 17.5,
    latency 7.5. The rollout then swaps replica 0 [17.5, 27.5] and replica 1 [27.5, 37.5].
    The next failure would come at 26, past duration 25."""
    body = ("cqrs:\n  replicas: {count: 2, connections: 100}\n  sync: {replace_time: 10s}\n"
            "  write_server_failures: {mtbf: 10.5s, mttr: 5s}\n")
    writes = "  writes:\n    at: [10s]\n    apply_time: 2s"
    results = run(scenario_from, "cqrs", body, duration=25, writes=writes)
    w = results.writes
    assert (w.start.iloc[0], w.commit.iloc[0]) == pytest.approx((15.5, 17.5))
    swaps = results.replicas.sort_values("out")
    np.testing.assert_allclose(swaps.out, [17.5, 27.5], atol=1e-9)
    np.testing.assert_allclose(swaps.back, [27.5, 37.5], atol=1e-9)


STALLS = """
crud:
  replicas: 2
  replica_connections: 100
  replica_routing: round_robin
  replication_lag: 0.25s
  replication_stalls: {{every: 10.1s, duration: 12s}}
{limit}
"""
STALL_WRITES = "  writes:\n    at: [5s, 15s, 25s, 35s, 45s]\n    apply_time: 0.5s"


def test_reads_avoid_a_replica_exactly_while_its_lag_exceeds_max_lag(scenario_from):
    """Two streaming replicas (lag 0.25), both stalling [10.1, 22.1], [32.2, 44.2] and
    [54.3, 66.3] (up 10.1, stalled 12, from t = 0). Writes at 5, 15, 25, 35, 45 (apply 0.5)
    commit at 5.5, 15.5, 25.5, 35.5, 45.5 and are due on the replicas 0.25 later.
    v2 falls due at 15.75 inside the first stall: both replicas apply it at the thaw,
    22.1. Their lag (age of the oldest missing commit) reaches max_lag 3 at 18.5: from
    then until 22.1 no replica takes reads. Reads 19..22 wait and start at 22.1, seeing
    v2 (fresh). Likewise v4 (due 35.75) is applied at 44.2: no replica [38.5, 44.2);
    reads 39..44 start at 44.2 and see v4. v5 is applied at 45.75. The third stall misses
    no commit, so the replicas keep serving. Stale reads: 16, 17, 18 (v2 missing,
    staleness 0.5, 1.5, 2.5) and 36, 37, 38 (v4): six, at most 2.5 < max_lag + one query.
    Without the limit, reads 19..22 and 39..44 read the stalled replicas too, staleness
    k − 15.5 and k − 35.5: up to 8.5."""
    results = run(scenario_from, "crud", STALLS.format(limit="  max_lag: 3s"), writes=STALL_WRITES)
    r = reads(results)
    avoided = [*range(19, 23), *range(39, 45)]
    np.testing.assert_allclose(r.start[range(19, 23)], 22.1, atol=1e-9)
    np.testing.assert_allclose(r.start[range(39, 45)], 44.2, atol=1e-9)
    np.testing.assert_allclose(r.drop(index=avoided).start, r.drop(index=avoided).arrival, atol=1e-9)
    assert not r.stale[avoided].any()
    assert r.index[r.stale].tolist() == [16, 17, 18, 36, 37, 38]
    np.testing.assert_allclose(r.staleness[r.stale], [0.5, 1.5, 2.5] * 2, atol=1e-9)
    assert r.staleness.max() <= 3 + 0.4
    w = results.writes.sort_values("version")
    np.testing.assert_allclose(w.first_visible, [5.75, 22.1, 25.75, 44.2, 45.75], atol=1e-9)
    np.testing.assert_allclose(w.all_visible, [5.75, 22.1, 25.75, 44.2, 45.75], atol=1e-9)

    unlimited = reads(run(scenario_from, "crud", STALLS.format(limit=""), writes=STALL_WRITES))
    np.testing.assert_allclose(unlimited.start, unlimited.arrival, atol=1e-9)
    assert unlimited.index[unlimited.stale].tolist() == [*range(16, 23), *range(36, 45)]
    assert unlimited.staleness.max() == pytest.approx(44 - 35.5)


def test_streaming_replicas_fail_and_come_back(scenario_from):
    """Two streaming replicas (lag 0.25), both failing at 25.2 for 5. crud.failures
    covers the primary too, which (the same constants) is down [25.2, 30.2] as well: it
    takes no reads here, and the write below arrives after its repair. Read 25 runs [25, 25.4] on a replica at 25.2 and
    fails. Reads 26..30 find no replica and wait; at 30.2 both are back and they start,
    ending at 30.6. A write at 31 (apply 0.5) commits at 31.5 and is due on both
    replicas at 31.75: first and all visible then. replica_availability = 1 − 2 × 5 /
    (2 × 50) = 0.9; read_availability 49/50."""
    body = ("crud:\n  replicas: 2\n  replica_connections: 100\n  replication_lag: 0.25s\n"
            "  failures: {mtbf: 25.2s, mttr: 5s}\n")
    writes = "  writes:\n    at: [31s]\n    apply_time: 0.5s"
    results = run(scenario_from, "crud", body, duration=50, writes=writes)
    r = reads(results)
    assert r.index[r.timed_out.astype(bool)].tolist() == [25]
    np.testing.assert_allclose(r.start[range(26, 31)], 30.2, atol=1e-9)
    np.testing.assert_allclose(r.drop(index=range(25, 31)).latency, 0.4, atol=1e-9)
    w = results.writes
    assert (w.commit.iloc[0], w.first_visible.iloc[0], w.all_visible.iloc[0]) == pytest.approx((31.5, 31.75, 31.75))
    outages = results.replicas.sort_values("replica")
    np.testing.assert_allclose(outages.out, [25.2, 25.2], atol=1e-9)
    np.testing.assert_allclose(outages.back, [30.2, 30.2], atol=1e-9)
    assert metric(results, "crud", "replica_availability") == pytest.approx(0.9)
    assert metric(results, "crud", "read_availability") == pytest.approx(49 / 50)


def test_a_write_waits_for_the_primary_that_failed_with_its_replicas(scenario_from):
    """As above, with the write at 26 instead. The primary is down [25.2, 30.2] too, so
    the write waits for its repair: it applies [30.2, 30.7], commits at 30.7 and is due
    on the replicas (back at 30.2) at 30.95. Reads 26..30 start at 30.2 on version 0,
    the newest then: none is stale. (A replica that misses commits while frozen applies
    them when it thaws: see the stall test below.)"""
    body = ("crud:\n  replicas: 2\n  replica_connections: 100\n  replication_lag: 0.25s\n"
            "  failures: {mtbf: 25.2s, mttr: 5s}\n")
    writes = "  writes:\n    at: [26s]\n    apply_time: 0.5s"
    results = run(scenario_from, "crud", body, duration=50, writes=writes)
    w = results.writes
    assert (w.start.iloc[0], w.commit.iloc[0], w.all_visible.iloc[0]) == pytest.approx((30.2, 30.7, 30.95))
    r = reads(results)
    assert not r.stale.any()


def test_projected_replicas_leave_while_their_lag_exceeds_max_lag(scenario_from):
    """CQRS with projections: two replicas, each projecting one write in 3.3 (constant).
    Writes at 10.5 and 11.5 (apply 0.1) commit at 10.6 and 11.6; each replica applies v1
    at 10.6 + 3.3 = 13.9 and v2 at 13.9 + 3.3 = 17.2. With max_lag 2 both leave the pool
    at 12.6 (v1 two seconds old); at 13.9 they hold v1 but lack v2, committed 2.3 s
    earlier, so they stay out until they apply it at 17.2. Reads 13..17 wait and start at
    17.2, seeing v2. Reads 11 and 12 read v0 after v1's commit: staleness 0.4 and 1.4,
    within the limit. Without the limit every read starts on arrival, and reads 11..17
    are stale, read 17 by 17 − 11.6 = 5.4 (it sees v1)."""
    body = """
cqrs:
  replicas: {{count: 2, connections: 100, routing: round_robin{limit}}}
  sync: {{strategy: projection, projection_time: 3.3s}}
"""
    writes = "  writes:\n    at: [10.5s, 11.5s]\n    apply_time: 0.1s"
    r = reads(run(scenario_from, "cqrs", body.format(limit=", max_lag: 2s"), duration=30, writes=writes))
    waited = list(range(13, 18))
    np.testing.assert_allclose(r.start[waited], 17.2, atol=1e-9)
    assert (r.version_seen[waited] == 2).all() and not r.stale[waited].any()
    np.testing.assert_allclose(r.drop(index=waited).start, r.drop(index=waited).arrival, atol=1e-9)
    assert r.index[r.stale].tolist() == [11, 12]
    np.testing.assert_allclose(r.staleness[[11, 12]], [0.4, 1.4], atol=1e-9)

    unlimited = reads(run(scenario_from, "cqrs", body.format(limit=""), duration=30, writes=writes))
    np.testing.assert_allclose(unlimited.start, unlimited.arrival, atol=1e-9)
    assert unlimited.index[unlimited.stale].tolist() == list(range(11, 18))
    assert unlimited.staleness[17] == pytest.approx(17 - 11.6)


@pytest.mark.parametrize("drain", [True, False])
def test_a_failing_projected_replica_fails_its_running_read_whether_or_not_it_drains(scenario_from, drain):
    """CQRS with projections, one replica, no writes. It fails at 25.2 while read 25 runs [25, 25.4]: read 25
    fails (latency 0.2) with drain on or off, since drain says what a replica leaving for a rebuild does with
    its reads, not what a failure does. Down for mttr 5, it then starts empty and, with no event to replay,
    rejoins at once, at 30.2: reads 26..30 wait and start then. The next failure would come 25.2 after 30.2,
    past duration 50: none. Out of the pool [25.2, 30.2]."""
    body = f"""
cqrs:
  replicas: {{count: 1, connections: 100, failures: {{mtbf: 25.2s, mttr: 5s}}}}
  sync: {{strategy: projection, projection_time: 1s, drain: {str(drain).lower()}}}
"""
    results = run(scenario_from, "cqrs", body, duration=50)
    r = reads(results)
    assert r.index[r.timed_out].tolist() == [25] and r.latency[25] == pytest.approx(0.2)
    waited = np.arange(26, 31)
    np.testing.assert_allclose(r.start[waited], 30.2, atol=1e-9)
    np.testing.assert_allclose(r.drop(index=[25, *waited]).latency, 0.4, atol=1e-9)
    assert metric(results, "cqrs", "reads_failed") == 1
    swaps = results.replicas
    assert len(swaps) == 1 and (swaps.out.iloc[0], swaps.back.iloc[0]) == pytest.approx((25.2, 30.2))
