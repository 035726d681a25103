"""The visibility curve: P(a read whose query starts t after commit k sees version ≥ k), by t.

This is the t-visibility curve of probabilistically bounded staleness,
measured by simulation. Every (read, version) pair with the read's query
starting at or after the version's commit contributes one Bernoulli
observation at t = start − commit: did the read see it? Pairs are counted in
fixed bins of t up to a horizon a little beyond the longest visibility
window, where every read sees the write. Computed from the runs' recorded
reads, so with ``record: summary`` it rests on the sample of reads.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .scenario import ARCHITECTURES

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
            a, b = curve_counts(record.reads, w, edges)
            n += a
            hits += b
        with np.errstate(invalid="ignore", divide="ignore"):
            probability = np.where(n > 0, hits / np.maximum(n, 1), np.nan)
        rows.append(pd.DataFrame({"architecture": arch, "t": edges[:-1], "probability": probability, "reads": n}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["architecture", "t", "probability", "reads"])
    table["architecture"] = pd.Categorical(table["architecture"], categories=ARCHITECTURES)
    return table


def time_to(t: np.ndarray, probability: np.ndarray, level: float) -> float:
    """The first bin start from which the probability stays at or above ``level``; NaN without data."""
    known = ~np.isnan(probability)
    if not known.any():
        return math.nan
    t, probability = t[known], probability[known]
    below = np.nonzero(probability < level)[0]
    if len(below) == 0:
        return float(t[0])
    if below[-1] + 1 >= len(t):
        return math.nan  # never stays above within the horizon
    return float(t[below[-1] + 1])


def run_visibility_times(record) -> dict[str, float]:
    """visibility_t99 and visibility_t999 of one run, from its own reads and writes (its own horizon)."""
    writes = record.writes
    version = writes["version"]
    committed = np.isfinite(writes["commit"])
    table = pd.DataFrame({"version": version[committed], "commit": writes["commit"][committed],
                          "all_visible": record.all_visible[version[committed]] if committed.any() else np.empty(0)})
    reads = pd.DataFrame({"start": record.reads["start"], "version_seen": record.reads["version_seen"]})
    reads = reads[np.isfinite(reads["start"])]
    edges = np.linspace(0.0, horizon(table), BINS + 1)
    n, hits = curve_counts(reads, table, edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, hits / np.maximum(n, 1), np.nan)
    return {"visibility_t99": time_to(edges[:-1], p, 0.99), "visibility_t999": time_to(edges[:-1], p, 0.999)}
