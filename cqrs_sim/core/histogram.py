"""Log-linear (HDR-style) histograms: streaming percentiles with a bounded relative error in fixed memory.

Each power of two [2^e, 2^(e+1)) is split into ``sub`` equal buckets, as
in HdrHistogram: a value's bucket comes from its binary exponent and the
top bits of its mantissa (``numpy.frexp``, exact, with no logarithm to
round). A bucket's midpoint is within 1 / (2 · sub) of any value in it:
``SUMMARY`` (sub = 512) keeps the summary's percentiles within 0.1%,
``TIMESERIES`` (sub = 64) the per-bin percentiles within 0.8%. Bucket 0
holds values below ``LOW`` (exact zeros, such as the staleness of a fresh
read); values from ``HIGH`` on land in the last bucket. Counts are plain
numpy arrays (one row per histogram), so many histograms (one per
timeseries bin) are one 2-D array, and memory does not grow with the reads.
"""

from __future__ import annotations

import math

import numpy as np

LOW = 2.0 ** -30  #: seconds (about 1 ns); smaller values count as zero
HIGH = 2.0 ** 24  #: seconds (about 194 days); larger values land in the last bucket
_E_LOW = math.frexp(LOW)[1]  #: frexp exponents: v = m · 2^e with m in [0.5, 1)
_E_HIGH = math.frexp(HIGH)[1]
_TOP = math.nextafter(HIGH, 0.0)  #: the largest value below HIGH: larger ones are counted as it


class LogLinear:
    """One bucketing scheme: ``sub`` linear buckets per power of two, from ``LOW`` to ``HIGH``."""

    def __init__(self, sub: int):
        self.sub = sub
        self.buckets = (_E_HIGH - _E_LOW) * sub + 1  #: bucket 0 (zero) and ``sub`` per octave
        octave = np.repeat(np.arange(_E_LOW, _E_HIGH), sub)
        step = np.tile(np.arange(sub), _E_HIGH - _E_LOW)
        #: representative value of each bucket: its midpoint (0 for the zero bucket)
        self.midpoints = np.concatenate([[0.0], np.ldexp(0.5 + (step + 0.5) / (2 * sub), octave)])

    @property
    def relative_error(self) -> float:
        """The largest relative distance from a value (at least LOW) to its bucket's midpoint."""
        return 1 / (2 * self.sub)

    def bucket(self, values: np.ndarray) -> np.ndarray:
        """Bucket index of each value."""
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            mantissa, exponent = np.frexp(np.minimum(values, _TOP))
            step = np.floor((2 * mantissa - 1) * self.sub).astype(np.int64)
        k = 1 + (exponent.astype(np.int64) - _E_LOW) * self.sub + step
        k[~(values >= LOW)] = 0
        return k

    def counts(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.bucket(values), minlength=self.buckets)

    def quantiles(self, hist: np.ndarray, q: float, low: float | np.ndarray = 0.0,
                  high: float | np.ndarray = math.inf) -> np.ndarray:
        """The q-quantile (0..1) of each histogram row, as numpy's default (linear) percentile: rank
        h = q·(n−1) between the order statistics ⌊h⌋ and ⌊h⌋ + 1, each the midpoint of its bucket clipped to
        the exact [low, high] seen, and the first and last exactly low and high. NaN for an empty row."""
        hist = np.atleast_2d(hist)
        n = hist.sum(axis=1)
        h = q * np.maximum(n - 1, 0)
        below = np.floor(h).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(n - 1, 0))
        cumulative = np.cumsum(hist, axis=1)
        last = np.maximum(n - 1, 0)

        def order_statistic(rank: np.ndarray) -> np.ndarray:
            value = np.clip(self.midpoints[np.argmax(cumulative > rank[:, None], axis=1)], low, high)
            return np.where(rank == 0, low, np.where(rank == last, high, value))  # the extremes are exact

        lower, upper = order_statistic(below), order_statistic(above)
        with np.errstate(invalid="ignore"):  # an empty row's bounds are infinite: its value is NaN below
            value = lower + (h - below) * (upper - lower)
        return np.where(n > 0, value, np.nan)


SUMMARY = LogLinear(512)  #: the summary's percentiles: within 0.1%
TIMESERIES = LogLinear(64)  #: the per-bin percentiles of the timeseries: within 0.8%
