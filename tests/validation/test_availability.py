"""Validation against renewal theory: long-run availability of instances that fail and are repaired.

Each instance alternates up periods (mean MTBF) and down periods (mean
MTTR), independent of each other: an alternating renewal process. By the
renewal-reward theorem the long-run share of time it is up is
E[up] / (E[up] + E[down]) = MTBF / (MTBF + MTTR), whatever the
distributions. With exponential periods the chance of being up at time t,
starting up, is A + (1 − A) e^{−(1/MTBF + 1/MTTR) t}: the warmup below is
over ten of those time constants, so the transient is negligible. A CQRS
replica's down period is its MTTR plus the replace_time it takes to load
the newest snapshot, so its availability is MTBF / (MTBF + MTTR +
replace_time). No writes, so no rollout takes a replica out. The tolerance
is the replications' own 99% Student-t interval.

A second test checks the max_lag bound on random stalls: a replica's lag
when a read starts on it is that read's staleness, so with the limit (and
no queueing) no read is staler than it, while without it reads are.
"""

from __future__ import annotations

import numpy as np
import pytest

import cqrs_sim

from .stats import per_replication, t_interval

pytestmark = pytest.mark.validation

BASE = """
duration: 10h
warmup: 20m
replications: 8
seed: 11
architectures: [{arch}]
workload:
  reads:
    rate: 0.1/s
    query_time: 10ms
handlers: {{count: 1, concurrency: 1000}}
"""

FAILURES = "{mtbf: {dist: exponential, mean: 10m}, mttr: {dist: exponential, mean: 2m}}"


@pytest.mark.parametrize("arch, body, expected", [
    ("crud", f"crud: {{replicas: 10, replica_connections: 100, failures: {FAILURES}}}\n", 10 / 12),
    ("crud", f"crud: {{failures: {FAILURES}}}\n", 10 / 12),
    ("cqrs", f"cqrs:\n  replicas: {{count: 10, connections: 100, failures: {FAILURES}}}\n  sync: {{replace_time: 1m}}\n",
     10 / 13),
], ids=["crud-replicas", "crud-primary", "cqrs-replicas"])
def test_long_run_availability_is_mtbf_over_cycle(scenario_from, arch, body, expected):
    """MTBF 10 min, MTTR 2 min (exponential): availability 10/12 = 0.833 for streaming
    replicas and for the single database; CQRS replicas add replace_time 1 min to each
    repair: 10/13 = 0.769."""
    results = cqrs_sim.simulate(scenario_from(BASE.format(arch=arch) + body))
    mean, low, high = t_interval(per_replication(results, arch, "replica_availability"))
    assert low <= expected <= high, f"availability {mean:.4f} [{low:.4f}, {high:.4f}], theory {expected:.4f}"
    assert high - low < 0.06  # not vacuous: 10/12 and 10/13 are 0.064 apart
    if body.startswith("crud: {failures"):
        # a read that comes while the only database is down is refused: by PASTA (Poisson arrivals see
        # time averages) the share of reads served is the availability too, up to the few reads running
        # when a failure strikes (0.1/s × 10 ms each)
        mean, low, high = t_interval(per_replication(results, arch, "read_availability"))
        assert low <= expected <= high, f"read availability {mean:.4f} [{low:.4f}, {high:.4f}], theory {expected:.4f}"


def test_the_pool_is_empty_when_every_replica_is_down(scenario_from):
    """Two CQRS replicas failing independently, each down a share 3/13 of the time (MTTR
    2 min + replace_time 1 min of a 13 min cycle): no replica is in the pool a share
    (3/13)² = 0.0533 of the time. Reads have no timeout, so one that comes meanwhile
    waits for a replica and is served late: by PASTA the share of reads that waited is
    0.0533 too, while the share served stays about 1 (only the few reads running when a
    replica fails are lost: 0.25/s × 10 ms each). Over 40 h.. The single database (MTBF 10 min, MTTR
    2 min) is down 2/12 of the time: its empty-pool share, with no read waiting."""
    body = (f"cqrs:\n  replicas: {{count: 2, connections: 100, failures: {FAILURES}}}\n  sync: {{replace_time: 1m}}\n"
            f"crud: {{failures: {FAILURES}}}\n")
    text = BASE.format(arch="crud, cqrs").replace("rate: 0.1/s", "rate: 0.25/s").replace("duration: 10h", "duration: 40h")
    results = cqrs_sim.simulate(scenario_from(text + body))
    empty = (3 / 13) ** 2
    mean, low, high = t_interval(per_replication(results, "cqrs", "pool_empty_fraction"))
    print(f"pool empty: {mean:.4f} [{low:.4f}, {high:.4f}], theory {empty:.4f}")
    assert low <= empty <= high and high - low < empty / 2
    reads = per_replication(results, "cqrs", "reads_completed") + per_replication(results, "cqrs", "reads_failed")
    mean, low, high = t_interval(per_replication(results, "cqrs", "reads_waited_for_pool") / reads)
    print(f"reads that waited: {mean:.4f} [{low:.4f}, {high:.4f}], theory {empty:.4f}")
    assert low <= empty <= high and high - low < empty / 2
    assert (per_replication(results, "cqrs", "read_availability") > 0.999).all()
    mean, low, high = t_interval(per_replication(results, "crud", "pool_empty_fraction"))
    assert low <= 2 / 12 <= high and high - low < 0.06
    np.testing.assert_allclose(per_replication(results, "crud", "pool_empty_fraction"),
                               1 - per_replication(results, "crud", "replica_availability"), rtol=1e-9)
    assert (per_replication(results, "crud", "reads_waited_for_pool") == 0).all()


STALLS = """
duration: 30m
replications: 2
architectures: [crud]
workload:
  reads:
    rate: 50/s
    query_time: 5ms
  writes:
    rate: 1/s
    apply_time: 1ms
handlers: {count: 1, concurrency: 1000}
crud:
  replicas: 4
  replica_connections: 1000
  replication_lag: {dist: exponential, mean: 100ms}
  replication_stalls: {every: {dist: exponential, mean: 1m}, duration: {dist: exponential, mean: 10s}}
"""


def test_max_lag_bounds_staleness_under_random_stalls(scenario_from):
    """Stalls of mean 10 s on four replicas, one commit a second: a stalled replica falls
    many seconds behind. With max_lag 2 s no read is staler than 2 s (connections are
    ample, so a query starts where and when it is routed); without it the stalest read
    is far staler."""
    limited = cqrs_sim.simulate(scenario_from(STALLS + "  max_lag: 2s\n"))
    unlimited = cqrs_sim.simulate(scenario_from(STALLS))
    assert per_replication(limited, "crud", "staleness_max").max() <= 2.0
    assert per_replication(unlimited, "crud", "staleness_max").min() > 5.0
    assert (per_replication(limited, "crud", "stale_read_fraction")
            < per_replication(unlimited, "crud", "stale_read_fraction")).all()
