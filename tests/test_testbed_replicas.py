"""CRUD with streaming replicas on real hot standbys: what a read on a standby returns, and when a write shows there.

Skipped only where PostgreSQL cannot start at all. Waits are for a version
or a database to appear, with deadlines; the only timed steps are the
client's own sends, whose instants are checked against what was asked.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.testbed import run_testbed
from cqrs_sim.testbed.client import Clock
from cqrs_sim.testbed.crud_replicas import CrudReplicasBackend, wait_for_database
from cqrs_sim.testbed.server import Databases, EmbeddedServer, with_database
from cqrs_sim.testbed.snapshot import create_template

from .conftest import SCENARIOS
from .test_testbed import postgres_available  # noqa: F401  (the fixture: PostgreSQL starts here, or skip)

pytestmark = pytest.mark.testbed
REPLICAS = SCENARIOS / "testbed_replicas.yaml"
DELAY = 1.0  #: the standbys' recovery_min_apply_delay in this file's hand-checked timeline


async def _timeline(server: EmbeddedServer, scenario) -> dict:
    databases = Databases(server.dsn)
    try:
        await create_template(databases, scenario)
        name = databases.create("hand", template=databases.name("schema"))
        standbys = [with_database(dsn, name) for dsn in server.standby_dsns]
        await wait_for_database(standbys, DELAY + 60)
        backend = await CrudReplicasBackend.open(Clock(), scenario, 0, with_database(server.dsn, name), standbys,
                                                 DELAY)
        backend.start()
        try:
            clock = backend.clock
            _, commit, version = await backend.write([3], 0.0)
            out = {"commit": commit, "version": version, "reads": []}
            for after in (0.2, 1.5):
                await clock.until(commit + after)
                for _ in range(backend.count):  # round robin: one read on each standby
                    out["reads"].append((after, *await backend.query(3, 0.0), clock()))
            await backend.settle()
            out["visible"] = [seen[version] for seen in backend.replay.visible]
            out["censored"] = backend.replay.censored
            return out
        finally:
            await backend.close()
    finally:
        databases.drop_all()


def test_a_standby_returns_the_old_version_until_it_replays_the_commit(postgres_available):
    """Validation against a hand-derived timeline: two standbys replay each commit no sooner than 1 s after the
    primary wrote it (``recovery_min_apply_delay``). A write of key 3 commits at c; a read of key 3 on each standby
    sent at c + 0.2 s returns key version 0 and data version 0 (the old); one sent at c + 1.5 s returns 1 and 1 (the
    new). The replay instant measured on each standby lies between those reads, and no sooner than c + 0.9 s
    (PostgreSQL counts the delay from its own commit record, which the client sees a round trip later)."""
    scenario = cqrs_sim.load_scenario(REPLICAS, ["crud.replica_routing=round_robin", "crud.replica_connections=1"])
    with EmbeddedServer(standbys=2, apply_delay=DELAY) as server:
        timeline = asyncio.run(_timeline(server, scenario))
    commit = timeline["commit"]
    assert timeline["version"] == 1 and timeline["censored"] == 0
    early = [r for r in timeline["reads"] if r[0] == 0.2]
    late = [r for r in timeline["reads"] if r[0] == 1.5]
    assert sorted(r[4] for r in early) == sorted(r[4] for r in late) == [0, 1]  # (after, start, seen, latest, replica…)
    for after, start, seen, latest, replica, key_version, finish in early:
        assert start < commit + 0.9, "the client sent the early read too late to check anything"
        assert (seen, key_version, latest) == (0, 0, 1)
    for after, start, seen, latest, replica, key_version, finish in late:
        assert (seen, key_version, latest) == (1, 1, 1)
    for r, at in enumerate(timeline["visible"]):
        assert commit + 0.9 <= at
        assert max(e[1] for e in early if e[4] == r) < at < max(f[6] for f in late if f[4] == r)


def test_a_run_on_standbys_records_the_replica_of_every_read_and_the_measured_replay(postgres_available):
    """A short run of the shipped scenario: every read names the standby that served it (both serve), each write
    shows on each standby no sooner than the apply delay after the client saw it commit (less a round trip), first
    visibility is the earlier standby's and full visibility the later's, no replay instant is censored, every
    writer's read-back (sent 0.5 s after its commit, on a standby a second behind) misses its write, and the record
    says what the model's streaming replicas record (2 replicas)."""
    scenario = cqrs_sim.load_scenario(REPLICAS, ["duration=6s", "replications=1"])
    measured = run_testbed(scenario, source=str(REPLICAS))
    run = measured.manifest["testbed"]["runs"][0]
    assert run["replay_censored"] == 0 and run["replay_polls"] > 0 and run["standby_apply_delay_s"] == 1.0
    writes = measured.writes
    committed = writes[writes["version"] > 0]
    assert len(committed) >= 2
    assert len(run["replay_lag_seconds"]) == 2 * len(committed)
    assert min(run["replay_lag_seconds"]) > 0.9
    assert (committed["first_visible"] <= committed["all_visible"]).all()
    assert (committed["first_visible"] - committed["commit"] > 0.9).all()
    reads = measured.requests[measured.requests["kind"] == "read"]
    assert set(reads["replica"]) == {0, 1}
    summary = measured.summary().set_index("metric")["mean"]
    assert summary["replica_availability"] == 1.0
    assert 0 < summary["stale_read_fraction"] < summary["stale_version_fraction"]
    assert summary["read_your_writes_violations"] == 1.0  # read back 0.5 s after the commit, replayed ≥ 0.9 s after
    assert np.isclose(summary["visibility_window_mean"],
                      float((committed["all_visible"] - committed["commit"]).mean()))


def test_read_backs_are_drawn_as_the_model_draws_them():
    """The testbed's read-backs are the model's: the same versions read back (probability 0.5) and, per read-back,
    the same query time (the design's own, coupled at the same quantile), compared with a simulation's record in
    which a read-back's query runs undisturbed (finish − start is its query time)."""
    from cqrs_sim.model.run import run_architecture
    from cqrs_sim.testbed.read_backs import ReadBacks

    scenario = cqrs_sim.load_scenario(REPLICAS, ["duration=30s", "workload.writes.read_back={probability: 0.5, after: 2s}",
                                                 "crud.query_time={dist: lognormal, mean: 30ms, cv: 0.4}",
                                                 "crud.replica_connections=64"])
    record = run_architecture(scenario, "crud", 1)
    backs = record.read_backs
    drawn = ReadBacks(scenario, 1, "crud")
    commits = len(record.commit_time) - 1
    assert commits > 20
    ours = {v: drawn.of(v) for v in range(1, commits + 1)}
    assert sorted(v for v, d in ours.items() if d is not None) == sorted(backs["version"].tolist())
    assert 0 < len(backs["version"]) < commits
    for version, start, finish in zip(backs["version"], backs["start"], backs["finish"]):
        assert ours[int(version)][1] == pytest.approx(finish - start, abs=1e-9)
