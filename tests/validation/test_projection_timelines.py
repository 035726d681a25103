"""Validation of projections (``cqrs.sync.strategy: projection``) against small hand-derived timelines.

Each test's docstring derives the expected events; the assertions are to
float tolerance. Reads are evenly spaced at 1/s (read k arrives at t = k),
handler time 0, one handler with ample slots, query time 0.3 s, two
replicas with round-robin routing; writes come at fixed times with apply
time 1 s on one write server, and every projection takes 1.5 s, so every
event time is known in advance.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

import cqrs_sim
from cqrs_sim.analysis.metrics import replication_metrics
from cqrs_sim.model.cqrs import CqrsModel
from cqrs_sim.workload.draws import ReadSource, write_workload

pytestmark = pytest.mark.validation

BASE = """
duration: {duration}s
warmup: 0s
replications: 1
architectures: [cqrs]
record: full
workload:
  reads:
    rate: 1/s
    process: uniform
    handler_time: 0s
    query_time: 0.3s
  writes:
    at: {writes}
    apply_time: 1s
handlers: {{count: 1, concurrency: 1000}}
cqrs:
  replicas: {{count: 2, connections: 4, routing: round_robin}}
  sync: {{strategy: projection, projection_time: 1.5s, trigger_delay: {delay}s}}
