"""The one hash the model uses where it needs a well-spread, machine-independent 64-bit value: splitmix64's finaliser.

Sticky routing orders servers by it (rendezvous hashing), and the recorder picks the reads it keeps in
``summary`` mode by it, so that every architecture keeps the same reads.
"""

from __future__ import annotations

import numpy as np


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash, identical on every machine."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
