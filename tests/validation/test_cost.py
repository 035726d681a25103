"""Validation of cost_per_hour: hand-derived from the instance-seconds of a deterministic timeline.

The timeline of test_timeline.py (commits at 15.2 and 55.2 s, rollouts triggered 2.4 s later, replace_time
10 s, 3 CQRS replicas) with blue-green rollouts built two at a time, and CRUD with 2 streaming replicas.
Prices: replicas 0.5 per hour, the write instance 2.0 per hour, a 100 GB snapshot at 0.001 per GB-hour.
"""

from __future__ import annotations

import pytest

import cqrs_sim
from cqrs_sim.config.loader import parse_scenario
from cqrs_sim.experiments.selfcheck import TIMELINE

pytestmark = pytest.mark.validation

PRICES = {"instance_hour": 0.5, "write_instance_hour": 2.0, "snapshot_gb": 100, "snapshot_gb_hour": 0.001}


def _summary(**overrides) -> dict[tuple[str, str], float]:
    scenario = parse_scenario(TIMELINE, "<timeline>", {"cqrs.sync.strategy": "blue_green", "cqrs.sync.build_parallelism": 2,
                                                       "crud.replicas": 2, "cost": PRICES, **overrides})
    summary = cqrs_sim.simulate(scenario).summary()
    return {(a, m): v for a, m, v in zip(summary.architecture, summary.metric, summary["mean"])}


def test_cost_per_hour_from_blue_green_instance_seconds():
    """Window [0, 100 s). CQRS: the write image runs 100 s, 3 replicas 300 s, and each blue-green rollout builds
    replicas 0 and 1 from 17.6 (57.6) and replica 2 from 27.6 (67.6), all kept until the switch at 37.6 (77.6):
    2 × 20 + 10 = 50 s per rollout, 100 s for two. replica_seconds = 100 + 300 + 100 = 500; the replicas' 400
    instance-seconds over 100 s are 4 instance-hours per hour: 4 × 0.5 = 2.0, plus the write image 2.0 and the
    snapshot 100 × 0.001 = 0.1: 4.1 per hour. CRUD: primary 2.0 + 2 replicas × 0.5 = 3.0 (no snapshot), from
    replica_seconds = 3 × 100 = 300."""
    s = _summary()
    assert s["cqrs", "replica_seconds"] == pytest.approx(500.0, abs=1e-9)
    assert s["cqrs", "cost_per_hour"] == pytest.approx(4.1, abs=1e-12)
    assert s["crud", "replica_seconds"] == pytest.approx(300.0, abs=1e-9)
    assert s["crud", "cost_per_hour"] == pytest.approx(3.0, abs=1e-12)


def test_cost_per_hour_counts_only_the_window():
    """Warmup 20 s: window [20, 100), 80 s. CQRS: 4 instances × 80 = 320 s; the first rollout's built replicas
    count from 20 (not 17.6) to 37.6, 17.6 + 17.6 + 10 = 45.2 s, the second's all 50 s: replica_seconds 415.2.
    Replicas: (415.2 − 80) / 80 = 4.19 instance-hours per hour × 0.5 = 2.095, + 2.0 + 0.1 = 4.195.
    CRUD: 2.0 + 2 × 0.5 = 3.0 whatever the window."""
    s = _summary(warmup="20s")
    assert s["cqrs", "replica_seconds"] == pytest.approx(415.2, abs=1e-9)
    assert s["cqrs", "cost_per_hour"] == pytest.approx(4.195, abs=1e-12)
    assert s["crud", "cost_per_hour"] == pytest.approx(3.0, abs=1e-12)


def test_default_prices_count_instance_hours_per_hour():
    """cost: {} prices every instance at 1 per hour and no snapshot: cost_per_hour is then the mean number of
    instances running, replica_seconds / window: 500 / 100 = 5 for CQRS, 300 / 100 = 3 for CRUD."""
    s = _summary(cost={})
    assert s["cqrs", "cost_per_hour"] == pytest.approx(5.0, abs=1e-12)
    assert s["crud", "cost_per_hour"] == pytest.approx(3.0, abs=1e-12)