"""


def scenario(scenario_from, writes: str, duration: int = 30, delay: float = 0):
    return scenario_from(BASE.format(writes=writes, duration=duration, delay=delay))


def run_with(scenario, actions):
    """Run the CQRS model of ``scenario`` (replication 0); ``actions`` is [(time, fn(model))], done at those times."""
    env = simpy.Environment()
    model = CqrsModel(env, scenario, ReadSource(scenario, 0), write_workload(scenario, 0), 0)
    model.start_arrivals()

    def act(at, fn):
        yield env.timeout(at)
        fn(model)

    for at, fn in actions:
        env.process(act(at, fn))
    env.run()
    return model, model.record()


def seen_by_arrival(record):
    reads = record.reads
    order = np.argsort(reads["arrival"])
    return (reads["arrival"][order], reads["replica"][order], reads["version_seen"][order],
            reads["version_latest"][order])


def test_lag_grows_while_writes_come_faster_than_projections(scenario_from):
    """Writes at 0.25, 1.25, 2.25 commit at 1.25, 2.25, 3.25 (v1, v2, v3). Each replica
    applies v1 at 1.25 + 1.5 = 2.75, v2 at max(2.75, 2.25) + 1.5 = 4.25 and v3 at
    max(4.25, 3.25) + 1.5 = 5.75: lags 1.5, 2.0, 2.5, growing because a write comes every
    1 s and a projection takes 1.5 s. Both replicas draw the same constant, so every
    version is first and fully visible at the same time. No replica leaves the pool:
    no swaps, availability 1. Reads at t see version 0 up to t = 2, 1 at 3 and 4, 2 at 5,
    3 from 6; the newest commit is 0 up to 1, 1 at 2, 2 at 3, 3 from 4; so the reads at
    2, 3, 4, 5 are stale, by 2 − 1.25, 3 − 2.25, 4 − 2.25 and 5 − 3.25 (from the commit of
    the first version each lacks)."""
    s = scenario(scenario_from, "[0.25s, 1.25s, 2.25s]", duration=10)
    results = cqrs_sim.simulate(s)
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.commit, [1.25, 2.25, 3.25], atol=1e-9)
    np.testing.assert_allclose(writes.first_visible, [2.75, 4.25, 5.75], atol=1e-9)
    np.testing.assert_allclose(writes.all_visible, [2.75, 4.25, 5.75], atol=1e-9)
    assert results.replicas.empty
    reads = results.requests[results.requests.kind == "read"].sort_values("arrival")
    np.testing.assert_array_equal(reads.version_seen, [0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    np.testing.assert_array_equal(reads.version_latest, [0, 0, 1, 2, 3, 3, 3, 3, 3, 3])
    np.testing.assert_allclose(reads.staleness, [0, 0, 0.75, 0.75, 1.75, 1.75, 0, 0, 0, 0], atol=1e-9)
    s_ = results.summary().set_index(["architecture", "metric"])["mean"]
    assert s_[("cqrs", "replica_availability")] == 1.0
    assert s_[("cqrs", "stale_read_fraction")] == pytest.approx(0.4)
    assert s_[("cqrs", "visibility_window_mean")] == pytest.approx((1.5 + 2.0 + 2.5) / 3)


def test_trigger_delay_holds_the_events_back(scenario_from):
    """trigger_delay 0.5: the events of the commits at 1.25, 2.25, 3.25 reach the
    projectors at 1.75, 2.75, 3.75; each replica applies them at 3.25, max(3.25, 2.75) +
    1.5 = 4.75 and max(4.75, 3.75) + 1.5 = 6.25."""
    results = cqrs_sim.simulate(scenario(scenario_from, "[0.25s, 1.25s, 2.25s]", duration=10, delay=0.5))
    writes = results.writes.sort_values("version")
    np.testing.assert_allclose(writes.all_visible, [3.25, 4.75, 6.25], atol=1e-9)


def test_a_rebuilt_replica_replays_the_whole_log_before_it_takes_reads(scenario_from):
    """As above, with a fourth write at 12.1 (commit 13.1, v4), and replica 1 rebuilt at
    10.5 (both replicas hold v3 since 5.75; the read of t = 10 ended at 10.3, so nothing
    drains). Replica 1 leaves the pool, drops to version 0 and replays v1, v2, v3 at 12.0,
    13.5, 15.0; v4 reaches the projectors at 13.1: replica 0 applies it at 14.6, replica 1
    queues it behind its replay and applies it at max(15.0, 13.1) + 1.5 = 16.5, when it
    has every event and rejoins: 6 s out of the pool (four events at 1.5 s), one swap
    (1, 10.5, 16.5, v4). v4 is first visible at 14.6 and, replica 1 being out of the pool,
    visible to every replica in it at 14.6 too. Reads from 11 to 16 all go to replica 0
    (the reads of 11 to 13 see v3, the newest before v4 commits at 13.1; the read of 14
    sees v3 of v4, the read of 15 sees v4), and from 17 the two alternate
    again. Availability over [0, 30): 1 − 6 / (2 × 30) = 0.9."""
    s = scenario(scenario_from, "[0.25s, 1.25s, 2.25s, 12.1s]")
    done = []
    model, record = run_with(s, [(10.5, lambda m: done.append(m.rollouts.rebuild(1)))])
    assert done[0].triggered and done[0].ok
    np.testing.assert_allclose(record.swaps["out"], [10.5])
    np.testing.assert_allclose(record.swaps["back"], [16.5])
    np.testing.assert_array_equal(record.swaps["replica"], [1])
    np.testing.assert_array_equal(record.swaps["version"], [4])
    np.testing.assert_allclose(record.first_visible, [0, 2.75, 4.25, 5.75, 14.6], atol=1e-9)
    np.testing.assert_allclose(record.all_visible, [0, 2.75, 4.25, 5.75, 14.6], atol=1e-9)
    arrival, replica, seen, latest = seen_by_arrival(record)
    during = (arrival > 10.5) & (arrival < 16.5)
    np.testing.assert_array_equal(arrival[during], [11, 12, 13, 14, 15, 16])
    assert (replica[during] == 0).all()
    np.testing.assert_array_equal(seen[during], [3, 3, 3, 3, 4, 4])
    np.testing.assert_array_equal(latest[during], [3, 3, 3, 4, 4, 4])
    after = arrival >= 17
    assert set(replica[after]) == {0, 1} and (seen[after] == 4).all()
    assert model.replicas.version == [4, 4]
    metrics = replication_metrics(record, s)
    assert metrics["replica_availability"] == pytest.approx(0.9)


@pytest.mark.parametrize("writes", [2, 5])
def test_rebuild_time_grows_with_the_history(scenario_from, writes):
    """``writes`` writes, 1 s apart from 0.25 (apply 1 s), all applied everywhere by
    1.25 + writes × 1.5 at the latest; replica 0 rebuilt at 20.5 with nothing written
    meanwhile replays ``writes`` events at 1.5 s each and rejoins 1.5 × ``writes`` later."""
    at = ", ".join(f"{0.25 + k}s" for k in range(writes))
    model, record = run_with(scenario(scenario_from, f"[{at}]"), [(20.5, lambda m: m.rollouts.rebuild(0))])
    np.testing.assert_allclose(record.swaps["back"] - record.swaps["out"], [1.5 * writes])
    np.testing.assert_array_equal(record.swaps["version"], [writes])


def test_a_stopped_replica_is_out_until_rebuilt(scenario_from):
    """Writes as in the first test. Replica 1 stops (fails) at 3.0, holding v1 (applied at
    2.75), and is rebuilt at 8.5: it replays v1, v2, v3 at 10.0, 11.5, 13.0 and rejoins at
    13.0; out of the pool from 3.0 to 13.0. Replica 0 alone is the pool from 3.0: v2 and v3
    are visible to every replica in the pool when replica 0 applies them, at 4.25 and 5.75."""
    actions = [(3.0, lambda m: m.rollouts.stop(1)), (8.5, lambda m: m.rollouts.rebuild(1))]
    model, record = run_with(scenario(scenario_from, "[0.25s, 1.25s, 2.25s]", duration=20), actions)
    np.testing.assert_allclose(record.swaps["out"], [3.0])
    np.testing.assert_allclose(record.swaps["back"], [13.0])
    np.testing.assert_allclose(record.all_visible, [0, 2.75, 4.25, 5.75], atol=1e-9)
    arrival, replica, seen, _ = seen_by_arrival(record)
    assert (replica[(arrival > 3) & (arrival < 13)] == 0).all()


def test_a_second_rebuild_during_the_first_starts_it_over(scenario_from):
    """Writes as in the first test (v3 everywhere by 5.75). Replica 1 rebuilt at 10.5
    would rejoin at 15.0; rebuilt again at 12.5 (it applied v1 at 12.0), it drops to
    version 0 again and replays v1, v2, v3 at 14.0, 15.5, 17.0, rejoining at 17.0. Both
    rebuilds end then, and the time out of the pool is one swap, 10.5 to 17.0."""
    done = []
    actions = [(at, lambda m: done.append(m.rollouts.rebuild(1))) for at in (10.5, 12.5)]
    model, record = run_with(scenario(scenario_from, "[0.25s, 1.25s, 2.25s]"), actions)
    assert all(p.triggered for p in done)
    np.testing.assert_allclose(record.swaps["out"], [10.5])
    np.testing.assert_allclose(record.swaps["back"], [17.0])
    np.testing.assert_array_equal(record.swaps["version"], [3])
