"""Log-bucketed histograms: streaming quantiles within 1% relative error in fixed memory.

Bucket 0 holds values below ``LOW`` (exact zeros, such as the staleness of a
fresh read); bucket k ≥ 1 holds [LOW·γ^(k−1), LOW·γ^k) with γ = 1.02, so the
geometric midpoint of a bucket is within √γ − 1 < 1% of any value in it.
Counts are plain numpy arrays (one row per histogram), so many histograms
(one per timeseries bin) are one 2-D array.
"""

from __future__ import annotations

import math

import numpy as np

GAMMA = 1.02
LOW = 1e-9  #: seconds; smaller values count as zero
HIGH = 1e7  #: seconds; larger values land in the last bucket
BUCKETS = int(math.ceil(math.log(HIGH / LOW) / math.log(GAMMA))) + 1
_LOG_GAMMA = math.log(GAMMA)
#: representative value of each bucket (0 for the zero bucket)
MIDPOINTS = np.concatenate([[0.0], LOW * GAMMA ** (np.arange(1, BUCKETS) - 0.5)])


def bucket(values: np.ndarray) -> np.ndarray:
    """Bucket index of each value."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log(values / LOW) / _LOG_GAMMA).astype(np.int64) + 1
    k[~(values >= LOW)] = 0
    return np.minimum(k, BUCKETS - 1)


def counts(values: np.ndarray) -> np.ndarray:
    return np.bincount(bucket(values), minlength=BUCKETS)


def quantiles(hist: np.ndarray, q: float, low: float | np.ndarray = 0.0, high: float | np.ndarray = math.inf) -> np.ndarray:
    """The q-quantile (0..1) of each histogram row, as numpy's 'lower' rank q·(n−1).

    The bucket's midpoint is clipped to the exact [low, high] seen, which
    makes the extremes exact. NaN for an empty row.
    """
    hist = np.atleast_2d(hist)
    n = hist.sum(axis=1)
    rank = np.floor(q * (n - 1)).astype(np.int64)
    cumulative = np.cumsum(hist, axis=1)
    k = np.argmax(cumulative > rank[:, None], axis=1)
    value = np.clip(MIDPOINTS[k], low, high)
    return np.where(n > 0, value, np.nan)
