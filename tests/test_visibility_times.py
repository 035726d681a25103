"""visibility_t99 / visibility_t999 as quantiles of the write-to-read lag, on synthetic runs with a known lag law.

A synthetic run (built here, not simulated): 200 writes commit 60 s apart;
each reaches each of 100 replicas after its own exponential lag (mean 1 s);
a read at time s on a random replica sees the newest write whose lag there
has passed. The visibility curve is then exactly 1 − e^(−t), whose 99% and
99.9% points are ln 100 = 4.605 s and ln 1000 = 6.908 s (and the drawn
lags' own quantiles are within sampling error of those). Its tail bins are
noisy (a few hundred pairs each around 0.99), which must not push the times
late: the time is where the curve first reaches the level, not where it is
last seen below it.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from cqrs_sim.analysis.visibility import level_time, monotone_fit, run_visibility_times

WRITES, GAP, REPLICAS, READ_RATE = 200, 60.0, 100, 200.0


def synthetic_run(seed: int) -> tuple[SimpleNamespace, np.ndarray]:
    """(the run's record, the drawn lags: write × replica)."""
    rng = np.random.default_rng(seed)
    commit = GAP * (1 + np.arange(WRITES))
    lag = rng.exponential(1.0, (WRITES, REPLICAS))
    start = np.sort(rng.uniform(0, GAP * (WRITES + 1), int(READ_RATE * GAP * (WRITES + 1))))
    replica = rng.integers(0, REPLICAS, len(start))
    # the newest commit by the read's start, unless it has not reached the read's replica yet (a lag is far
    # shorter than GAP: an older write has always arrived)
    latest = np.searchsorted(commit, start, side="right")
    behind = (latest > 0) & (commit[np.maximum(latest - 1, 0)] + lag[np.maximum(latest - 1, 0), replica] > start)
    seen = latest - behind
    all_visible = np.concatenate([[0.0], commit + lag.max(axis=1)])
    record = SimpleNamespace(writes={"version": np.arange(1, WRITES + 1), "commit": commit}, all_visible=all_visible,
                             reads={"start": start, "version_seen": seen, "timed_out": np.zeros(len(start), bool)})
    return record, lag


def test_visibility_times_are_the_lag_quantiles():
    """Each run's times are within 3% (t99) and 10% (t999: 20 of the 20,000 lags lie beyond it) of the law's
    quantiles, and their means over six runs within 1.5% and 5% (the first time the fitted curve reaches a
    level comes a little early when few pairs fall near it, less so with more reads)."""
    law = np.array([math.log(100), math.log(1000)])
    got = []
    for seed in range(6):
        record, lag = synthetic_run(seed)
        times = run_visibility_times(record)
        got.append([times["visibility_t99"], times["visibility_t999"]])
        drawn = np.quantile(lag, [0.99, 0.999])
        print(f"t99 {got[-1][0]:.3f} (drawn lags {drawn[0]:.3f}), t999 {got[-1][1]:.3f} (drawn {drawn[1]:.3f})")
    got = np.array(got)
    np.testing.assert_allclose(got[:, 0], law[0], rtol=0.03)
    np.testing.assert_allclose(got[:, 1], law[1], rtol=0.10)
    assert got[:, 0].mean() == pytest.approx(law[0], rel=0.015)
    assert got[:, 1].mean() == pytest.approx(law[1], rel=0.05)


def test_failed_reads_do_not_count():
    """A failed read saw nothing: marking every read that saw the write within 3 s as failed leaves no pair
    below 3 s seeing it, so the curve (and its 99% point) ignores them rather than counting them as unseen."""
    run, _ = synthetic_run(0)
    all_reads = run_visibility_times(run)
    run.reads["timed_out"] = np.random.default_rng(1).random(len(run.reads["start"])) < 0.3
    assert run_visibility_times(run)["visibility_t99"] == pytest.approx(all_reads["visibility_t99"], rel=0.05)


def test_level_time_reads_the_monotone_fit():
    t = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    # a noisy tail: the raw proportions dip below 0.99 after first reaching it; an empty bin is skipped
    n = np.array([100, 100, 1000, 1000, 0, 1000])
    hits = np.array([50, 90, 992, 985, 0, 1000])
    fit = monotone_fit(n, hits)
    np.testing.assert_allclose(fit, [0.5, 0.9, 0.9885, 0.9885, np.nan, 1.0])
    # the fit first reaches 0.99 in the bin at 5.5, after 0.9885 at 3.5: linear between the two centres
    assert level_time(t, n, hits, 0.99) == pytest.approx(3.5 + (0.99 - 0.9885) / (1 - 0.9885) * 2.0)
    assert level_time(t, n, hits, 0.5) == 0.0  # the curve starts there
    assert math.isnan(level_time(t, n, np.minimum(hits, 980), 0.99))  # never reaches it
    assert math.isnan(level_time(t, np.zeros(6, int), np.zeros(6, int), 0.99))  # no data


def test_a_step_is_found_within_a_bin():
    """Four writes whose curves jump to 1 at 150, 152, 155 and 154.8 s (the last replica leaving the pool): the
    pooled curve reaches 0.99 at the last jump, 155 s, whatever the level above the last plateau (0.95)."""
    edges = np.linspace(0.0, 200.0, 2001)
    centre = (edges[:-1] + edges[1:]) / 2
    jumps = [150.0, 152.0, 155.0, 154.8]
    n = np.full(2000, 400)
    hits = sum(np.where(centre >= jump, 100, 80) for jump in jumps)
    for level in (0.99, 0.999):
        assert level_time(centre, n, hits, level) == pytest.approx(155.0, abs=0.1)
