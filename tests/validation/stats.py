"""Confidence intervals for validation tests: the tolerance is the replications' own spread."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def t_interval(values, level: float = 0.99) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval across replications."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def per_replication(results, arch: str, metric: str) -> np.ndarray:
    frame = results.per_replication
    return frame[frame.architecture == arch].sort_values("replication")[metric].to_numpy()
