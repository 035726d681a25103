"""A short verdict written from the numbers: which architecture wins each headline metric, by how much.

A difference counts only when the paired 95% interval of cqrs − crud
excludes zero (otherwise: "no clear difference") and it is at least 1% of
the larger value (otherwise: "practically the same"; a CRUD write that
waits 3 ms for running queries is slower, but not in a way that matters).
"""

from __future__ import annotations

import math

import pandas as pd

from .metrics import LOWER_IS_BETTER
from .report import format_value
from .scenario import ARCHITECTURES

#: metric -> what it is called in a sentence
HEADLINE = {
    "read_latency_p50": "median read latency",
    "read_latency_p99": "p99 read latency",
    "read_latency_p999": "p99.9 read latency",
    "read_latency_max": "worst read latency",
    "write_latency_mean": "mean write latency",
    "stale_read_fraction": "stale-read fraction",
    "staleness_mean": "mean staleness",
    "visibility_window_mean": "time for a write to reach every replica",
    "visibility_t99": "time until 99% of reads see a write",
    "read_your_writes_violations": "writers not seeing their own write",
    "reads_failed": "reads failed after client timeouts",
    "db_utilization": "database connection utilisation",
}


def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def verdict(summary: pd.DataFrame, diff: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(metric, winner: 'crud' | 'cqrs' | 'none' | 'unknown', sentence) per headline metric."""
    archs = set(summary["architecture"])
    if not set(ARCHITECTURES) <= archs:
        return []
    means = summary.set_index(["architecture", "metric"])["mean"]
    diffs = diff.set_index("metric")
    out = []
    for metric, name in HEADLINE.items():
        if metric not in diffs.index:
            continue
        crud, cqrs = _num(means.get(("crud", metric))), _num(means.get(("cqrs", metric)))
        if crud is None or cqrs is None:
            continue
        if metric == "reads_failed" and crud == 0 and cqrs == 0:
            continue  # no client timeouts configured, or none that failed: nothing to say
        row = diffs.loc[metric]
        low, high, mean = _num(row["ci_low"]), _num(row["ci_high"]), _num(row["mean"])
        both = f"crud {format_value(metric, crud)}, cqrs {format_value(metric, cqrs)}"
        if low is None or high is None or mean is None:
            out.append((metric, "unknown", f"{name.capitalize()}: {both}; one replication gives no interval, so no verdict."))
            continue
        interval = f"cqrs − crud {format_value(metric, mean)}, 95% CI {format_value(metric, low)} to {format_value(metric, high)}"
        if abs(mean) <= 1e-12 and abs(low) <= 1e-12 and abs(high) <= 1e-12:
            out.append((metric, "none", f"{name.capitalize()}: the same in both ({both})."))
            continue
        if low <= 0 <= high:
            out.append((metric, "none", f"{name.capitalize()}: no clear difference ({both}; {interval})."))
            continue
        if abs(mean) < 0.01 * max(abs(crud), abs(cqrs)):
            out.append((metric, "none", f"{name.capitalize()}: practically the same ({both}; the difference, "
                                        f"{format_value(metric, mean)}, is under 1%)."))
            continue
        if metric == "db_utilization":
            busier = "cqrs" if mean > 0 else "crud"
            out.append((metric, "none", f"{name.capitalize()}: {busier} keeps its connections busier ({both}; {interval})."))
            continue
        cqrs_better = (mean < 0) == (metric in LOWER_IS_BETTER)
        winner = "cqrs" if cqrs_better else "crud"
        w, l_ = (cqrs, crud) if cqrs_better else (crud, cqrs)
        ratio = ""
        if metric in LOWER_IS_BETTER and w > 0 and l_ / w >= 2:
            ratio = f": {l_ / w:,.0f}× lower" if l_ / w >= 10 else f": {l_ / w:.1f}× lower"
        out.append((metric, winner, f"{name.capitalize()}: {winner} is better ({both}{ratio}; {interval})."))
    return out
