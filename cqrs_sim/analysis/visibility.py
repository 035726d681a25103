"""The visibility curve: P(a read whose query starts t after commit k sees version ≥ k), by t.

This is the t-visibility curve of probabilistically bounded staleness,
measured by simulation. Every (read, version) pair with the read's query
starting at or after the version's commit contributes one Bernoulli
observation at t = start − commit: did the read see it? Pairs are counted in
fixed bins of t up to a horizon a little beyond the longest visibility
window, where every read sees the write. Only served reads count (a failed
read saw nothing). Computed from the runs' recorded reads, so with
``record: summary`` it rests on the sample of reads.

``visibility_t99`` and ``visibility_t999`` are quantiles of the
write-to-read lag: the first time the curve reaches 99% (99.9%). The binned
proportions are noisy, more so in the tail where few pairs fall, so the
time is where the curve's monotone fit (pooling adjacent violators, the
maximum-likelihood distribution function for such data) first reaches the
level, in bins of 1/2000 of the horizon; the last time the raw curve is
below the level would let one noisy tail bin push the time late.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config.fields import ARCHITECTURES

BINS = 200


def horizon(writes: pd.DataFrame) -> float:
    """Time after commit beyond which every read sees the write (plus 10%), at least 1 s."""
    if writes.empty:
        return 1.0
    window = (writes["all_visible"] - writes["commit"]).max()
    return max(1.0, 1.1 * float(window)) if np.isfinite(window) else 1.0


def curve_counts(reads, writes: pd.DataFrame, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(observations, successes) per bin of t for one run's reads (``start``, ``version_seen``) and writes."""
    n = np.zeros(len(edges) - 1, np.int64)
    seen_count = np.zeros(len(edges) - 1, np.int64)
    start = np.asarray(reads["start"], dtype=float)
    if writes.empty or len(start) == 0:
        return n, seen_count
    order = np.argsort(start, kind="stable")
    seen = np.asarray(reads["version_seen"])[order]
    start = start[order]
    del order
    top = edges[-1]
    for version, commit in zip(writes["version"].to_numpy(), writes["commit"].to_numpy()):
        lo, hi = np.searchsorted(start, [commit, commit + top], side="left")
        if hi <= lo:
            continue
        t = start[lo:hi] - commit
        k = np.minimum(np.searchsorted(edges, t, side="right") - 1, len(n) - 1)
        n += np.bincount(k, minlength=len(n))
        seen_count += np.bincount(k, weights=seen[lo:hi] >= version, minlength=len(n)).astype(np.int64)
    return n, seen_count


