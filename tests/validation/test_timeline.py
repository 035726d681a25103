"""Validation against a hand-derived timeline (constant times, evenly spaced reads, fixed writes).

The scenario (all times in seconds):

* reads arrive at t = 0, 1, ..., 99 (``uniform`` at 1/s); handler time 0;
  every query takes 0.4, so read k occupies [k, k + 0.4] when it does not wait.
* writes arrive at 10.2 and 50.2; each applies for 5.
* one handler with ample slots, so only the database tier queues.

CRUD, ``exclusive``, 2 connections
  Write 1 arrives at 10.2 while read 10 runs [10, 10.4]; it waits for it,
  applies [10.4, 15.4] and commits at 15.4 (latency 5.2). Reads 11..15
  arrive during the write and queue behind it. At 15.4 reads 11, 12 start
  (end 15.8); at 15.8 reads 13, 14 (end 16.2); read 16 arrives at 16 behind
  read 15 (FIFO); at 16.2 reads 15, 16 start (end 16.6); read 17 at 17 finds
  the database free. Latencies: 11: 4.8, 12: 3.8, 13: 3.2, 14: 2.2,
  15: 1.6, 16: 0.6, every other read 0.4. Write 2 repeats this 40 s later.
  Mean read latency = (100 × 0.4 + 2 × (16.2 − 6 × 0.4)) / 100 = 0.676;
  max = 4.8; write latency 5.2 each; commits at 15.4 and 55.4.

CRUD, ``mvcc``
  The write holds one connection [10.2, 15.2]; reads use the other, so every
  read takes 0.4 and each write 5.0.

CQRS: 3 replicas × 2 connections, ``round_robin`` routing, rolling,
batch 1, replace 10, trigger_delay 2.4, drain on
  Commits at 15.2 and 55.2 (write latency 5.0). Rollout 1 starts at 17.6
  (no read is in flight at x.6, so no drain wait): replica 0 is out
  [17.6, 27.6], replica 1 [27.6, 37.6], replica 2 [37.6, 47.6].
  first_visible(v1) = 27.6 (12.4 after commit), all_visible(v1) = 47.6
  (window 32.4). Rollout 2: [57.6, 87.6] likewise. Availability over
  [0, 100) = 1 − 6 × 10 / (3 × 100) = 0.8. Reads never queue: latency 0.4.

  Stale reads, following the round-robin pointer (read k goes to k mod 3
  while all replicas are in; the pointer skips replicas out of the pool):
  reads 16, 17 start after commit 1 on v0 replicas; reads 18..27 go to
  replicas 1, 2, 1, 2, ... (both v0); reads 28..37 alternate replica 0 (v1,
  fresh) and replica 2 (v0: reads 29, 31, 33, 35, 37 stale); reads 38..47
  go to replicas 0 and 1 (v1). That is 17 stale reads, with staleness
  t − 15.2 summing to 423 − 17 × 15.2 = 164.6. The pointer is back at 0 after
  read 57, so rollout 2 repeats the pattern 40 s later: 34 stale reads of
  100, mean staleness over all reads 329.2 / 100 = 3.292, max 37 − 15.2 = 21.8.
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

# the scenario lives in the library so that `cqrs-sim validate` checks the same timeline
from cqrs_sim.experiments.selfcheck import TIMELINE  # noqa: E402


def metric(results: cqrs_sim.Results, arch: str, name: str) -> float:
    summary = results.summary()
    return float(summary[(summary.architecture == arch) & (summary.metric == name)]["mean"].iloc[0])


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    path = tmp_path_factory.mktemp("timeline") / "timeline.yaml"
    path.write_text(TIMELINE)
    return cqrs_sim.simulate(cqrs_sim.load_scenario(path))


def reads_of(results, arch):
    req = results.requests
    return req[(req.architecture == arch) & (req.kind == "read")].sort_values("id")


def test_crud_exclusive_read_blocking(timeline):
    reads = reads_of(timeline, "crud")
    latency = reads.latency.to_numpy()
    expected = np.full(100, 0.4)
    for base in (10, 50):
        for k, value in zip(range(1, 7), (4.8, 3.8, 3.2, 2.2, 1.6, 0.6)):
            expected[base + k] = value
    np.testing.assert_allclose(latency, expected, atol=1e-9)
    assert metric(timeline, "crud", "read_latency_mean") == pytest.approx(0.676, abs=1e-9)
    assert metric(timeline, "crud", "read_latency_max") == pytest.approx(4.8, abs=1e-9)


def test_crud_exclusive_write_waits_for_inflight_query(timeline):
    writes = timeline.writes[timeline.writes.architecture == "crud"].sort_values("version")
    np.testing.assert_allclose(writes["start"], [10.4, 50.4], atol=1e-9)
    np.testing.assert_allclose(writes["commit"], [15.4, 55.4], atol=1e-9)
    assert metric(timeline, "crud", "write_latency_mean") == pytest.approx(5.2, abs=1e-9)
    # a CRUD commit is visible at once
    np.testing.assert_allclose(writes["first_visible"], writes["commit"])
    np.testing.assert_allclose(writes["all_visible"], writes["commit"])
    assert metric(timeline, "crud", "stale_read_fraction") == 0


def test_crud_mvcc_reads_go_on(tmp_path):
    path = tmp_path / "mvcc.yaml"
    path.write_text(TIMELINE)
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(path, {"crud.locking": "mvcc", "architectures": ["crud"]}))
    np.testing.assert_allclose(reads_of(results, "crud").latency, 0.4, atol=1e-9)
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes["commit"], [15.2, 55.2], atol=1e-9)


def test_cqrs_commits_and_visibility(timeline):
    writes = timeline.writes[timeline.writes.architecture == "cqrs"].sort_values("version")
    np.testing.assert_array_equal(writes["version"], [1, 2])
    np.testing.assert_allclose(writes["commit"], [15.2, 55.2], atol=1e-9)
    np.testing.assert_allclose(writes["first_visible"], [27.6, 67.6], atol=1e-9)
    np.testing.assert_allclose(writes["all_visible"], [47.6, 87.6], atol=1e-9)
    assert metric(timeline, "cqrs", "write_latency_mean") == pytest.approx(5.0, abs=1e-9)
    assert metric(timeline, "cqrs", "first_visible_mean") == pytest.approx(12.4, abs=1e-9)
    assert metric(timeline, "cqrs", "visibility_window_mean") == pytest.approx(32.4, abs=1e-9)
    assert metric(timeline, "cqrs", "visibility_window_max") == pytest.approx(32.4, abs=1e-9)


def test_cqrs_swaps_and_availability(timeline):
    swaps = timeline.replicas[timeline.replicas.architecture == "cqrs"].sort_values("out")
    np.testing.assert_array_equal(swaps["replica"], [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(swaps["version"], [1, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(swaps["out"], [17.6, 27.6, 37.6, 57.6, 67.6, 77.6], atol=1e-9)
    np.testing.assert_allclose(swaps["back"], [27.6, 37.6, 47.6, 67.6, 77.6, 87.6], atol=1e-9)
    assert metric(timeline, "cqrs", "replica_availability") == pytest.approx(0.8, abs=1e-9)


def test_cqrs_stale_reads_follow_the_round_robin_pointer(timeline):
    reads = reads_of(timeline, "cqrs")
    np.testing.assert_allclose(reads.latency, 0.4, atol=1e-9)
    stale_ids = sorted(reads[reads.stale].id)
    first = [16, 17, *range(18, 28), 29, 31, 33, 35, 37]
    assert stale_ids == first + [k + 40 for k in first]
    assert metric(timeline, "cqrs", "stale_read_fraction") == pytest.approx(0.34, abs=1e-12)
    assert metric(timeline, "cqrs", "staleness_mean") == pytest.approx(3.292, abs=1e-9)
    assert metric(timeline, "cqrs", "staleness_max") == pytest.approx(21.8, abs=1e-9)
    # the replica each read went to, in the first rollout (see the module docstring)
    replica = dict(zip(reads.id, reads.replica))
    assert [replica[k] for k in range(18, 28)] == [1, 2] * 5
    assert [replica[k] for k in range(28, 38)] == [0, 2] * 5
    assert [replica[k] for k in range(38, 48)] == [0, 1] * 5
