"""The time bins of a run: one rule for the timeseries, the recorder and a trace's derived read rate."""

from __future__ import annotations

import math

import numpy as np

#: a last bin shorter than this share of a bin is merged into the one before it (it is float rounding, not a bin)
_SLIVER = 1e-9


def bin_edges(duration: float, width: float) -> np.ndarray:
    """Edges 0, width, 2 width, ... and ``duration``, increasing: every bin is ``width`` long but the last, which
    ends at ``duration`` and is never empty nor a sliver left by rounding (``np.arange`` gives both, for some
    durations: 2.33674 s in bins of duration / 200 has a 201st edge at 2.33674 s, a bin of width 0)."""
    count = max(1, math.ceil(duration / width * (1 - _SLIVER)))
    return np.append(np.arange(count, dtype=float) * width, duration)
