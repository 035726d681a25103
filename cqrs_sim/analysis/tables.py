"""From raw run columns to the tidy tables of a result (requests, writes, replicas, timeseries, autoscale)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import histogram
from ..workload.keys import KeyIndex, key_staleness
from ..model import RunRecord
from ..config.fields import ARCHITECTURES
from ..core.timebins import bin_edges

KINDS = ["read", "write"]


def key_index(record: RunRecord) -> KeyIndex | None:
    """Which versions wrote which keys in this run; None without workload.keys."""
    if record.write_keys is None:
        return None
    return KeyIndex(record.write_keys, record.writes["version"], len(record.commit_time) - 1)


def read_staleness(record: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """(stale, staleness) per recorded read: stale when its replica lacked a committed write to its key (any
    committed write, without keys); staleness = query start − commit of the first such write."""
    reads = record.reads
    index = key_index(record)
    key = reads["key"] if index is not None else reads["version_seen"]
    return key_staleness(index, key, reads["version_seen"], reads["version_latest"], reads["start"], record.commit_time)


def _frame(record: RunRecord, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(columns.values()))) if columns else 0
    frame = pd.DataFrame(columns, copy=False)
    frame.insert(0, "replication", np.full(n, record.replication, dtype=np.int32))
    frame.insert(0, "architecture", pd.Categorical.from_codes(np.full(n, ARCHITECTURES.index(record.architecture), np.int8),
                                                              categories=ARCHITECTURES))
    return frame


def requests_table(records: list[RunRecord]) -> pd.DataFrame:
    """One row per recorded request of every run, reads then writes, built column by column.

    It consumes the runs' read columns, releasing each as soon as it is
    copied, so the peak is the final table plus one column, not two copies.
    """
    parts = []
    for record in records:
        stale, staleness = read_staleness(record)
        n, w = len(record.reads["id"]), record.writes
        m = len(w["arrival"])
        parts.append((record, n, m, stale, staleness))
    total = sum(n + m for _, n, m, _, _ in parts)

    def build(dtype, read_part, write_part) -> np.ndarray:
        out = np.empty(total, dtype=dtype)
        at = 0
        for record, n, m, stale, staleness in parts:
            out[at:at + n] = read_part(record, stale, staleness)
            out[at + n:at + n + m] = write_part(record, m)
            at += n + m
        return out

    reads = lambda name: (lambda rec, _s, _t: rec.reads.pop(name))  # noqa: E731
    const = lambda value: (lambda _rec, m: np.full(m, value))  # noqa: E731
    columns: dict[str, np.ndarray] = {}
    columns["architecture"] = pd.Categorical.from_codes(
        build(np.int8, lambda rec, *_: ARCHITECTURES.index(rec.architecture), lambda rec, m: ARCHITECTURES.index(rec.architecture)),
        categories=ARCHITECTURES)
    columns["replication"] = build(np.int32, lambda rec, *_: rec.replication, lambda rec, m: rec.replication)
    columns["kind"] = pd.Categorical.from_codes(build(np.int8, lambda *_: 0, const(1)), categories=KINDS)
    columns["id"] = build(np.int64, reads("id"), lambda rec, m: np.arange(m))
    columns["arrival"] = build(float, reads("arrival"), lambda rec, m: rec.writes["arrival"])
    columns["start"] = build(float, reads("start"), lambda rec, m: rec.writes["start"])
    columns["finish"] = build(float, reads("finish"), lambda rec, m: rec.writes["commit"])
    columns["latency"] = columns["finish"] - columns["arrival"]
    columns["handler"] = build(np.int32, reads("handler"), const(-1))
    columns["replica"] = build(np.int32, reads("replica"), const(-1))
    columns["version_seen"] = build(np.int64, reads("version_seen"), const(-1))
    columns["version_latest"] = build(np.int64, reads("version_latest"), lambda rec, m: rec.writes["version"])
    columns["stale"] = build(bool, lambda rec, stale, _t: stale, const(False))
    columns["timed_out"] = build(bool, reads("timed_out"), const(False))
    columns["waited_for_pool"] = build(bool, reads("waited_for_pool"), const(False))
    columns["staleness"] = build(float, lambda rec, _s, staleness: staleness, const(0.0))
    if all("key" in record.reads for record, *_ in parts) and parts:
        columns["stale_version"] = columns["version_seen"] < columns["version_latest"]
        columns["stale_version"][columns["kind"].codes == 1] = False
        columns["key"] = build(np.int64, reads("key"), lambda rec, m: rec.write_keys[:, 0])
    if all("client" in record.reads for record, *_ in parts) and parts:
        columns["client"] = build(np.int32, reads("client"), const(-1))
        columns["monotonic_violation"] = build(bool, reads("monotonic_violation"), const(False))
    return pd.DataFrame(columns, copy=False)


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


def _step_integral(steps: dict[str, np.ndarray], column: str, lo: float, hi: float) -> float:
    """The integral over [lo, hi) of a step function given by its values from each time ``t`` on."""
    t = steps["t"]
    ends = np.append(t[1:], np.inf)
    span = np.clip(np.minimum(ends, hi) - np.maximum(t, lo), 0, None)
    return float((span * steps[column]).sum())


def member_time(record: RunRecord, lo: float, hi: float) -> float:
    """Replica-seconds of member replicas (in the pool, or out of it for a swap) during [lo, hi)."""
    if record.pool_steps:
        return _step_integral(record.pool_steps, "members", lo, hi)
    return record.replica_count * (hi - lo)


def in_pool_time(record: RunRecord, lo: float, hi: float) -> float:
    """Replica-seconds in the pool during [lo, hi)."""
    if record.pool_steps:  # an elastic pool records its membership
        return _step_integral(record.pool_steps, "in_pool", lo, hi)
    out, back = record.swaps["out"], record.swaps["back"]
    away = np.clip(np.minimum(back, hi) - np.maximum(out, lo), 0, None).sum() if len(out) else 0.0
    return record.replica_count * (hi - lo) - float(away)


def empty_spans(swaps: dict[str, np.ndarray], replica_count: int) -> dict[str, np.ndarray]:
    """start, end of each time every one of ``replica_count`` replicas was out of the pool, from their swaps
    (replica, out, back): for a record that does not keep its pool's empty spans itself (the testbed's)."""
    out, back = np.asarray(swaps.get("out", []), float), np.asarray(swaps.get("back", []), float)
    times = np.concatenate([out, back])
    step = np.concatenate([-np.ones(len(out), np.int64), np.ones(len(back), np.int64)])
    order = np.lexsort((-step, times))  # at one instant, a replica coming back before one leaving
    in_pool = replica_count + np.cumsum(step[order])
    times = times[order]
    starts = times[in_pool == 0]
    ends = times[np.flatnonzero(in_pool == 0) + 1] if len(starts) else np.empty(0)
    return {"start": starts, "end": ends}


def within(t: np.ndarray, spans: dict[str, np.ndarray]) -> np.ndarray:
    """Which times fall inside one of the (start, end) spans."""
    t = np.asarray(t, float)
    if not spans or not len(spans["start"]):
        return np.zeros(len(t), bool)
    k = np.searchsorted(spans["start"], t, side="right") - 1
    return (k >= 0) & (t < spans["end"][np.maximum(k, 0)])


def timeseries_table(record: RunRecord, duration: float, bin_width: float) -> pd.DataFrame:
    """Per time bin over [0, duration): reads served and failed in the bin; latency and staleness of the served
    reads arriving in it.

    Full recording: exact percentiles. Summary recording: from the per-bin
    log-linear histograms (within 0.8%).
    """
    edges = bin_edges(duration, bin_width)
    rows = len(edges) - 1
    if record.aggregates is not None:
        agg = record.aggregates
        completed, failed = agg.bin_completed, agg.bin_failed
        p50 = histogram.TIMESERIES.quantiles(agg.bin_hist, 0.50, agg.bin_latency_min, agg.bin_latency_max)
        p99 = histogram.TIMESERIES.quantiles(agg.bin_hist, 0.99, agg.bin_latency_min, agg.bin_latency_max)
        with np.errstate(invalid="ignore", divide="ignore"):
            stale_fraction = np.where(agg.bin_reads > 0, agg.bin_stale / np.maximum(agg.bin_reads, 1), np.nan)
    else:
        reads = record.reads
        lost = reads["timed_out"]
        failed = np.histogram(reads["finish"][lost & (reads["finish"] < duration)], bins=edges)[0]
        served = ~lost
        arrival, finish = reads["arrival"][served], reads["finish"][served]
        latency = finish - arrival
        stale = read_staleness(record)[0][served]
        cut = np.searchsorted(arrival, edges)  # reads are in id order, which is arrival order
        completed = np.histogram(finish[finish < duration], bins=edges)[0]
        p50 = np.full(rows, np.nan)
        p99 = np.full(rows, np.nan)
        stale_fraction = np.full(rows, np.nan)
        for b in range(rows):
            lo, hi = cut[b], cut[b + 1]
            if hi > lo:
                p50[b], p99[b] = np.percentile(latency[lo:hi], [50, 99])
                stale_fraction[b] = stale[lo:hi].mean()
    in_pool = np.array([in_pool_time(record, edges[b], edges[b + 1]) / (edges[b + 1] - edges[b]) for b in range(rows)])
    return _frame(
        record,
        {
            "t": edges[:-1],
            "reads_completed": np.asarray(completed, dtype=np.int64),
            "reads_failed": np.asarray(failed, dtype=np.int64),
            "read_latency_p50": p50,
            "read_latency_p99": p99,
            "stale_fraction": stale_fraction,
            "replicas_in_pool": in_pool,
        },
    )


def outages_table(record: RunRecord) -> pd.DataFrame:
    """One row per outage of an instance (random or scheduled failures), in order of repair: instance, cause
    (``random``, ``scheduled``, both joined by ``+``, or ``scheduled (skipped)``), down, up (NaN: skipped)."""
    rows = sorted(record.outages, key=lambda row: (row[2], row[0]))
    return _frame(record, {"instance": np.asarray([row[0] for row in rows], dtype=object),
                           "cause": np.asarray([row[1] for row in rows], dtype=object),
                           "down": np.asarray([row[2] for row in rows], dtype=float),
                           "up": np.asarray([row[3] for row in rows], dtype=float)})


AUTOSCALE_COLUMNS = {"t": float, "replicas_in_pool": np.int32, "provisioning": np.int32, "utilization": float,
                     "desired": np.int32, "change": np.int32}


def autoscale_table(record: RunRecord) -> pd.DataFrame:
    """One row per autoscaler decision (none for a fixed pool): at t, replicas in the pool and being provisioned
    (before the decision), utilization over the interval ending at t, desired replicas, replicas added (+) or removed (−)."""
    columns = record.autoscale or {name: np.empty(0, dtype) for name, dtype in AUTOSCALE_COLUMNS.items()}
    return _frame(record, {name: np.asarray(columns[name], dtype) for name, dtype in AUTOSCALE_COLUMNS.items()})
