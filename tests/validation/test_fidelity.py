"""Validation of model options: prefer_fresh and power_of_two routing, diurnal load, cold replicas.

Each test states its derivation; timelines are exact, statistical checks use
their own standard deviations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.config.loader import parse_scenario
from cqrs_sim.model.routing import power_of_two
from cqrs_sim.experiments.selfcheck import TIMELINE
from cqrs_sim.workload.streams import stream

from .stats import per_replication, t_interval

pytestmark = pytest.mark.validation


def test_prefer_fresh_is_stale_only_before_first_visible():
    """The timeline of test_timeline.py with routing prefer_fresh. Commits at 15.2 and 55.2; the first replica
    with v1 rejoins at 27.6 (v2: 67.6). Reads starting in [commit, first_visible) find no fresh replica in the
    pool, so they go to a stale one: reads 16..27 and 56..67, 24 of 100 (0.24), staleness t − commit summing to
    2 × (258 − 12 × 15.2) = 151.2 s, mean 1.512 s. After 27.6 only replica 0 holds v1, so reads 28..37 all go to
    it (freshness bought with capacity); from 37.6 replicas 0 and 1 share reads 38..47."""
    results = cqrs_sim.simulate(parse_scenario(TIMELINE, "<t>", {"cqrs.replicas.routing": "prefer_fresh", "architectures": ["cqrs"]}))
    reads = results.requests[results.requests.kind == "read"].set_index("id")
    assert list(reads[reads.stale].index) == [*range(16, 28), *range(56, 68)]
    s = results.summary().set_index("metric")["mean"]
    assert s["stale_read_fraction"] == pytest.approx(0.24, abs=1e-12)
    assert s["staleness_mean"] == pytest.approx(1.512, abs=1e-9)
    assert (reads.replica.loc[28:37] == 0).all()
    assert set(reads.replica.loc[38:47]) == {0, 1}


def test_cold_replica_warms_up_linearly():
    """2 replicas, round robin, query 0.1 s, cold_factor 3, warm_up_time 10 s; a write commits at 2.5: replica 0
    is out [2.5, 12.5] and replica 1 [12.5, 22.5]. Reads 13..22 all go to replica 0, rejoined at 12.5, and take
    0.1 × (1 + 2 × (1 − (k − 12.5)/10)) = 0.29, 0.27, ..., 0.11 s. Read 23 goes to replica 1, 0.5 s after it
    rejoined: 0.29 s; read 24 to replica 0, 11.5 s after: warm again, 0.1 s."""
    text = """
duration: 40s
replications: 1
architectures: [cqrs]
workload:
  reads: {rate: 1/s, process: uniform, handler_time: 0s, query_time: 100ms}
  writes: {at: [1.5s], apply_time: 1s}
handlers: {count: 1, concurrency: 100}
cqrs:
  replicas: {count: 2, connections: 4, routing: round_robin, cold_factor: 3, warm_up_time: 10s}
  sync: {replace_time: 10s}
"""
    results = cqrs_sim.simulate(parse_scenario(text))
    reads = results.requests[results.requests.kind == "read"].set_index("id")
    service = (reads.finish - reads.start)
    expected = [0.1 * (1 + 2 * (1 - (k - 12.5) / 10)) for k in range(13, 23)]
    np.testing.assert_allclose(service.loc[13:22], expected, atol=1e-12)
    np.testing.assert_array_equal(reads.replica.loc[13:22], 0)
    assert service.loc[23] == pytest.approx(0.29) and service.loc[24] == pytest.approx(0.1)
    np.testing.assert_allclose(service.loc[0:12], 0.1)


def test_diurnal_counts_follow_the_integrated_rate():
    """Thinning gives a Poisson process with rate λ(t) = m (1 + a sin(2π(t − φ)/P)): the count in any interval is
    Poisson with mean ∫λ. Over 2 h (two 1-hour periods), every 5-minute bin is within 4 standard deviations
    (√∫λ) of its mean, and so is the total (∫λ over two whole periods = m × 7200)."""
    text = """
duration: 2h
replications: 1
record: full
architectures: [cqrs]
workload:
  reads:
    rate: {diurnal: {mean: 50/s, amplitude: 0.8, period: 1h, phase: 10m}}
    query_time: 1ms
