"""Recording finished reads: every read (``full``) or streaming aggregates and a sample (``summary``).

The model appends each finished read's list (:mod:`.read`) to one flat list (the
cheapest thing Python can do per read); every ``CHUNK`` reads it is turned
into numpy columns at once. In ``full`` mode the columns are kept (58 bytes
a read; 13 more with keys and clients); in ``summary`` mode they are folded into exact counts, sums and
maxima, log-linear histograms (percentiles within 0.1%), per-bin timeseries
histograms (within 0.8%), and a bounded sample, then dropped, so memory does not grow
with the number of reads.

The sample is a bottom-k sample on a hash of the read id: the ``sample_size``
reads with the smallest keys (every read, when there are no more than that:
then the run's numbers are computed from them, exactly as in full mode). The key depends only on (seed, replication,
id), so both architectures keep the same reads — the sample is paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..core import histogram
from ..workload.keys import KeyIndex, key_staleness
from ..workload.sessions import Sessions
from ..core.timebins import bin_edges
from .read import ARRIVAL, CLIENT, FINISH, HANDLER, ID, KEY, LATEST, REPLICA, SEEN, START, TIMED_OUT, WAITED, WIDTH
from ..core.hashing import splitmix64 as _mix

CHUNK = 1 << 16  #: reads per conversion to numpy

COLUMNS = {  # output column -> (position, dtype)
    "id": (ID, np.int64),
    "arrival": (ARRIVAL, np.float64),
    "start": (START, np.float64),
    "finish": (FINISH, np.float64),
    "handler": (HANDLER, np.int32),
    "replica": (REPLICA, np.int32),
    "version_seen": (SEEN, np.int64),
    "version_latest": (LATEST, np.int64),
    "timed_out": (TIMED_OUT, np.bool_),
    "waited_for_pool": (WAITED, np.bool_),
}
VIOLATION = WIDTH  #: a column the recorder adds to each block when reads have clients: monotonic_read_violations
KEY_COLUMNS = {"key": (KEY, np.int64)}  #: kept with workload.keys
CLIENT_COLUMNS = {"client": (CLIENT, np.int32), "monotonic_violation": (VIOLATION, np.bool_)}  #: kept with clients



@dataclass
class ReadAggregates:
    """Exact counts, sums and maxima, and histograms (percentiles within 0.1%), of the reads arriving in
    [warmup, duration).

    Latency, staleness and session statistics are over the served reads; a
    failed read counts in ``failed`` and ``failure_time_sum`` only.
    """

    served: int = 0  #: reads served
    latency_sum: float = 0.0
    latency_min: float = math.inf
    latency_max: float = -math.inf
    latency_hist: np.ndarray = field(default_factory=lambda: np.zeros(histogram.SUMMARY.buckets, np.int64))
    stale: int = 0  #: reads whose replica lacked a committed write to their key
    stale_version: int = 0  #: reads whose replica lacked a committed version (whatever key they read)
    monotonic: int = 0  #: reads that violated monotonic reads (with clients)
    staleness_sum: float = 0.0
    staleness_max: float = 0.0
    staleness_hist: np.ndarray = field(default_factory=lambda: np.zeros(histogram.SUMMARY.buckets, np.int64))
    busy: float = 0.0  #: connection-seconds of queries inside the window
    failed: int = 0  #: reads in the window that failed (their client gave up, or their server failed)
    failure_time_sum: float = 0.0  #: seconds from arrival to failure, summed over the failed reads
    waited: int = 0  #: reads in the window that found no server to read from and waited for one
    #: per timeseries bin: served reads, stale ones and their latency histogram (by arrival); served and failed
    #: reads by finish bin
    bin_reads: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bin_stale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bin_hist: np.ndarray = field(default_factory=lambda: np.zeros((0, histogram.TIMESERIES.buckets), np.int32))
    bin_latency_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bin_latency_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bin_completed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bin_failed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    total_reads: int = 0  #: every read recorded, in the window or not


class ReadRecorder:
    """Collects finished reads of one run."""

    def __init__(self, mode: str, commit_time: list[float], *, warmup: float, duration: float, bin_width: float,
                 sample_size: int, seed: int, replication: int,
                 key_index: Optional[Callable[[], KeyIndex]] = None, clients: Optional[int] = None):
        """``key_index()``: which committed versions wrote which keys (with workload.keys); ``clients``:
        how many clients reads belong to (monotonic reads are checked per client)."""
        self.mode = mode
        self.key_index = key_index
        self.sessions = Sessions() if clients is not None else None
        self.columns_kept = dict(COLUMNS)
        if key_index is not None:
            self.columns_kept.update(KEY_COLUMNS)
        if clients is not None:
            self.columns_kept.update(CLIENT_COLUMNS)
        self.flat: list = []  #: state lists of finished reads, concatenated
        self.commit_time = commit_time  #: the model's live list, by version
        self.chunks: list[list] = []  #: full mode: per chunk, one typed array per output column
        self.lo, self.hi = warmup, duration
        self.edges = bin_edges(duration, bin_width)
        self.sample_size = sample_size
        self.salt = np.uint64((seed * 1_000_003 + replication) % (1 << 63))
        self.sample: np.ndarray | None = None
        self.sample_keys = np.zeros(0, np.uint64)
        if mode == "summary":
            bins = len(self.edges) - 1
            self.agg = ReadAggregates(
                bin_reads=np.zeros(bins, np.int64), bin_stale=np.zeros(bins, np.int64),
                bin_hist=np.zeros((bins, histogram.TIMESERIES.buckets), np.int32),
                bin_latency_min=np.full(bins, math.inf), bin_latency_max=np.full(bins, -math.inf),
                bin_completed=np.zeros(bins, np.int64), bin_failed=np.zeros(bins, np.int64))

    def flush(self) -> None:
        if not self.flat:
            return
        block = np.fromiter(self.flat, dtype=float, count=len(self.flat)).reshape(-1, WIDTH)
        self.flat.clear()
        index = self.key_index() if self.key_index is not None else None
        if self.sessions is not None:  # reads reach the flat list in the order their clients got the answers
            answered = (block[:, TIMED_OUT] == 0) & np.isfinite(block[:, START])
            violation = self.sessions.violations(block[:, CLIENT].astype(np.int64), block[:, SEEN].astype(np.int64),
                                                 block[:, KEY].astype(np.int64), answered, index)
            block = np.column_stack([block, violation])
        if self.mode == "full":
            self.chunks.append([block[:, pos].astype(dtype) for pos, dtype in self.columns_kept.values()])
        else:
            self._fold(block, index)
            self._sample(block)

    # --- summary mode ---------------------------------------------------------
    def _fold(self, block: np.ndarray, index: Optional[KeyIndex]) -> None:
        agg = self.agg
        agg.total_reads += len(block)
        arrival, start, finish = block[:, ARRIVAL], block[:, START], block[:, FINISH]
        # connection time: every query that ran, served or not (a read refused at once never started)
        ran = np.isfinite(start)
        agg.busy += float(np.clip(np.minimum(finish[ran], self.hi) - np.maximum(start[ran], self.lo), 0, None).sum())
        failed = block[:, TIMED_OUT] != 0
        inside = (arrival >= self.lo) & (arrival < self.hi)
        lost = inside & failed
        agg.failed += int(lost.sum())
        agg.failure_time_sum += float((finish - arrival)[lost].sum())
        agg.waited += int(block[inside, WAITED].sum())
        bins = len(self.edges) - 1
        done = np.searchsorted(self.edges, finish, side="right") - 1
        counted = (done >= 0) & (done < bins) & (finish < self.hi)
        agg.bin_failed += np.bincount(done[counted & failed], minlength=bins)
        agg.bin_completed += np.bincount(done[counted & ~failed], minlength=bins)
        if failed.any():
            block = block[~failed]  # from here on: the served reads
        arrival, start, finish = block[:, ARRIVAL], block[:, START], block[:, FINISH]
        seen = block[:, SEEN].astype(np.int64)
        latest = block[:, LATEST].astype(np.int64)
        latency = finish - arrival
        key = block[:, KEY].astype(np.int64) if index is not None else seen
        stale, staleness = key_staleness(index, key, seen, latest, start, np.asarray(self.commit_time))
        inside = (arrival >= self.lo) & (arrival < self.hi)
        if inside.any():
            lat = latency[inside]
            agg.served += len(lat)
            agg.latency_sum += float(lat.sum())
            agg.latency_min = min(agg.latency_min, float(lat.min()))
            agg.latency_max = max(agg.latency_max, float(lat.max()))
            agg.latency_hist += histogram.SUMMARY.counts(lat)
            st = staleness[inside]
            agg.stale += int(stale[inside].sum())
            agg.stale_version += int((seen < latest)[inside].sum())
            if self.sessions is not None:
                agg.monotonic += int(block[inside, VIOLATION].sum())
            agg.staleness_sum += float(st.sum())
            agg.staleness_max = max(agg.staleness_max, float(st.max()))
            agg.staleness_hist += histogram.SUMMARY.counts(st)
        b = np.searchsorted(self.edges, arrival, side="right") - 1
        ok = (b >= 0) & (b < bins)
        b, lat_b = b[ok], latency[ok]
        agg.bin_reads += np.bincount(b, minlength=bins)
        agg.bin_stale += np.bincount(b, weights=stale[ok], minlength=bins).astype(np.int64)
        per_bin = histogram.TIMESERIES
        flat_index = b * per_bin.buckets + per_bin.bucket(lat_b)
        agg.bin_hist += np.bincount(flat_index, minlength=bins * per_bin.buckets).reshape(bins, -1).astype(np.int32)
        np.minimum.at(agg.bin_latency_min, b, lat_b)
        np.maximum.at(agg.bin_latency_max, b, lat_b)

    def _sample(self, block: np.ndarray) -> None:
        keys = _mix(block[:, ID].astype(np.uint64) ^ self.salt)
        rows = np.stack([block[:, pos] for pos, _ in self.columns_kept.values()])
        if self.sample is not None:
            rows = np.concatenate([self.sample, rows], axis=1)
            keys = np.concatenate([self.sample_keys, keys])
        if len(keys) > self.sample_size:
            keep = np.argpartition(keys, self.sample_size - 1)[: self.sample_size]
            rows, keys = rows[:, keep], keys[keep]
        self.sample, self.sample_keys = rows, keys

    # --- the end --------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        """The recorded reads (all of them, or the sample), sorted by id; frees the chunks as it goes."""
        self.flush()
        if self.mode == "full":
            chunks = self.chunks
        else:
            chunks = [] if self.sample is None else [[row.astype(dtype) for row, (_, dtype) in zip(self.sample, self.columns_kept.values())]]
        self.chunks = []
        if not chunks:
            return {name: np.zeros(0, dtype) for name, (_, dtype) in self.columns_kept.items()}
        ids = np.concatenate([chunk[0] for chunk in chunks])
        order = np.argsort(ids, kind="stable")
        del ids
        out: dict[str, np.ndarray] = {}
        for index, name in enumerate(self.columns_kept):
            column = np.concatenate([chunk[index] for chunk in chunks])
            for chunk in chunks:
                chunk[index] = None
            out[name] = column[order]
            del column
        return out

    def aggregates(self) -> ReadAggregates | None:
        """Summary mode's aggregates; None when every read was kept (full mode, or a sample holding them all).

        With None the metrics and tables are computed from the kept reads, so a
        summary run with at most ``sample_size`` reads gives exactly full mode's numbers.
        """
        self.flush()
        if self.mode != "summary" or self.agg.total_reads <= self.sample_size:
            return None
        return self.agg
