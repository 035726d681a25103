"""Validation: failed reads are counted apart from served ones, against a timeline derived by hand.

Set-up: CRUD on a single database that fails on a fixed schedule (constant
``mtbf`` 7.373 s and ``mttr`` 2.161 s: down [7.373, 9.534), [16.907, 19.068), …,
no failure starting at or after ``duration``), reads evenly spaced at 10/s
(read k arrives at k / 10), no handler time, a constant 50 ms query on 32
connections and no writes, so a read never queues. Every event time is
known in advance, and none falls on the instant a read arrives or ends.

The outage intervals are taken from the schedule (and checked against the
recorded ones); which reads fail is derived from them, never from the
simulation's per-read flags:

* a read arriving while the database is down, in [out, back), is refused
  at once: it fails at its arrival, after 0 s;
* a read whose query runs when the database fails, arriving in
  (out − 50 ms, out), fails at ``out``, after out − arrival;
* every other read is served in exactly 50 ms.

So over the window [warmup, duration): ``reads_completed`` counts the
served reads only; ``read_latency_*`` are exactly 50 ms (a failing
database does not make reads look faster); ``reads_failed`` is the count
above, ``read_failure_time_mean`` their mean time to failure;
``read_throughput`` = (served + failed) / window, ``read_goodput`` =
served / window, ``read_availability`` = served / (served + failed) =
goodput / throughput; ``pool_empty_fraction`` (for CRUD: the database
down) = the outages' share of the window, and ``replica_availability`` one
minus that. Both recordings must give these numbers (summary mode with a
sample smaller than the run, so its aggregates are used).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

RATE, QUERY, MTBF, MTTR, DURATION, WARMUP = 10.0, 0.05, 7.373, 2.161, 60.0, 5.0

SCENARIO = f"""
duration: {DURATION}s
warmup: {WARMUP}s
replications: 1
architectures: [crud]
record: {{record}}
record_sample: 100
workload:
  reads: {{{{rate: {RATE}/s, process: uniform, handler_time: 0s, query_time: {QUERY}s}}}}
handlers: {{{{count: 1, concurrency: 1000}}}}
crud: {{{{connections: 32, failures: {{{{mtbf: {MTBF}s, mttr: {MTTR}s}}}}}}}}
"""


def schedule() -> list[tuple[float, float]]:
    """(out, back) of each outage: up for MTBF after each repair, no failure from DURATION on."""
    outages, t = [], 0.0
    while t + MTBF < DURATION:
        outages.append((t + MTBF, t + MTBF + MTTR))
        t += MTBF + MTTR
    return outages


def expected(outages: list[tuple[float, float]]) -> dict[str, float]:
    arrival = np.arange(int(DURATION * RATE)) / RATE
    arrival = arrival[arrival >= WARMUP]
    refused = np.zeros(len(arrival), bool)
    time_to_failure = np.full(len(arrival), np.nan)
    for out, back in outages:
        down = (arrival >= out) & (arrival < back)
        running = (arrival > out - QUERY) & (arrival < out)
        refused |= down
        time_to_failure[down] = 0.0
        time_to_failure[running] = out - arrival[running]
    failed = ~np.isnan(time_to_failure)
    window = DURATION - WARMUP
    served = int((~failed).sum())
    down_time = sum(max(0.0, min(back, DURATION) - max(out, WARMUP)) for out, back in outages)
    return {
        "reads_completed": served,
        "reads_failed": int(failed.sum()),
        "read_failure_time_mean": float(time_to_failure[failed].mean()),
        "read_throughput": len(arrival) / window,
        "read_goodput": served / window,
        "read_availability": served / len(arrival),
        "pool_empty_fraction": down_time / window,
        "replica_availability": 1 - down_time / window,
        "reads_waited_for_pool": 0,  # a read meeting the database down is refused, it does not wait
        **{f"read_latency_{p}": QUERY for p in ("mean", "p50", "p95", "p99", "p999", "max")},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The scenario in both recordings: record -> results."""
    out = {}
    for record in ("full", "summary"):
        path = tmp_path_factory.mktemp(record) / "failing.yaml"
        path.write_text(SCENARIO.format(record=record), encoding="utf-8")
        out[record] = cqrs_sim.simulate(cqrs_sim.load_scenario(path))
    assert out["summary"].requests.kind.eq("read").sum() == 100  # a sample: the summary's own aggregates count
    return out


@pytest.mark.parametrize("record", ["full", "summary"])
def test_failed_reads_are_counted_apart_from_served_ones(runs, record):
    results = runs[record]
    outages = schedule()
    assert len(outages) == 6
    np.testing.assert_allclose(results.replicas[["out", "back"]].to_numpy(), outages, atol=1e-9)
    want = expected(outages)
    assert want["reads_failed"] > 100 and 0 < want["read_failure_time_mean"] < QUERY / 10  # most failures are refusals
    got = results.per_replication.iloc[0]
    for metric, value in want.items():
        assert got[metric] == pytest.approx(value, rel=1e-9, abs=1e-12), metric
    assert got.read_goodput == pytest.approx(got.read_throughput * got.read_availability, rel=1e-12)


def test_both_recordings_agree_on_every_metric(runs):
    """Every metric is exact in both recordings here (the percentiles too: every served read takes 50 ms)."""
    full, summary = (runs[r].per_replication.drop(columns=["visibility_t99", "visibility_t999"]) for r in runs)
    assert np.isfinite(full.db_utilization.iloc[0]) and full.db_utilization.iloc[0] > 0
    pd.testing.assert_frame_equal(full, summary, rtol=1e-12, atol=1e-15)


def test_timeseries_counts_served_and_failed_reads_apart(runs):
    """Per bin of finish time: the served reads, and the failed ones (each failing when derived above)."""
    outages = schedule()
    arrival = np.arange(int(DURATION * RATE)) / RATE
    failed_at = np.full(len(arrival), np.nan)
    for out, back in outages:
        failed_at[(arrival >= out) & (arrival < back)] = arrival[(arrival >= out) & (arrival < back)]
        failed_at[(arrival > out - QUERY) & (arrival < out)] = out
    served_at = np.where(np.isnan(failed_at), arrival + QUERY, np.nan)
    for record, results in runs.items():
        ts = results.timeseries
        edges = np.append(ts.t.to_numpy(), DURATION)
        np.testing.assert_array_equal(ts.reads_failed, np.histogram(failed_at[~np.isnan(failed_at)], edges)[0])
        done = served_at[served_at < DURATION]
        np.testing.assert_array_equal(ts.reads_completed, np.histogram(done, edges)[0])
        np.testing.assert_allclose(ts.read_latency_p99.dropna(), QUERY, rtol=1e-12)