"""
    results = cqrs_sim.simulate(parse_scenario(text))
    arrival = results.requests.arrival.to_numpy()
    shape = results.scenario.workload.reads.rate.diurnal
    edges = np.arange(0, 7201, 300.0)
    counts = np.histogram(arrival, bins=edges)[0]
    P, a, m, phi = shape.period, shape.amplitude, shape.mean, shape.phase
    integral = lambda t: m * (t - a * P / (2 * math.pi) * np.cos(2 * math.pi * (t - phi) / P))  # noqa: E731
    expected = integral(edges[1:]) - integral(edges[:-1])
    z = (counts - expected) / np.sqrt(expected)
    print("largest |z| of 24 bins:", np.abs(z).max().round(2))
    assert np.abs(z).max() < 4
    assert abs(len(arrival) - m * 7200) < 4 * math.sqrt(m * 7200)
    assert counts.max() / counts.min() > 5  # the cycle is really there: (1 + 0.8)/(1 − 0.8) = 9 at the extremes


def test_power_of_two_picks_the_lighter_of_two_random_servers():
    """With loads [0, 9, 9, 9] the idle server wins whenever it is one of the two candidates: P = 1 − C(3,2)/C(4,2)
    = 1/2; with equal loads every server is picked with probability 1/4 (binomial, 4 sd)."""
    load = [0, 9, 9, 9]
    pick = power_of_two(load, stream(1, 0, "p2c-test"), [0, 1, 2, 3])
    n = 40_000
    wins = sum(pick() == 0 for _ in range(n))
    assert abs(wins / n - 0.5) < 4 * math.sqrt(0.25 / n)
    load[:] = [3, 3, 3, 3]
    picks = np.bincount([pick() for _ in range(n)], minlength=4) / n
    assert np.all(np.abs(picks - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n))


def test_power_of_two_with_two_servers_is_join_the_shortest_queue():
    """With two servers, two distinct random candidates are both servers, so power_of_two is join-the-shortest-
    queue (random tie-break) and least_outstanding is JSQ too (round-robin tie-break): the same policy for an M/M
    system, so their mean latencies agree within the 99% intervals of their paired difference (same arrivals
    and service times)."""
    text = """
duration: 3m
warmup: 10s
seed: 9
replications: 6
architectures: [cqrs]
workload:
  reads: {rate: 700/s, handler_time: 0s, query_time: {dist: exponential, mean: 4ms}}
handlers: {count: 1, concurrency: 100000}
cqrs:
  replicas: {count: 2, connections: 2, routing: ROUTING}
"""
    means = {}
    for routing in ("power_of_two", "least_outstanding", "random"):
        results = cqrs_sim.simulate(parse_scenario(text.replace("ROUTING", routing)))
        means[routing] = per_replication(results, "cqrs", "read_latency_mean")
    _, low, high = t_interval(means["power_of_two"] - means["least_outstanding"])
    print(f"p2c − least_outstanding: 99% CI [{low * 1e3:.3f}, {high * 1e3:.3f}] ms")
    assert low <= 0 <= high
    _, low, high = t_interval(means["random"] - means["power_of_two"])
    assert low > 0  # and random routing is measurably worse


def test_crud_replicas_constant_lag_timeline():
    """The timeline with CRUD read replicas (2, round robin, lag 3 s). Reads no longer touch the primary, so the
    writes start at once (10.2, 50.2) and commit at 15.2 and 55.2, and no read waits: every latency is 0.4 s.
    Both replicas apply each write 3 s after its commit (18.2, 58.2): reads 16, 17, 18 and 56, 57, 58 start in
    between and are stale by 0.8, 1.8 and 2.8 s: 6 of 100 reads; visibility window 3 s."""
    results = cqrs_sim.simulate(parse_scenario(TIMELINE, "<t>", {
        "crud.replicas": 2, "crud.replica_routing": "round_robin", "crud.replication_lag": "3s", "architectures": ["crud"]}))
    reads = results.requests[results.requests.kind == "read"].set_index("id")
    assert list(reads[reads.stale].index) == [16, 17, 18, 56, 57, 58]
    np.testing.assert_allclose(reads.staleness[reads.stale], [0.8, 1.8, 2.8] * 2, atol=1e-9)
    np.testing.assert_allclose(reads.latency, 0.4, atol=1e-12)
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.commit, [15.2, 55.2], atol=1e-9)
    np.testing.assert_allclose(writes.all_visible - writes.commit, 3.0, atol=1e-9)
    assert results.summary().set_index("metric")["mean"]["stale_read_fraction"] == pytest.approx(0.06)


def test_crud_replicas_exponential_lag_order_statistics():
    """n = 4 replicas with exponential lags of mean m = 2 s, writes 30 s apart (so a replica is never still
    applying the previous write and the lags act independently). A write reaches its first replica after the
    minimum of 4 lags, mean m/4 = 0.5 s, and every replica after the maximum, mean m·H₄ = m(1 + 1/2 + 1/3 + 1/4)
    = 4.1667 s. With random routing a read t after the commit is stale with probability e^(−t/m), so a write
    yields λ·m stale reads in expectation: stale fraction = m / 30 = 0.0667. Tolerance: the replications' 99%
    intervals (P(a lag exceeds 30 s) = e^−15, so the independence assumption costs nothing measurable)."""
    text = """
