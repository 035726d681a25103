"""The summary metrics: per replication, then mean and 95% Student-t interval.

Every metric counts requests arriving in the measured window [warmup,
duration). Time-based metrics (availability, utilisation) average over the
same window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..core import histogram
from .definitions import METRICS
from ..config.fields import ARCHITECTURES
from ..config.scenario import Cost, Scenario
from .tables import in_pool_time, member_time, read_staleness
from ..workload.sessions import own_last_writes

if TYPE_CHECKING:  # pandas, SciPy and the model load where they are used
    import pandas as pd

    from ..model import RunRecord

__all__ = ["differences", "interval", "replication_metrics", "summarize"]


def _safe(values: np.ndarray, fn) -> float:
    return float(fn(values)) if len(values) else math.nan


def replication_metrics(record: RunRecord, scenario: Scenario) -> dict[str, float]:
    """Every metric of one run but visibility_t* (exact with full recording; percentiles within 0.1% in summary mode)."""

    lo, hi = scenario.warmup, scenario.duration
    window = hi - lo
    writes = record.writes
    # a run stopped as a runaway leaves writes that never committed: they have no latency or visibility
    w_inside = (writes["arrival"] >= lo) & (writes["arrival"] < hi) & np.isfinite(writes["commit"])
    w_latency = (writes["commit"] - writes["arrival"])[w_inside]
    version = writes["version"][w_inside]
    commit = writes["commit"][w_inside]
    first = record.first_visible[version] - commit if len(version) else np.empty(0)
    every = record.all_visible[version] - commit if len(version) else np.empty(0)
    clients = scenario.workload.reads.clients is not None
    reads = _summary_reads(record, lo, hi, clients) if record.aggregates is not None else _exact_reads(record, lo, hi)
    busy = reads.pop("_busy")
    served, failed = reads.pop("count"), reads.pop("failed")
    failure_time, waited = reads.pop("failure_time_sum"), reads.pop("waited")
    finished = served + failed
    out: dict[str, float] = {
        "reads_completed": served,
        "read_throughput": finished / window,
        "read_goodput": served / window,
        "reads_failed": failed,
        "read_failure_time_mean": failure_time / failed if failed else math.nan,
        "read_availability": served / finished if finished else math.nan,
        "pool_empty_fraction": _span_time(record.empty_pool, lo, hi) / window,
        "reads_waited_for_pool": waited,
        "read_timeouts": float(((record.timeout_times >= lo) & (record.timeout_times < hi)).sum()),
        "read_retries": float(((record.retry_times >= lo) & (record.retry_times < hi)).sum()),
        **reads,
        "writes_committed": float(len(w_latency)),
        "write_latency_mean": _safe(w_latency, np.mean),
        "write_latency_max": _safe(w_latency, np.max),
        "first_visible_mean": _safe(first, np.mean),
        "visibility_window_mean": _safe(every, np.mean),
        "visibility_window_max": _safe(every, np.max),
        "replica_availability": in_pool_time(record, lo, hi) / (member_time(record, lo, hi) if record.pool_steps
                                                                 else record.replica_count * window),
        "db_utilization": _utilization(record, busy, lo, hi),
        "replica_seconds": _instance_seconds(record, lo, hi),
        "read_your_writes_violations": _read_back_misses(record, lo, hi),
    }
    if scenario.cost is not None:
        keeps_snapshot = record.architecture == "cqrs" and scenario.cqrs.sync.strategy != "projection"
        out["cost_per_hour"] = cost_per_hour(scenario.cost, keeps_snapshot, out["replica_seconds"], window)
    return {name: float(out[name]) for name in METRICS if name in out}  # visibility_t* are added by simulate


def _exact_reads(record: RunRecord, lo: float, hi: float) -> dict[str, float]:
    """The read metrics from every recorded read: latency, staleness and sessions over the served ones."""

    reads = record.reads
    arrival = reads["arrival"]
    inside = (arrival >= lo) & (arrival < hi)
    lost = reads["timed_out"]
    failed = inside & lost
    inside &= ~lost  # from here on: the served reads
    latency = (reads["finish"] - arrival)[inside]
    stale, staleness = read_staleness(record)
    stale, staleness = stale[inside], staleness[inside]
    stale_version = (reads["version_seen"] < reads["version_latest"])[inside]
    violations = reads["monotonic_violation"][inside] if "monotonic_violation" in reads else np.empty(0)
    q = np.percentile(latency, [50, 95, 99, 99.9]) if len(latency) else [math.nan] * 4
    ran = np.isfinite(reads["start"])  # connection time: every query that ran, served or not
    busy = np.clip(np.minimum(reads["finish"][ran], hi) - np.maximum(reads["start"][ran], lo), 0, None).sum()
    return {
        "count": float(len(latency)),
        "failed": float(failed.sum()),
        "failure_time_sum": float((reads["finish"] - arrival)[failed].sum()),
        "waited": float(reads["waited_for_pool"][(arrival >= lo) & (arrival < hi)].sum()),
        "read_latency_mean": _safe(latency, np.mean),
        "read_latency_p50": float(q[0]),
        "read_latency_p95": float(q[1]),
        "read_latency_p99": float(q[2]),
        "read_latency_p999": float(q[3]),
        "read_latency_max": _safe(latency, np.max),
        "stale_read_fraction": _safe(stale, np.mean),
        "stale_version_fraction": _safe(stale_version, np.mean),
        "monotonic_read_violations": _safe(violations, np.mean),
        "staleness_mean": _safe(staleness, np.mean),
        "staleness_p99": float(np.percentile(staleness, 99)) if len(staleness) else math.nan,
        "staleness_max": _safe(staleness, np.max),
        "_busy": float(busy),
    }


def _summary_reads(record: RunRecord, lo: float, hi: float, clients: bool) -> dict[str, float]:
    agg = record.aggregates
    assert agg is not None
    n = agg.served
    counts = {"count": float(n), "failed": float(agg.failed), "failure_time_sum": agg.failure_time_sum,
              "waited": float(agg.waited), "_busy": agg.busy}
    if n == 0:
        return {**counts, **{name: math.nan for name in _SERVED_READ_METRICS}}

    def q(p: float) -> float:
        return float(histogram.SUMMARY.quantiles(agg.latency_hist, p, agg.latency_min, agg.latency_max)[0])

    return {
        **counts,
        "read_latency_mean": agg.latency_sum / n,
        "read_latency_p50": q(0.50),
        "read_latency_p95": q(0.95),
        "read_latency_p99": q(0.99),
        "read_latency_p999": q(0.999),
        "read_latency_max": agg.latency_max,
        "stale_read_fraction": agg.stale / n,
        "stale_version_fraction": agg.stale_version / n,
        "monotonic_read_violations": agg.monotonic / n if clients else math.nan,
        "staleness_mean": agg.staleness_sum / n,
        "staleness_p99": float(histogram.SUMMARY.quantiles(agg.staleness_hist, 0.99, 0.0, agg.staleness_max)[0]),
        "staleness_max": agg.staleness_max,
    }


#: the metrics over served reads (null when no read was served)
_SERVED_READ_METRICS = ("read_latency_mean", "read_latency_p50", "read_latency_p95", "read_latency_p99",
                        "read_latency_p999", "read_latency_max", "stale_read_fraction", "stale_version_fraction",
                        "monotonic_read_violations", "staleness_mean", "staleness_p99", "staleness_max")


def _span_time(spans: dict[str, np.ndarray], lo: float, hi: float) -> float:
    """Seconds of [lo, hi) covered by the (start, end) spans (which do not overlap)."""
    if not spans or not len(spans["start"]):
        return 0.0
    return float(np.clip(np.minimum(spans["end"], hi) - np.maximum(spans["start"], lo), 0, None).sum())


def _read_back_misses(record: RunRecord, lo: float, hi: float) -> float:
    """Share of read-backs (of writes committed in the window) that missed the writer's own last write to the key
    read, committed by the time the read-back was sent (:mod:`.sessions`)."""
    backs = record.read_backs
    if not backs or not len(backs["version"]):
        return math.nan
    version = backs["version"]
    inside = (record.commit_time[version] >= lo) & (record.commit_time[version] < hi)
    if not inside.any():
        return math.nan
    own = version
    if record.write_client is not None:  # a writer is a client: its later writes to the key count too

        writes = record.writes
        write_of = np.zeros(len(record.commit_time), dtype=np.int64)  # by version, the write that made it
        committed = writes["version"] > 0
        write_of[writes["version"][committed]] = np.flatnonzero(committed)
        j = write_of[version]
        keys = record.write_keys if record.write_keys is not None else np.zeros((len(writes["version"]), 1), np.int64)
        sent = np.searchsorted(record.commit_time, backs["arrival"], side="right") - 1  # the newest commit by then
        own = np.maximum(version, own_last_writes(keys, writes["version"], record.write_client, keys[j, 0],
                                                  record.write_client[j], sent))
    return float((backs["version_seen"][inside] < own[inside]).mean())


def _instance_seconds(record: RunRecord, lo: float, hi: float) -> float:
    extra = record.extra_instances
    built = 0.0
    if extra and len(extra["start"]):
        built = float(np.clip(np.minimum(extra["end"], hi) - np.maximum(extra["start"], lo), 0, None).sum())
    return record.instances * (hi - lo) + built


WRITE_INSTANCES = 1  #: the instance taking writes: CRUD's database or primary, CQRS's write image


def cost_per_hour(cost: Cost, keeps_snapshot: bool, instance_seconds: float, window: float) -> float:
    """The price of one design per hour, from its instance-seconds over a window of ``window`` seconds.

    The write instance runs the whole window at ``write_instance_hour``; every
    other instance-second (replicas, and instances built beside them by surge
    or blue-green rollouts) costs ``instance_hour`` / 3600; CQRS refreshed by
    snapshots keeps one snapshot of the write image (``snapshot_gb`` ×
    ``snapshot_gb_hour``); projections rebuild from the event log instead.
    Everything derives from ``replica_seconds``, so any instance it counts is priced.
    """
    write_price = cost.instance_hour if cost.write_instance_hour is None else cost.write_instance_hour
    replica_hours_per_hour = (instance_seconds - WRITE_INSTANCES * window) / window
    snapshot = cost.snapshot_gb * cost.snapshot_gb_hour if keeps_snapshot else 0.0
    return WRITE_INSTANCES * write_price + cost.instance_hour * replica_hours_per_hour + snapshot


def _utilization(record: RunRecord, read_busy: float, lo: float, hi: float) -> float:
    writes = record.writes
    busy = read_busy
    if record.write_weight and len(writes["start"]):
        span = np.clip(np.minimum(writes["commit"], hi) - np.maximum(writes["start"], lo), 0, None)
        busy += record.write_weight * float(span.sum())
    if record.pool_steps:  # an elastic pool: the connections of its member replicas, over time

        return busy / (record.capacity / record.replica_count * member_time(record, lo, hi))
    return busy / (record.capacity * (hi - lo))


def interval(values: np.ndarray, confidence: float = 0.95) -> dict[str, float | int | None]:
    """Mean and two-sided Student-t interval (95% unless ``confidence`` says otherwise) of finite values; bounds
    are None when n < 2."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return {"mean": math.nan, "ci_low": None, "ci_high": None, "n": 0}
    mean = float(values.mean())
    if n < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "n": 1}
    level = 0.975 if confidence == 0.95 else 1 - (1 - confidence) / 2
    half = float(stats.t.ppf(level, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def summarize(per_replication: pd.DataFrame) -> pd.DataFrame:
    """Tidy summary: architecture, metric, mean, ci_low, ci_high, n (the rows of summary.csv)."""
    import pandas as pd

    rows = []
    for arch in [a for a in ARCHITECTURES if a in set(per_replication["architecture"])]:
        sub = per_replication[per_replication["architecture"] == arch]
        for metric in METRICS:
            if metric in sub:
                rows.append({"architecture": arch, "metric": metric, **interval(sub[metric].to_numpy())})
    return pd.DataFrame(rows, columns=["architecture", "metric", "mean", "ci_low", "ci_high", "n"])


def differences(per_replication: pd.DataFrame) -> pd.DataFrame:
    """cqrs − crud, paired by replication (both saw the same random numbers)."""
    import pandas as pd

    archs = set(per_replication["architecture"])
    if not set(ARCHITECTURES) <= archs:
        return pd.DataFrame(columns=["metric", "mean", "ci_low", "ci_high", "n"])
    crud = per_replication[per_replication["architecture"] == "crud"].set_index("replication")
    cqrs = per_replication[per_replication["architecture"] == "cqrs"].set_index("replication")
    rows = []
    for metric in METRICS:
        if metric in crud and metric in cqrs:
            paired = (cqrs[metric] - crud[metric]).dropna()
            rows.append({"metric": metric, **interval(paired.to_numpy())})
    return pd.DataFrame(rows, columns=["metric", "mean", "ci_low", "ci_high", "n"])
