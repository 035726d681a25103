"""Validation of read-your-writes routing (``crud.read_your_writes_window``) against its derivation.

Set-up: CRUD with 2 streaming replicas whose lag is a constant 0.5 s, 10
clients, Poisson reads at 100/s and writes at μ = 1/s (each write's client
uniform over the 10), each writer reading its write back 0.2 s after it
commits. See :mod:`cqrs_sim.model.own_writes` for the derivation:

- Without routing, every read-back (0.2 s after the commit) reaches a replica
  that applies the write only 0.5 s after it: every one misses its write.
  With a window of 1 s > the lag's maximum 0.5 s, every read-back goes to
  the primary: read_your_writes_violations = 0.
- The reads the primary serves are exactly the client reads arriving within
  1 s after a commit of their own client's write (handler time 0, so a read
  reaches the database tier when it arrives); their share is
  1 − exp(−μ·w / K) = 1 − exp(−0.1) = 0.0952 in expectation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.workload.draws import write_workload

pytestmark = pytest.mark.validation

SCENARIO = """
duration: 1200s
warmup: 0s
replications: 1
record: full
architectures: [crud]
workload:
  reads:
    rate: 100/s
    handler_time: 0s
    query_time: 1ms
    clients: 10
  writes:
    rate: 1/s
    apply_time: 1ms
    read_back: {after: 200ms, probability: 1}
handlers: {count: 2, concurrency: 1000}
crud:
  locking: mvcc
  replicas: 2
  replica_connections: 50
  replication_lag: 500ms
"""


def violations(results) -> float:
    s = results.summary()
    return float(s[s.metric == "read_your_writes_violations"]["mean"].iloc[0])


def test_a_window_longer_than_the_lag_leaves_no_violation(scenario_from):
    short = {"duration": "300s"}
    without = cqrs_sim.simulate(scenario_from(SCENARIO, overrides=short))
    assert violations(without) == 1.0  # every read-back comes 0.2 s after its commit, the replicas 0.5 s after
    within = cqrs_sim.simulate(scenario_from(SCENARIO, overrides={**short, "crud.read_your_writes_window": "1s"}))
    assert violations(within) == 0.0
    shorter = cqrs_sim.simulate(scenario_from(SCENARIO, overrides={**short, "crud.read_your_writes_window": "100ms"}))
    # a window shorter than the read-back's 0.2 s protects only a read-back whose writer committed another
    # write in the 0.1 s before it: about 1 − exp(−0.1 × 0.1) = 1% of them
    assert 0.97 < violations(shorter) <= 1.0


def test_the_primary_serves_exactly_the_reads_inside_their_clients_windows(scenario_from):
    scenario = scenario_from(SCENARIO, overrides={"crud.read_your_writes_window": "1s",
                                                  "workload.writes.read_back": None})
    results = cqrs_sim.simulate(scenario)
    reads = results.requests[results.requests.kind == "read"].sort_values("id")
    commits = results.writes.sort_values("arrival")["commit"].to_numpy()  # writes in arrival order, as drawn
    writers = write_workload(scenario, 0).client
    assert len(writers) == len(commits)
    inside = np.zeros(len(reads), dtype=bool)
    arrival, client = reads["arrival"].to_numpy(), reads["client"].to_numpy()
    for c in range(10):
        own = np.sort(commits[writers == c])
        mine = client == c
        last = np.searchsorted(own, arrival[mine], side="right") - 1  # the client's newest commit by then
        inside[mine] = (last >= 0) & (arrival[mine] - own[np.maximum(last, 0)] < 1.0)
    on_primary = reads["replica"].to_numpy() == -1
    np.testing.assert_array_equal(on_primary, inside)
    expected = 1 - math.exp(-1.0 * 1.0 / 10)
    assert on_primary.mean() == pytest.approx(expected, abs=0.012)  # ~3 standard errors over 1,200 writes