duration: 2h
warmup: 0s
seed: 21
replications: 8
architectures: [crud]
workload:
  reads: {rate: 50/s, process: uniform, handler_time: 0s, query_time: 1ms}
  writes: {interval: 30s, apply_time: 100ms}
handlers: {count: 1, concurrency: 1000}
crud: {connections: 4, locking: mvcc, replicas: 4, replica_routing: random, replica_connections: 8,
       replication_lag: {dist: exponential, mean: 2s}}
"""
    results = cqrs_sim.simulate(parse_scenario(text))
    for metric, theory in (("first_visible_mean", 0.5), ("visibility_window_mean", 2 * (1 + 1 / 2 + 1 / 3 + 1 / 4)),
                           ("stale_read_fraction", 2 / 30)):
        mean, low, high = t_interval(per_replication(results, "crud", metric))
        print(f"{metric}: simulated {mean:.5g} (99% CI {low:.5g}..{high:.5g}), theory {theory:.5g}")
        assert low <= theory <= high
        assert (high - low) / 2 < 0.1 * theory


def _timeline(**overrides):
    return cqrs_sim.simulate(parse_scenario(TIMELINE, "<t>", {"architectures": ["cqrs"], **overrides}))


def test_blue_green_builds_beside_and_switches_at_once():
    """The timeline (3 replicas, replace 10 s, trigger 2.4 s) with blue_green, build_parallelism 2: for the commit at
    15.2 new replicas 0 and 1 are built [17.6, 27.6] and replica 2 [27.6, 37.6], while the old set serves; at 37.6
    all three switch (first_visible = all_visible = 37.6; likewise 77.6 for the commit at 55.2). No replica leaves
    the pool (availability 1). Every read starting in [15.2, 37.6) or [55.2, 77.6) is stale: reads 16..37 and
    56..77, 44 of 100. Cost: 4 instances (write image + 3) × 100 s plus the built ones, 2 × 20 + 10 = 50 s per
    rollout: replica_seconds = 500."""
    results = _timeline(**{"cqrs.sync.strategy": "blue_green", "cqrs.sync.build_parallelism": 2})
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.first_visible, [37.6, 77.6], atol=1e-9)
    np.testing.assert_allclose(writes.all_visible, [37.6, 77.6], atol=1e-9)
    reads = results.requests[results.requests.kind == "read"].set_index("id")
    assert list(reads[reads.stale].index) == [*range(16, 38), *range(56, 78)]
    s = results.summary().set_index("metric")["mean"]
    assert s["replica_availability"] == 1.0
    assert s["replica_seconds"] == pytest.approx(500.0)


def test_max_surge_keeps_capacity_and_costs_instances():
    """Rolling with max_surge 1: each new replica is built [t, t + 10] beside the old one, which it replaces at
    once: versions change at 27.6, 37.6, 47.6 as in plain rolling (first_visible 27.6, all_visible 47.6), but no
    replica leaves the pool (availability 1 instead of 0.8), so round robin keeps sending read k to replica k mod 3.
    Stale reads per write: all 12 reads in [15.2, 27.6), then those on replicas 1 and 2 in [27.6, 37.6) (7: 28, 29,
    31, 32, 34, 35, 37) and on replica 2 in [37.6, 47.6) (4: 38, 41, 44, 47); for the second write 12 + 7 + 3 (the
    pointer is shifted by one: 80, 83, 86). 45 in all. Cost: 4 × 100 + 6 builds × 10 s = 460 replica-seconds."""
    results = _timeline(**{"cqrs.sync.max_surge": 1})
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.first_visible, [27.6, 67.6], atol=1e-9)
    np.testing.assert_allclose(writes.all_visible, [47.6, 87.6], atol=1e-9)
    reads = results.requests[results.requests.kind == "read"].set_index("id")
    first = [*range(16, 28), 28, 29, 31, 32, 34, 35, 37, 38, 41, 44, 47]
    second = [*range(56, 68), 68, 70, 71, 73, 74, 76, 77, 80, 83, 86]
    assert list(reads[reads.stale].index) == first + second
    s = results.summary().set_index("metric")["mean"]
    assert s["replica_availability"] == 1.0
    assert s["replica_seconds"] == pytest.approx(460.0)


@pytest.mark.parametrize("mode, first, every", [("queue", 57.6, 77.6), ("restart", 47.6, 67.6)])
def test_write_during_rollout_queue_or_restart(mode, first, every):
    """Writes at 10.2 and 30.2 commit at 15.2 and 35.2. Rollout 1 starts at 17.6: replica 0 [17.6, 27.6] and 1
    [27.6, 37.6] get v1. queue: replica 2 [37.6, 47.6] gets v1 too, and a second rollout ships v2 to all three:
    [47.6, 57.6, 67.6, 77.6], so v2 is first visible at 57.6 and everywhere at 77.6. restart: replica 2 starts
    after v2 committed and gets v2 at once (visible 47.6); the follow-up replaces only replicas 0 and 1
    [47.6, 57.6, 67.6]: everywhere at 67.6."""
    results = _timeline(**{"workload.writes.at": ["10.2s", "30.2s"], "cqrs.sync.on_write_during_rollout": mode})
    v2 = results.writes[results.writes.version == 2].iloc[0]
    assert v2.first_visible == pytest.approx(first) and v2.all_visible == pytest.approx(every)
    swaps = results.replicas.sort_values("out")
    assert len(swaps) == (6 if mode == "queue" else 5)


@pytest.mark.parametrize("overrides, after, expected", [
    ({"cqrs.replicas.routing": "prefer_fresh"}, "1s", {"crud": 0.0, "cqrs": 1.0}),
    ({"cqrs.replicas.routing": "prefer_fresh"}, "13s", {"crud": 0.0, "cqrs": 0.0}),
    ({"crud.replicas": 2, "crud.replication_lag": "3s", "architectures": ["crud"]}, "1s", {"crud": 1.0}),
    ({"crud.replicas": 2, "crud.replication_lag": "3s", "architectures": ["crud"]}, "4s", {"crud": 0.0}),
])
def test_read_your_writes(overrides, after, expected):
    """Each writer reads its write back `after` its commit (15.2 and 55.2 in the timeline). The single CRUD
    database always has it. CQRS with prefer_fresh: 1 s after the commit no replica in the pool holds it (the
    first returns 12.4 s after the commit), so both read-backs miss; 13 s after, the read-back goes to that
    replica and sees it. CRUD with replicas lagging 3 s: a read-back 1 s after misses, 4 s after sees it."""
    results = cqrs_sim.simulate(parse_scenario(TIMELINE, "<t>", {**overrides, "workload.writes.read_back": {"after": after}}))
    got = results.summary().set_index(["architecture", "metric"])["mean"].xs("read_your_writes_violations", level=1)
    assert got.to_dict() == expected


TIMEOUTS = """
duration: 4s
replications: 1
workload:
  reads: {rate: 1/s, process: uniform, handler_time: 0s, query_time: 1.4s, timeout: 2.5s, retries: RETRIES}