def visibility_from_records(records, writes: pd.DataFrame) -> pd.DataFrame:
    """The pooled visibility table from the runs' read columns (cheaper than from the requests table)."""
    edges = np.linspace(0.0, horizon(writes), BINS + 1)
    rows = []
    for arch in ARCHITECTURES:
        mine = [r for r in records if r.architecture == arch]
        if not mine:
            continue
        n = np.zeros(BINS, np.int64)
        hits = np.zeros(BINS, np.int64)
        for record in mine:
            w = writes[(writes["architecture"] == arch) & (writes["replication"] == record.replication)]
            keep = served(record.reads)
            a, b = curve_counts({"start": record.reads["start"][keep],
                                 "version_seen": record.reads["version_seen"][keep]}, w, edges)
            n += a
            hits += b
        with np.errstate(invalid="ignore", divide="ignore"):
            probability = np.where(n > 0, hits / np.maximum(n, 1), np.nan)
        rows.append(pd.DataFrame({"architecture": arch, "t": edges[:-1], "probability": probability, "reads": n}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["architecture", "t", "probability", "reads"])
    table["architecture"] = pd.Categorical(table["architecture"], categories=ARCHITECTURES)
    return table


def monotone_fit(n: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """The isotonic (non-decreasing) fit of the binned proportions hits / n, weighted by n, by pooling adjacent
    violators; NaN for a bin without observations (skipped).

    The fit is the maximum-likelihood estimate of a distribution function from such current-status data
    (each pair says only whether the lag was below its t): noise in one bin cannot cross a level alone.
    """
    n, hits = np.asarray(n, dtype=float), np.asarray(hits, dtype=float)
    kept = np.flatnonzero(n > 0)
    weight, success, size = [], [], []  # per pooled block: observations, successes, bins
    for k in kept:
        weight.append(n[k])
        success.append(hits[k])
        size.append(1)
        while len(weight) > 1 and success[-2] * weight[-1] >= success[-1] * weight[-2]:  # a violator: pool it
            w, h, b = weight.pop(), success.pop(), size.pop()
            weight[-1] += w
            success[-1] += h
            size[-1] += b
    fit = np.full(len(n), np.nan)
    fit[kept] = np.repeat(np.asarray(success) / np.asarray(weight), size) if kept.size else []
    return fit


def level_time(t: np.ndarray, n: np.ndarray, hits: np.ndarray, level: float) -> float:
    """The first time the visibility curve reaches ``level``: where its monotone fit (:func:`monotone_fit`) first
    reaches it, linear between the centres ``t`` of that bin and the bin before (so within a bin of a step).
    ``n``, ``hits``: each bin's read–write pairs and those that saw the write. 0 when the curve starts at or
    above the level; NaN when it never reaches it, or without data."""
    fit = monotone_fit(n, hits)
    kept = np.flatnonzero(~np.isnan(fit))
    t, fit = np.asarray(t, dtype=float)[kept], fit[kept]
    reached = np.flatnonzero(fit >= level)
    if not len(reached):
        return math.nan
    j = reached[0]
    if j == 0:
        return 0.0
    a, b = fit[j - 1], fit[j]
    return float(t[j - 1] + (level - a) / (b - a) * (t[j] - t[j - 1]))


def time_to(t: np.ndarray, probability: np.ndarray, reads: np.ndarray, level: float) -> float:
    """:func:`level_time` of a visibility table's rows (``t``: bin starts, equally wide; probability; reads)."""
    t = np.asarray(t, dtype=float)
    width = float(np.min(np.diff(t))) if len(t) > 1 else 0.0
    reads = np.nan_to_num(np.asarray(reads, dtype=float))
    hits = np.nan_to_num(np.asarray(probability, dtype=float)) * reads
    return level_time(t + width / 2, reads, np.round(hits), level)


#: bins of the curve that visibility_t99 and visibility_t999 are read from (finer than the plotted one)
QUANTILE_BINS = 2000


def served(reads) -> np.ndarray:
    """Which recorded reads were served (a failed read saw nothing)."""
    started = np.isfinite(np.asarray(reads["start"], dtype=float))
    return started & ~np.asarray(reads["timed_out"], dtype=bool) if "timed_out" in reads else started


def run_visibility_times(record) -> dict[str, float]:
    """visibility_t99 and visibility_t999 of one run, from its own reads and writes (its own horizon): the
    quantiles of the write-to-read lag, read off its curve in :data:`QUANTILE_BINS` bins."""
    writes = record.writes
    version = writes["version"]
    committed = np.isfinite(writes["commit"])
    table = pd.DataFrame({"version": version[committed], "commit": writes["commit"][committed],
                          "all_visible": record.all_visible[version[committed]] if committed.any() else np.empty(0)})
    keep = served(record.reads)
    reads = {"start": record.reads["start"][keep], "version_seen": record.reads["version_seen"][keep]}
    edges = np.linspace(0.0, horizon(table), QUANTILE_BINS + 1)
    n, hits = curve_counts(reads, table, edges)
    centre = (edges[:-1] + edges[1:]) / 2
    return {"visibility_t99": level_time(centre, n, hits, 0.99), "visibility_t999": level_time(centre, n, hits, 0.999)}
