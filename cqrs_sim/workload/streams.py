"""Named random streams: one generator per (seed, replication, stream name).

A new draw in one stream never shifts another, which is what lets both
architectures see the same workload (common random numbers) and lets the
model grow without changing the numbers of unrelated parts.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (the same on every machine)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for one named stream of one replication."""
    sequence = np.random.SeedSequence([seed, replication, stream_key(name)])
    return np.random.Generator(np.random.PCG64(sequence))