handlers: {count: 1, concurrency: 100}
crud: {connections: 1, locking: mvcc}
cqrs: {replicas: {count: 1, connections: 1}}
"""


@pytest.mark.parametrize("retries", [0, 1])
def test_timeouts_and_retries_timeline(retries):
    """Reads at 0, 1, 2, 3 through one connection, queries 1.4 s, client timeout 2.5 s. Reads 0, 1, 2 run
    [0, 1.4], [1.4, 2.8], [2.8, 4.2] and finish before their timeouts (2.5, 3.5, 4.5): latencies 1.4, 1.8, 2.2.
    Read 3 waits until 4.2 and would finish at 5.6, but its client gives up at 5.5 (the server still finishes it).
    retries 0: read 3 fails, latency 2.5 (the wait), goodput 3 reads / 4 s. retries 1 (no backoff): the retry is
    sent at 5.5, waits for the abandoned attempt to free the connection at 5.6, runs [5.6, 7.0] (timeout 8.0):
    success, latency 7.0 − 3 = 4.0, goodput 1/s; one timeout and one retry. Identical in both architectures."""
    results = cqrs_sim.simulate(parse_scenario(TIMEOUTS.replace("RETRIES", str(retries))))
    reads = results.requests[results.requests.kind == "read"]
    for arch in ("crud", "cqrs"):
        mine = reads[reads.architecture == arch].set_index("id")
        last = 2.5 if retries == 0 else 4.0
        np.testing.assert_allclose(mine.latency, [1.4, 1.8, 2.2, last], atol=1e-9)
        assert list(mine.timed_out) == [False, False, False, retries == 0]
        s = results.summary().set_index(["architecture", "metric"])["mean"]
        assert s[(arch, "read_goodput")] == pytest.approx(1.0 if retries else 0.75)
        assert s[(arch, "reads_failed")] == (0 if retries else 1)
        assert s[(arch, "read_timeouts")] == 1 and s[(arch, "read_retries")] == retries
        assert s[(arch, "read_throughput")] == pytest.approx(1.0)
