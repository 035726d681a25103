"""Session guarantees (Terry et al. 1994) as the metrics count them: monotonic reads and read-your-writes.

Both are per object, as Jepsen and probabilistically bounded staleness
state them. The version of key k that a read returns is the newest write
to k its server holds: the last version ≤ the version it saw that wrote k
(0 if none did). Without workload.keys every write writes the one shared
item, so that is the version seen itself.

* **Monotonic reads**: a read violates them when it returns, for the key it
  reads, an older version than the newest version of that key the same
  client has already read. Reads are taken in the order their clients got
  the answers; a read that failed showed nothing and is skipped. Versions
  10, 5, 7 of one key are two violations (5 and 7 are both older than 10),
  and a read of key B after one of key A is compared only with the client's
  earlier reads of B.
* **Read-your-writes**: a writer's read-back of its key must reflect the
  writer's own last write to that key committed by the time the read-back
  is sent (with workload.reads.clients a writer is a client, whose later
  writes count too; without, each write is its own writer).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .keys import KeyIndex

#: codes of (client, key) pairs: client × KEY_SPAN + key (keys below 2^38, clients below 2^24: limits.max_clients)
KEY_SPAN = np.int64(1 << 38)


def key_versions(index: Optional[KeyIndex], key: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per read, the version of its key it returned: the last write to ``key`` at or before ``seen``
    (without an index, no keys: ``seen`` itself)."""
    if index is None:
        return np.asarray(seen, dtype=np.int64)
    return index.last_write(np.asarray(key, dtype=np.int64), np.asarray(seen, dtype=np.int64))


class Sessions:
    """Monotonic reads per client and key, over reads taken in the order their clients got the answers.

    Holds, for each (client, key) pair read so far, the newest version of the
    key the client has read: one entry per pair, so memory grows with the
    pairs read, not with the reads.
    """

    def __init__(self) -> None:
        self.pairs = np.zeros(0, np.int64)  #: sorted (client, key) codes read so far
        self.newest = np.zeros(0, np.int64)  #: per pair, the newest version of the key the client has read

    def violations(self, client: np.ndarray, seen: np.ndarray, key: np.ndarray, answered: np.ndarray,
                   index: Optional[KeyIndex]) -> np.ndarray:
        """Per read (in answer order, continuing from the previous call), whether it violates monotonic reads.
        ``answered``: the reads that showed the client something (the others are skipped)."""
        out = np.zeros(len(client), dtype=bool)
        rows = np.flatnonzero(answered)
        if not len(rows):
            return out
        version = key_versions(index, key[rows], seen[rows])
        code = np.asarray(client[rows], dtype=np.int64) * KEY_SPAN + np.asarray(key[rows], dtype=np.int64)
        order = np.argsort(code, kind="stable")  # by pair, in answer order within each pair
        code, version = code[order], version[order]
        first = np.ones(len(code), dtype=bool)
        first[1:] = code[1:] != code[:-1]
        group = np.cumsum(first) - 1
        prior = self._newest(code[first])
        # running maximum within each pair: offset each pair's versions above every earlier pair's
        offset = group.astype(np.int64) * (np.int64(1) << np.int64(41))
        running = np.maximum.accumulate(np.maximum(version, prior[group]) + offset) - offset
        before = np.empty(len(code), dtype=np.int64)
        before[1:] = running[:-1]
        before[first] = prior
        out[rows[order]] = version < before
        last = np.ones(len(code), dtype=bool)
        last[:-1] = first[1:]
        self._remember(code[last], running[last])
        return out

    def _newest(self, pairs: np.ndarray) -> np.ndarray:
        """The newest version each pair has shown so far (-1: never read)."""
        if not len(self.pairs):
            return np.full(len(pairs), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.pairs, pairs), len(self.pairs) - 1)
        return np.where(self.pairs[at] == pairs, self.newest[at], -1)

    def _remember(self, pairs: np.ndarray, newest: np.ndarray) -> None:
        """Record the pairs' newest versions (``pairs`` sorted and distinct; each value already includes what
        the state held): pairs known are updated in place, new ones inserted in order."""
        at = np.searchsorted(self.pairs, pairs)
        known = at < len(self.pairs)
        known[known] = self.pairs[at[known]] == pairs[known]
        self.newest[at[known]] = newest[known]
        fresh = ~known
        self.pairs = np.insert(self.pairs, at[fresh], pairs[fresh])
        self.newest = np.insert(self.newest, at[fresh], newest[fresh])


def own_last_writes(write_keys: np.ndarray, write_version: np.ndarray, write_client: np.ndarray,
                    key: np.ndarray, client: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Per read-back: the newest version at or before ``upto`` that ``client`` committed and that wrote ``key``
    (0 if none). ``write_keys[j]``, ``write_version[j]`` (0: not committed) and ``write_client[j]``: per write."""
    write_keys = np.asarray(write_keys, dtype=np.int64)
    per_write = write_keys.shape[1] if write_keys.ndim == 2 else 1
    version = np.asarray(write_version, dtype=np.int64)
    done = version > 0
    written = np.repeat(np.asarray(write_client, dtype=np.int64)[done], per_write) * KEY_SPAN + write_keys[done].reshape(-1)
    wanted = np.asarray(client, dtype=np.int64) * KEY_SPAN + np.asarray(key, dtype=np.int64)
    # number the (client, key) pairs densely, so a pair and a version make one sortable code
    pairs, dense = np.unique(np.concatenate([written, wanted]), return_inverse=True)
    stride = np.int64(max(int(version.max(initial=0)), int(np.max(upto, initial=0))) + 1)
    codes = np.sort(dense[: len(written)] * stride + np.repeat(version[done], per_write))
    asked = dense[len(written):]
    if not len(codes) or not len(asked):
        return np.zeros(len(asked), dtype=np.int64)
    i = np.searchsorted(codes, asked * stride + np.asarray(upto, dtype=np.int64), side="right") - 1
    code = codes[np.maximum(i, 0)]
    hit = (i >= 0) & (code // stride == asked)
    return np.where(hit, code % stride, 0)
