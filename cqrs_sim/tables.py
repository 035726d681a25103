"""From raw run columns to the tidy tables of SPEC §6 (requests, writes, replicas, timeseries)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import RunRecord

ARCHITECTURES = ["crud", "cqrs"]
KINDS = ["read", "write"]


def read_staleness(record: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """(stale, staleness) per read: staleness = query start − commit of version_seen + 1."""
    reads = record.reads
    seen = reads["version_seen"]
    stale = seen < reads["version_latest"]
    staleness = np.zeros(len(seen))
    if stale.any():
        staleness[stale] = reads["start"][stale] - record.commit_time[seen[stale] + 1]
    return stale, staleness


def _frame(record: RunRecord, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(columns.values()))) if columns else 0
    frame = pd.DataFrame(columns)
    frame.insert(0, "replication", np.full(n, record.replication, dtype=np.int32))
    frame.insert(0, "architecture", pd.Categorical([record.architecture] * n, categories=ARCHITECTURES))
    return frame


def requests_table(record: RunRecord) -> pd.DataFrame:
    reads, writes = record.reads, record.writes
    stale, staleness = read_staleness(record)
    n, m = len(reads["arrival"]), len(writes["arrival"])
    columns = {
        "kind": pd.Categorical.from_codes(np.r_[np.zeros(n, np.int8), np.ones(m, np.int8)], categories=KINDS),
        "id": np.r_[np.arange(n), np.arange(m)].astype(np.int64),
        "arrival": np.r_[reads["arrival"], writes["arrival"]],
        "start": np.r_[reads["start"], writes["start"]],
        "finish": np.r_[reads["finish"], writes["commit"]],
    }
    columns["latency"] = columns["finish"] - columns["arrival"]
    columns.update(
        handler=np.r_[reads["handler"], np.full(m, -1, np.int32)],
        replica=np.r_[reads["replica"], np.full(m, -1, np.int32)],
        version_seen=np.r_[reads["version_seen"], np.full(m, -1, np.int64)],
        version_latest=np.r_[reads["version_latest"], writes["version"]],
        stale=np.r_[stale, np.zeros(m, bool)],
        staleness=np.r_[staleness, np.zeros(m)],
    )
    return _frame(record, columns)


def writes_table(record: RunRecord) -> pd.DataFrame:
    writes = record.writes
    version = writes["version"]
    return _frame(
        record,
        {
            "version": version,
            "arrival": writes["arrival"],
            "start": writes["start"],
            "commit": writes["commit"],
            "latency": writes["commit"] - writes["arrival"],
            "first_visible": record.first_visible[version] if len(version) else np.empty(0),
            "all_visible": record.all_visible[version] if len(version) else np.empty(0),
        },
    )


def replicas_table(record: RunRecord) -> pd.DataFrame:
    return _frame(record, dict(record.swaps))


def in_pool_time(record: RunRecord, lo: float, hi: float) -> float:
    """Replica-seconds in the pool during [lo, hi)."""
    out, back = record.swaps["out"], record.swaps["back"]
    away = np.clip(np.minimum(back, hi) - np.maximum(out, lo), 0, None).sum() if len(out) else 0.0
    return record.replica_count * (hi - lo) - float(away)


def timeseries_table(record: RunRecord, duration: float, bin_width: float) -> pd.DataFrame:
    """Per time bin over [0, duration): reads completed in the bin; latency and staleness of reads arriving in it."""
    edges = np.arange(0.0, duration, bin_width)
    edges = np.append(edges, duration)
    reads = record.reads
    arrival, finish = reads["arrival"], reads["finish"]
    latency = finish - arrival
    stale, _ = read_staleness(record)
    cut = np.searchsorted(arrival, edges)  # reads are in arrival order
    completed = np.histogram(finish, bins=edges)[0]
    rows = len(edges) - 1
    p50 = np.full(rows, np.nan)
    p99 = np.full(rows, np.nan)
    stale_fraction = np.full(rows, np.nan)
    in_pool = np.empty(rows)
    for b in range(rows):
        lo, hi = cut[b], cut[b + 1]
        if hi > lo:
            p50[b], p99[b] = np.percentile(latency[lo:hi], [50, 99])
            stale_fraction[b] = stale[lo:hi].mean()
        width = edges[b + 1] - edges[b]
        in_pool[b] = in_pool_time(record, edges[b], edges[b + 1]) / width
    return _frame(
        record,
        {
            "t": edges[:-1],
            "reads_completed": completed.astype(np.int64),
            "read_latency_p50": p50,
            "read_latency_p99": p99,
            "stale_fraction": stale_fraction,
            "replicas_in_pool": in_pool,
        },
    )
