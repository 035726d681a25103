"""Regression test: pins the summary of one small scenario, so no change can move numbers silently.

These numbers are not theory: they are what this version of the model
produced (numpy PCG64 streams, seed 42). A change that alters them on
purpose (a model fix, a new random draw in an existing stream) must update
them in the same commit and say why; an optimisation must leave them as
they are. Validation against theory lives in tests/validation/.
"""

from __future__ import annotations

import pytest

import cqrs_sim

from ..conftest import SCENARIOS

pytestmark = pytest.mark.regression

OVERRIDES = {
    "duration": "4m", "warmup": "20s", "replications": 2,
    "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"},
    "workload.writes.apply_time": {"dist": "lognormal", "mean": "20s", "cv": 0.3},
    "cqrs.replicas.routing": "random", "load_balancer": "least_outstanding",
}

PINNED = {
    'crud.reads_completed': 55155.0,
    'crud.read_throughput': 250.70454545454544,
    'crud.read_latency_mean': 2.6536479195029727,
    'crud.read_latency_p50': 0.005010003596074952,
    'crud.read_latency_p95': 17.581640563708,
    'crud.read_latency_p99': 23.939169320561597,
    'crud.read_latency_p999': 25.929406011825748,
    'crud.read_latency_max': 26.114933162334573,
    'crud.writes_committed': 3.0,
    'crud.write_latency_mean': 20.67880190580652,
    'crud.write_latency_max': 26.11002286310822,
    'crud.stale_read_fraction': 0.0,
    'crud.staleness_mean': 0.0,
    'crud.staleness_p99': 0.0,
    'crud.staleness_max': 0.0,
    'crud.first_visible_mean': 0.0,
    'crud.visibility_window_mean': 0.0,
    'crud.visibility_window_max': 0.0,
    'crud.replica_availability': 1.0,
    'crud.db_utilization': 0.24760643376578856,
    'cqrs.reads_completed': 55155.0,
    'cqrs.read_throughput': 250.70454545454544,
    'cqrs.read_latency_mean': 0.005005206194514209,
    'cqrs.read_latency_p50': 0.003918166199436968,
    'cqrs.read_latency_p95': 0.012353045877283364,
    'cqrs.read_latency_p99': 0.021109613874088565,
    'cqrs.read_latency_p999': 0.037584558923820524,
    'cqrs.read_latency_max': 0.11377807888111136,
    'cqrs.writes_committed': 3.0,
    'cqrs.write_latency_mean': 20.675066763614804,
    'cqrs.write_latency_max': 26.105358659994245,
    'cqrs.stale_read_fraction': 0.6261352889260762,
    'cqrs.staleness_mean': 32.35232437824508,
    'cqrs.staleness_p99': 135.7548120164139,
    'cqrs.staleness_max': 150.88511869735697,
    'cqrs.first_visible_mean': 53.835962661674074,
    'cqrs.visibility_window_mean': 199.59559806892156,
    'cqrs.visibility_window_max': 257.8001074871405,
    'cqrs.replica_availability': 0.9123163398080049,
    'cqrs.db_utilization': 0.03136049724774867,
}


def test_pinned_summary():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", OVERRIDES)
    summary = cqrs_sim.simulate(scenario).summary()
    got = {f"{a}.{m}": float(v) for a, m, v in zip(summary.architecture, summary.metric, summary["mean"])}
    assert set(got) == set(PINNED)
    changed = {k: (PINNED[k], got[k]) for k in PINNED if got[k] != pytest.approx(PINNED[k], rel=1e-9, abs=1e-12)}
    assert not changed, f"pinned numbers moved (pinned, now): {changed}"
