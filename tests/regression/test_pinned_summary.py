"""Regression test: pins the summary of one small scenario, so no change can move numbers silently.

These numbers are not theory: they are what this version of the model
produced (numpy PCG64 streams, seed 42). A change that alters them on
purpose (a model fix, a new random draw in an existing stream) must update
them in the same commit and say why; an optimisation must leave them as
they are. Validation against theory lives in tests/validation/.
"""

from __future__ import annotations

import math

import pytest

import cqrs_sim

from ..conftest import SCENARIOS

pytestmark = pytest.mark.regression

OVERRIDES = {
    "record": "full",  # the recording these numbers were pinned with
    "duration": "4m", "warmup": "20s", "replications": 2,
    "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"},
    "workload.writes.apply_time": {"dist": "lognormal", "mean": "20s", "cv": 0.3},
    "cqrs.replicas.routing": "random", "load_balancer": "least_outstanding",
}

PINNED = {
    'crud.reads_completed': 54902.0,
    'crud.read_throughput': 249.55454545454546,
    'crud.read_goodput': 249.55454545454546,
    'crud.reads_failed': 0.0,
    'crud.read_failure_time_mean': math.nan,  # no read failed
    'crud.read_availability': 1.0,
    'crud.pool_empty_fraction': 0.0,
    'crud.reads_waited_for_pool': 0.0,
    'crud.read_timeouts': 0.0,
    'crud.read_retries': 0.0,
    'crud.read_latency_mean': 2.6600672494742263,
    'crud.read_latency_p50': 0.0050276471419863356,
    'crud.read_latency_p95': 17.49212665372943,
    'crud.read_latency_p99': 23.879735847262683,
    'crud.read_latency_p999': 25.916350620846412,
    'crud.read_latency_max': 26.11478741567837,
    'crud.writes_committed': 3.0,
    'crud.write_latency_mean': 20.676760147745384,
    'crud.write_latency_max': 26.11011037846871,
    'crud.stale_read_fraction': 0.0,
    'crud.stale_version_fraction': 0.0,  # without keys: the same as stale_read_fraction
    'crud.staleness_mean': 0.0,
    'crud.staleness_p99': 0.0,
    'crud.staleness_max': 0.0,
    'crud.first_visible_mean': 0.0,
    'crud.visibility_window_mean': 0.0,
    'crud.visibility_window_max': 0.0,
    'crud.visibility_t99': 0.0,
    'crud.visibility_t999': 0.0,
    'crud.replica_availability': 1.0,
    'crud.db_utilization': 0.24747612779064646,
    'crud.read_your_writes_violations': math.nan,
    'crud.monotonic_read_violations': math.nan,  # reads belong to no client
    'crud.replica_seconds': 220.0,
    'cqrs.reads_completed': 54902.0,
    'cqrs.read_throughput': 249.55454545454546,
    'cqrs.read_goodput': 249.55454545454546,
    'cqrs.reads_failed': 0.0,
    'cqrs.read_failure_time_mean': math.nan,  # no read failed
    'cqrs.read_availability': 1.0,
    'cqrs.pool_empty_fraction': 0.0,
    'cqrs.reads_waited_for_pool': 0.0,
    'cqrs.read_timeouts': 0.0,
    'cqrs.read_retries': 0.0,
    'cqrs.read_latency_mean': 0.005005620310306659,
    'cqrs.read_latency_p50': 0.00391796709372727,
    'cqrs.read_latency_p95': 0.012353080859774932,
    'cqrs.read_latency_p99': 0.021118117341102083,
    'cqrs.read_latency_p999': 0.03763577164781501,
    'cqrs.read_latency_max': 0.11377807888111136,
    'cqrs.writes_committed': 3.0,
    'cqrs.write_latency_mean': 20.675066763614804,
    'cqrs.write_latency_max': 26.105358659994245,
    'cqrs.stale_read_fraction': 0.6271204889814326,
    'cqrs.stale_version_fraction': 0.6271204889814326,  # without keys: the same as stale_read_fraction
    'cqrs.staleness_mean': 32.35661740461039,
    'cqrs.staleness_p99': 135.3252485801392,
    'cqrs.staleness_max': 150.94331920855754,
    'cqrs.first_visible_mean': 53.83656243579859,
    'cqrs.visibility_window_mean': 199.59739539552862,
    'cqrs.visibility_window_max': 257.80190481374757,
    'cqrs.visibility_t99': 151.1084528824373,  # the first time the curve's monotone fit reaches 99%
    'cqrs.visibility_t999': 151.14619960580575,
    'cqrs.replica_availability': 0.9123163398080049,
    'cqrs.db_utilization': 0.03121950667796311,
    'cqrs.read_your_writes_violations': math.nan,
    'cqrs.monotonic_read_violations': math.nan,  # reads belong to no client
    'cqrs.replica_seconds': 1980.0,
}


def test_pinned_summary():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", OVERRIDES)
    summary = cqrs_sim.simulate(scenario).summary()
    got = {f"{a}.{m}": float(v) for a, m, v in zip(summary.architecture, summary.metric, summary["mean"])}
    assert set(got) == set(PINNED)
    changed = {k: (PINNED[k], got[k]) for k in PINNED
               if not (math.isnan(PINNED[k]) and math.isnan(got[k])) and got[k] != pytest.approx(PINNED[k], rel=1e-9, abs=1e-12)}
    assert not changed, f"pinned numbers moved (pinned, now): {changed}"
