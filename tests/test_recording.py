"""record: summary against record: full on the same scenario and seed.

Summary mode keeps exact counts, sums and maxima, so counts, means, maxima,
fractions and utilisation must equal full mode's; percentiles come from
log-linear histograms and must be within 0.1% of full mode's exact ones
(numpy's default, interpolated percentile), and the timeseries' per-bin
percentiles within 0.8%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cqrs_sim
from cqrs_sim.core import histogram

from .conftest import SCENARIOS

OVERRIDES = {"duration": "8m", "warmup": "30s", "replications": 2,
             "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"},
             "workload.writes.apply_time": "30s"}
PERCENTILES = {"read_latency_p50": 50, "read_latency_p95": 95, "read_latency_p99": 99, "read_latency_p999": 99.9}


@pytest.fixture(scope="module")
def both():
    full = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**OVERRIDES, "record": "full"}))
    summary = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**OVERRIDES, "record": "summary",
                                                                                     "record_sample": 5000}))
    return full, summary


def test_exact_metrics_agree(both):
    full, summary = both
    # visibility_t* come from the requests table, which in summary mode is the sample: not exact by design
    exact = [m for m in full.per_replication.columns if m not in PERCENTILES
             and m not in ("architecture", "replication", "staleness_p99", "visibility_t99", "visibility_t999")]
    a = full.per_replication[exact]
    b = summary.per_replication[exact]
    pd.testing.assert_frame_equal(a, b, rtol=1e-9, atol=1e-12)


def test_percentiles_within_a_tenth_of_a_percent(both):
    full, summary = both
    for exact, row in zip(full.per_replication.itertuples(), summary.per_replication.itertuples()):
        for metric in [*PERCENTILES, "staleness_p99"]:
            assert getattr(row, metric) == pytest.approx(getattr(exact, metric), rel=0.001, abs=1e-12), metric


def test_timeseries_agrees(both):
    full, summary = both
    a, b = full.timeseries, summary.timeseries
    np.testing.assert_array_equal(a.reads_completed, b.reads_completed)
    np.testing.assert_allclose(a.stale_fraction, b.stale_fraction, rtol=1e-12)
    np.testing.assert_allclose(a.replicas_in_pool, b.replicas_in_pool)
    req = full.requests[full.requests.kind == "read"]
    width = full.scenario.bin_width
    for (arch, rep), group in req.groupby(["architecture", "replication"], observed=True):
        series = b[(b.architecture == arch) & (b.replication == rep)].set_index("t")
        for t, rows in group.groupby(np.floor(group.arrival / width) * width):
            if t in series.index:
                exact = np.percentile(rows.latency, 99)
                assert series.loc[t, "read_latency_p99"] == pytest.approx(exact, rel=0.008)


def test_sample_is_bounded_paired_and_true(both):
    full, summary = both
    sample = summary.requests[summary.requests.kind == "read"]
    sizes = sample.groupby(["architecture", "replication"], observed=True).size()
    assert (sizes == 5000).all()
    ids = {arch: set(sample[(sample.architecture == arch) & (sample.replication == 0)].id) for arch in ("crud", "cqrs")}
    assert ids["crud"] == ids["cqrs"]  # the same reads in both architectures
    keys = ["architecture", "replication", "kind", "id"]
    merged = sample.merge(full.requests, on=keys, suffixes=("", "_full"))
    assert len(merged) == len(sample)
    for column in ("arrival", "start", "finish", "replica", "version_seen", "stale", "staleness"):
        np.testing.assert_array_equal(merged[column].to_numpy(), merged[column + "_full"].to_numpy())
    writes = summary.requests[summary.requests.kind == "write"]
    assert len(writes) == len(full.requests[full.requests.kind == "write"])  # every write is kept


@pytest.mark.parametrize("scheme, bound", [(histogram.SUMMARY, 0.001), (histogram.TIMESERIES, 0.008)])
def test_histogram_percentiles_match_numpy(scheme, bound):
    """On known samples (lognormal over eight decades, a few distinct values with ties, zeros among positive
    values), every percentile is within the bound of numpy's percentile; extremes are exact."""
    rng = np.random.default_rng(3)
    samples = [rng.lognormal(-5, 2, 200_000), rng.choice([0.0015, 0.0042, 0.0099, 0.25], 10_001),
               np.concatenate([np.zeros(9_000), rng.exponential(2.0, 1_000)]), rng.uniform(1e-6, 1e6, 17)]
    for values in samples:
        hist = scheme.counts(values)
        for q in (0.0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
            exact = np.percentile(values, q * 100)
            estimate = scheme.quantiles(hist, q, values.min(), values.max())[0]
            assert estimate == pytest.approx(exact, rel=bound, abs=1e-12), q
        assert scheme.quantiles(hist, 1.0, values.min(), values.max())[0] == values.max()
        assert scheme.quantiles(hist, 0.0, values.min(), values.max())[0] == values.min()
    assert scheme.quantiles(scheme.counts(np.zeros(5)), 0.5)[0] == 0.0
    assert np.isnan(scheme.quantiles(np.zeros(scheme.buckets, np.int64), 0.5)[0])


def test_histogram_rows_are_separate_histograms():
    """A 2-D count array holds one histogram per row (the timeseries' bins)."""
    rng = np.random.default_rng(5)
    rows = [rng.lognormal(-4, 1, 5_000), rng.lognormal(0, 0.5, 300)]
    hist = np.stack([histogram.TIMESERIES.counts(values) for values in rows])
    got = histogram.TIMESERIES.quantiles(hist, 0.99, [r.min() for r in rows], [r.max() for r in rows])
    np.testing.assert_allclose(got, [np.percentile(r, 99) for r in rows], rtol=0.008)


def test_histogram_memory_is_fixed_and_every_value_is_near_its_midpoint():
    """The buckets are a fixed set (memory does not grow with the values counted), each value lies within
    1/(2·sub) of its bucket's midpoint from 1 ns to 190 days, and values beyond the range land in the end buckets."""
    values = np.exp(np.random.default_rng(7).uniform(np.log(1e-9), np.log(1.6e7), 1_000_000))
    for scheme in (histogram.SUMMARY, histogram.TIMESERIES):
        assert scheme.buckets < 30_000 and len(scheme.counts(values)) == scheme.buckets
        relative = np.abs(scheme.midpoints[scheme.bucket(values)] / values - 1)
        assert relative.max() <= scheme.relative_error
        edge = scheme.bucket(np.array([0.0, histogram.LOW / 2, 1e12, np.inf, np.nan]))
        np.testing.assert_array_equal(edge, [0, 0, scheme.buckets - 1, scheme.buckets - 1, 0])
    assert histogram.SUMMARY.relative_error < 0.001


SMALL = {"duration": "1m", "warmup": "5s", "replications": 1,
         "workload.writes.at": ["10s"], "workload.writes.interval": None, "workload.writes.apply_time": "5s"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One short run in both recordings (15,000 reads: fewer than record_sample), and its saved directory."""
    full = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**SMALL, "record": "full"}))
    summary = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", SMALL))
    assert summary.scenario.record == "summary"  # the default
    return full, summary, full.save(tmp_path_factory.mktemp("small") / "r")


def test_summary_keeping_every_read_is_exact(small):
    full, summary, _ = small
    pd.testing.assert_frame_equal(full.per_replication, summary.per_replication)
    for name in ("requests", "timeseries", "visibility", "writes"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(summary, name))


def test_load_results_reads_only_the_chosen_tables_and_columns(small):
    full, _, directory = small
    loaded = cqrs_sim.load_results(directory, tables=["requests", "writes"], columns={"requests": ["kind", "latency"]})
    assert list(loaded.requests.columns) == ["kind", "latency"]
    np.testing.assert_array_equal(loaded.requests.latency, full.requests.latency)
    pd.testing.assert_frame_equal(loaded.writes, full.writes)
    assert loaded.timeseries.empty and loaded.replicas.empty and loaded.visibility.empty
    pd.testing.assert_frame_equal(loaded.per_replication, full.per_replication)
    with pytest.raises(ValueError, match="unknown table"):
        cqrs_sim.load_results(directory, tables=["request"])


def test_plot_loader_keeps_the_reads_plotted_columns(small, monkeypatch):
    from cqrs_sim.io import plotdata
    from cqrs_sim.plots import latency_cdf, staleness_ccdf

    full, _, directory = small
    monkeypatch.setattr(plotdata, "BATCH_ROWS", 1000)  # many batches
    loaded = plotdata.load_plot_results(directory)
    assert list(loaded.requests.columns) == list(plotdata.PLOTTED_REQUEST_COLUMNS)
    reads = full.requests[full.requests.kind == "read"].reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded.requests, reads[list(plotdata.PLOTTED_REQUEST_COLUMNS)])
    for name in ("writes", "replicas", "timeseries", "visibility", "per_replication"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(full, name))
    for plot in (latency_cdf, staleness_ccdf):  # the same curves as from the simulation in memory
        drawn = [[line.get_xydata() for line in fig.axes[0].lines] for fig in (plot(full), plot(loaded))]
        assert len(drawn[0]) == len(drawn[1]) > 0
        for a, b in zip(*drawn):
            np.testing.assert_array_equal(a, b)
