"""Blue-green and surge rollouts on a real PostgreSQL: new copies are built beside the old ones, checked against
the timeline the model's rules give (:mod:`cqrs_sim.model.rollout`).

Two replicas and one write committed at about 1 s, so the timeline can be checked by hand. Blue-green: both new
copies are built (one after another, ``build_parallelism`` 1) while the old ones serve; then both replicas switch
at one instant, so no read ever finds the pool empty, every read that started before the switch returns version 0
and every read after it version 1. Surge: each replica's successor is built beside it and takes its place when
ready, so the pool never shrinks and each replica's reads see version 0 before its own switch and 1 after it.
Skipped only where PostgreSQL cannot start at all.
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.testbed import run_testbed
from cqrs_sim.testbed.support import unsupported

from .conftest import SCENARIOS
from .test_testbed import postgres_available  # noqa: F401  (the fixture: PostgreSQL starts here, or skip)

pytestmark = pytest.mark.testbed
SMALL = ["duration=4s", "replications=1", "workload.writes={at: [1s], apply_time: 100ms}", "cqrs.replicas.count=2"]


def _play(*sets: str):
    scenario = cqrs_sim.load_scenario(SCENARIOS / "testbed_cqrs.yaml", [*SMALL, *sets])
    assert unsupported(scenario) == []
    results = run_testbed(scenario, source=str(SCENARIOS / "testbed_cqrs.yaml"))
    reads = results.requests[results.requests["kind"] == "read"]
    write = results.writes.iloc[0]
    return results, reads, write


def test_blue_green_builds_a_new_set_and_switches_every_reader_at_one_instant(postgres_available):
    results, reads, write = _play("cqrs.sync.strategy=blue_green")
    swaps = results.replicas.sort_values("replica")
    switch = float(swaps["out"].iloc[0])
    assert list(swaps["replica"]) == [0, 1] and list(swaps["version"]) == [1, 1]
    assert (swaps["out"] == switch).all() and (swaps["back"] == switch).all()  # one instant, never out of the pool
    copies = results.manifest["testbed"]["runs"][0]["copy_seconds"]
    assert len(copies) == 2 and switch >= write["commit"] + sum(copies)  # both built after the commit, then switched
    assert write["first_visible"] == write["all_visible"] == switch
    assert not reads["waited_for_pool"].any()
    before, after = reads[reads["start"] < switch], reads[reads["start"] > switch]
    assert len(before) > 10 and len(after) > 10
    assert (before["version_seen"] == 0).all() and (after["version_seen"] == 1).all()
    instances = 1 + 2  # the write image and two replicas always run; the new set is counted while it is built
    assert results.summary().set_index("metric").loc["replica_seconds", "mean"] > instances * 4


def test_surge_builds_each_successor_beside_its_replica_and_never_shrinks_the_pool(postgres_available):
    results, reads, write = _play("cqrs.sync.max_surge=1")
    swaps = results.replicas.sort_values("back")
    assert list(swaps["replica"]) == [0, 1] and list(swaps["version"]) == [1, 1]
    assert (swaps["out"] == swaps["back"]).all()  # taken in place: the replica never leaves the pool
    copies = results.manifest["testbed"]["runs"][0]["copy_seconds"]
    first, second = swaps["back"].to_numpy()
    assert first >= write["commit"] + copies[0] and second >= first + copies[1]  # one successor at a time
    assert write["first_visible"] == first and write["all_visible"] == second
    assert not reads["waited_for_pool"].any()
    for replica, switch in zip(swaps["replica"], swaps["back"]):
        mine = reads[reads["replica"] == replica]
        before, after = mine[mine["start"] < switch], mine[mine["start"] > switch]
        assert len(before) > 3 and len(after) > 3
        assert (before["version_seen"] == 0).all() and (after["version_seen"] == 1).all()
    assert np.all(reads.loc[reads["start"] > second, "version_seen"] == 1)
