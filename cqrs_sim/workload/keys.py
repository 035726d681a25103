"""Keys: which key each read and write touches, and what a key-aware read counts as stale.

Keys are drawn by rank: rank 0 is the most popular key. Uniform popularity
gives every rank 1/N; ``{zipf: s}`` gives rank i (from 0) weight
1 / (i + 1)^s. With ``workload.writes.keys.choose: new`` each write adds
``count`` new keys (numbered on from the existing ones, write after write),
and a read ranks the catalogue as it stands when the read arrives, newest key
first: rank 0 is the newest key, and a key that has fallen beyond the N
newest is no longer read. The catalogue counts writes that have *arrived*
(the same instants in both designs), so a read may ask for a key whose write
has not committed yet: it exists nowhere, both designs answer alike, and the
read is not stale.

A replica at version v holds every write with version ≤ v (commits apply in
order), so a read with (seen s, latest l, key k) is stale for its key when
some write with version in (s, l] wrote k; :class:`KeyIndex` finds the first
such version for many reads at once (sorted codes ``key × stride +
version``, one binary search per read). Session guarantees (monotonic
reads, read-your-writes) are in :mod:`.sessions`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..config.workload import Keys
from ..config.scenario import Scenario


def popularity_cdf(keys: Keys) -> Optional[np.ndarray]:
    """The cumulative popularity by rank, or None for uniform popularity (drawn without a table)."""
    if keys.popularity == "uniform":
        return None
    weights = 1.0 / np.arange(1, keys.count + 1, dtype=float) ** keys.popularity.zipf  # type: ignore[union-attr]
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def popularity(keys: Keys) -> np.ndarray:
    """Probability of each rank (for tests and closed forms)."""
    cdf = popularity_cdf(keys)
    if cdf is None:
        return np.full(keys.count, 1.0 / keys.count)
    return np.diff(cdf, prepend=0.0)


def ranks(u: np.ndarray, count: int, cdf: Optional[np.ndarray]) -> np.ndarray:
    """Ranks for uniforms ``u`` in [0, 1) by inverse CDF."""
    if cdf is None:
        r = (u * count).astype(np.int64)
    else:
        r = np.searchsorted(cdf, u, side="right").astype(np.int64)
    return np.minimum(r, count - 1)


class ReadKeys:
    """Maps one uniform per read to the key it reads (see the module docstring for ``new``)."""

    def __init__(self, scenario: Scenario, write_arrival: np.ndarray):
        keys = scenario.workload.keys
        assert keys is not None
        self.count = keys.count
        self.cdf = popularity_cdf(keys)
        choose = scenario.workload.write_keys
        self.new = choose is not None and choose.choose == "new"
        self.per_write = choose.count if choose is not None else 0
        self.write_arrival = write_arrival

    def __call__(self, u: np.ndarray, arrival: np.ndarray) -> np.ndarray:
        r = ranks(u, self.count, self.cdf)
        if not self.new:
            return r
        catalogue = self.count + self.per_write * np.searchsorted(self.write_arrival, arrival, side="right")
        return catalogue - 1 - r


def write_keys(scenario: Scenario, writes: int, rng: np.random.Generator) -> np.ndarray:
    """Keys of each write, shape (writes, keys per write); without workload.keys every write writes key 0."""
    keys = scenario.workload.keys
    choose = scenario.workload.write_keys
    if keys is None or choose is None:
        return np.zeros((writes, 1), dtype=np.int64)
    shape = (writes, choose.count)
    if choose.choose == "new":
        return keys.count + np.arange(writes * choose.count, dtype=np.int64).reshape(shape)
    if choose.choose == "uniform":
        return rng.integers(0, keys.count, shape, dtype=np.int64)
    return ranks(rng.random(shape), keys.count, popularity_cdf(keys)).reshape(shape)


class KeyIndex:
    """Which committed versions wrote which keys.

    ``keys[j]``: the keys of write j; ``version[j]``: the version write j
    committed as (0: not committed); ``commits``: the newest version.
    """

    def __init__(self, keys: np.ndarray, version, commits: int):
        version = np.asarray(version, dtype=np.int64)[: len(keys)]
        done = version > 0
        self.stride = np.int64(commits + 1)
        per_write = keys.shape[1] if keys.ndim == 2 else 1
        codes = keys[done].reshape(-1) * self.stride + np.repeat(version[done], per_write)
        self.codes = np.unique(codes)  # sorted; a key written twice by one write counts once

    def last_write(self, key: np.ndarray, upto: np.ndarray) -> np.ndarray:
        """Per read: the last version at or before ``upto`` that wrote ``key``, or 0 if none did."""
        if not len(self.codes) or not len(key):
            return np.zeros(len(key), dtype=np.int64)
        i = np.searchsorted(self.codes, key * self.stride + upto, side="right") - 1
        code = self.codes[np.maximum(i, 0)]
        hit = (i >= 0) & (code // self.stride == key)
        return np.where(hit, code % self.stride, 0)

    def first_write(self, key: np.ndarray, after: np.ndarray, upto: np.ndarray) -> np.ndarray:
        """Per read: the first version in (after, upto] that wrote ``key``, or 0 if none did."""
        if not len(self.codes) or not len(key):
            return np.zeros(len(key), dtype=np.int64)
        i = np.searchsorted(self.codes, key * self.stride + after + 1, side="left")
        code = self.codes[np.minimum(i, len(self.codes) - 1)]
        version = code % self.stride
        hit = (i < len(self.codes)) & (code // self.stride == key) & (version <= upto)
        return np.where(hit, version, 0)


def key_staleness(index: Optional[KeyIndex], key: np.ndarray, seen: np.ndarray, latest: np.ndarray,
                  start: np.ndarray, commit_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stale, staleness) per read: without an index (no keys), stale when seen < latest and staleness from the
    commit of version seen + 1; with one, stale when a version in (seen, latest] wrote the read's key, and
    staleness from the first such commit."""
    stale = seen < latest
    staleness = np.zeros(len(seen))
    if not stale.any():
        return stale, staleness
    if index is None:
        staleness[stale] = start[stale] - commit_time[seen[stale] + 1]
        return stale, staleness
    rows = np.flatnonzero(stale)
    first = index.first_write(key[rows], seen[rows], latest[rows])
    hit = first > 0
    stale = np.zeros(len(seen), dtype=bool)
    stale[rows[hit]] = True
    staleness[rows[hit]] = start[rows[hit]] - commit_time[first[hit]]
    return stale, staleness
