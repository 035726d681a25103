"""Validation of scheduled failures (``failures.scheduled``) against hand-derived timelines (times in seconds).

The set-up is the one of test_failure_timelines: reads evenly spaced at 1/s
(read k arrives at t = k), handler time 0, one handler with ample slots,
each query 0.4. A scheduled failure draws nothing, so every event time
below is known in advance, and it is the same in every replication and in
both designs. No failure or repair falls on the instant a read arrives or
ends.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

READS = """
duration: 60s
warmup: 0s
replications: {replications}
record: full
architectures: [{arch}]
workload:
  reads:
    rate: 1/s
    process: uniform
    handler_time: 0s
    query_time: 0.4s
handlers: {{count: 1, concurrency: 1000}}
"""


def run(scenario_from, arch: str, body: str, replications: int = 1):
    return cqrs_sim.simulate(scenario_from(READS.format(arch=arch, replications=replications) + body))


def reads(results, arch: str, replication: int = 0):
    req = results.requests
    req = req[(req.kind == "read") & (req.architecture == arch) & (req.replication == replication)]
    return req.set_index("id").sort_index()


def test_a_scheduled_replica_failure_is_the_same_in_every_replication_and_design(scenario_from):
    """`replicas.0` fails at 25.2 for 5 in both designs, one replica each, 100 connections, no writes.

    CQRS: read 25 runs [25, 25.4] and fails at 25.2 (latency 0.2, no timeout so no retry). The replica is
    down until 30.2, then loads the newest snapshot for replace_time 10: out of the pool [25.2, 40.2].
    Reads 26..40 wait and all start at 40.2, latency 40.6 − k.
    CRUD: the streaming replica is out [25.2, 30.2] and serves again at once when repaired (its caches
    warm): read 25 fails, reads 26..30 start at 30.2, latency 30.6 − k.
    Every other read takes 0.4. With three replications, each one has exactly this timeline, and the
    outage table holds one row per (design, replication): (25.2, 40.2) for CQRS, (25.2, 30.2) for CRUD."""
    body = """
crud: {replicas: 1, replica_connections: 100}
cqrs:
  replicas: {count: 1, connections: 100}
  sync: {replace_time: 10s}
failures:
  scheduled: [{at: 25.2s, for: 5s, target: replicas.0}]
"""
    results = run(scenario_from, "cqrs, crud", body, replications=3)
    for arch, back in (("cqrs", 40.2), ("crud", 30.2)):
        for replication in range(3):
            r = reads(results, arch, replication)
            assert r.timed_out.sum() == 1 and bool(r.timed_out[25])
            assert r.latency[25] == pytest.approx(0.2)
            waited = np.arange(26, math.ceil(back))
            np.testing.assert_allclose(r.start[waited], back, atol=1e-9)
            np.testing.assert_allclose(r.latency[waited], back + 0.4 - waited, atol=1e-9)
            np.testing.assert_allclose(r.drop(index=[25, *waited]).latency, 0.4, atol=1e-9)
        outages = results.outages[results.outages.architecture == arch]
        assert len(outages) == 3
        assert set(outages.instance) == {f"{arch}.replicas.0"} and set(outages.cause) == {"scheduled"}
        np.testing.assert_allclose(outages.down, 25.2)
        np.testing.assert_allclose(outages.up, back)


def test_a_scheduled_and_a_random_failure_hold_one_replica_down_together(scenario_from):
    """One CQRS replica, random failures mtbf 15.3 and mttr 10 (constants), and a scheduled failure at
    10.2 for 10; replace_time 10.

    10.2: the schedule takes the replica down (read 10, running [10, 10.4], fails). 15.3: its random
    failure falls due; the replica is already down, so it only holds it down too. 20.2: the schedule
    lets go; the random failure still holds. 25.3: the random failure lets go, the last cause: the
    replica loads its snapshot for 10 and rejoins at 35.3. Reads 11..35 wait and start at 35.3.
    The random process draws its next up time from 35.3: it fails again at 50.6 (read 50 ran
    [50, 50.4]: untouched), is down until 60.6 and back at 70.6; reads 51..59 wait and start at 70.6.
    Outages: (10.2, 35.3) caused by the schedule and the random failure, then (50.6, 70.6) random."""
    body = """
cqrs:
  replicas: {count: 1, connections: 100, failures: {mtbf: 15.3s, mttr: 10s}}
  sync: {replace_time: 10s}
failures:
  scheduled: [{at: 10.2s, for: 10s, target: cqrs.replicas.0}]
"""
    results = run(scenario_from, "cqrs", body)
    r = reads(results, "cqrs")
    assert list(r.index[r.timed_out.astype(bool)]) == [10]
    for waited, back in ((np.arange(11, 36), 35.3), (np.arange(51, 60), 70.6)):
        np.testing.assert_allclose(r.start[waited], back, atol=1e-9)
        np.testing.assert_allclose(r.latency[waited], back + 0.4 - waited, atol=1e-9)
    outages = results.outages
    assert list(outages.cause) == ["scheduled+random", "random"]
    np.testing.assert_allclose(outages.down, [10.2, 50.6])
    np.testing.assert_allclose(outages.up, [35.3, 70.6])


def test_a_scheduled_primary_failure_refuses_reads_until_repaired(scenario_from):
    """CRUD without replicas, 32 connections, the primary scheduled down at 25.2 for 5. Read 25 (running
    [25, 25.4]) fails at 25.2; reads 26..30 arrive while it is down and are refused at once (latency 0,
    failed); from 30.2 it serves again. 6 of 60 reads failed: read_availability = 54/60 = 0.9."""
    body = """
failures:
  scheduled: [{at: 25.2s, for: 5s, target: crud.primary}]
"""
    results = run(scenario_from, "crud", body)
    r = reads(results, "crud")
    assert list(r.index[r.timed_out.astype(bool)]) == [25, 26, 27, 28, 29, 30]
    np.testing.assert_allclose(r.latency[[26, 27, 28, 29, 30]], 0.0, atol=1e-9)
    s = results.summary()
    availability = s[(s.architecture == "crud") & (s.metric == "read_availability")]["mean"].iloc[0]
    assert availability == pytest.approx(54 / 60)


def test_a_scheduled_write_server_failure_delays_the_write_it_was_applying(scenario_from):
    """One CQRS write server; writes arrive at 0, 10 and 20, each applying for 4. The server
    is scheduled down at 11 for 5: the write that arrived at 10 started at 10 and would commit at 14; it
    starts again from the beginning when the server is back at 16 and commits at 20. The first commits at 4,
    the third, arriving as the server frees, at 24."""
    body = """
cqrs:
  replicas: {count: 1, connections: 100}
  sync: {replace_time: 1s}
failures:
  scheduled: [{at: 11s, for: 5s, target: cqrs.write_servers.0}]
"""
    text = READS.format(arch="cqrs", replications=1).replace(
        "    query_time: 0.4s\n", "    query_time: 0.4s\n  writes: {at: [0s, 10s, 20s], apply_time: 4s}\n")
    results = cqrs_sim.simulate(scenario_from(text + body))
    writes = results.writes.sort_values("arrival")
    np.testing.assert_allclose(writes.arrival, [0.0, 10.0, 20.0])
    np.testing.assert_allclose(writes.commit, [4.0, 20.0, 24.0])
