"""Reading summary numbers and intervals: a missing value (NaN -> None), whether an interval holds a value, and when a difference counts.

A difference cqrs − crud counts (is *significant*) only when its paired 95%
interval excludes zero and it reaches a threshold: a share of the larger of
the two values, or an amount. The verdict passes each metric's own, from
the scenario's ``verdict.min_difference`` by the metric's kind (see
:func:`cqrs_sim.analysis.verdict.threshold_for`); without one, 1% of the larger
value.
"""

from __future__ import annotations

import math
from typing import Any

#: without a threshold of its own, a difference smaller than this share of the larger value is practically the same
RELEVANT = 0.01


def json_value(value: Any) -> Any:
    """A value as JSON holds it: numpy scalars as Python numbers, NaN and infinities as null (JSON has no NaN)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finite_or_none(value: Any) -> float | None:
    """The value as a float, or None when it is missing, NaN or infinite."""
    value = json_value(value)
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def contains(low: Any, high: Any, value: float) -> bool:
    """Whether [low, high] holds value (False without an interval)."""
    low, high = finite_or_none(low), finite_or_none(high)
    return low is not None and high is not None and low <= value <= high


def compare(crud: Any, cqrs: Any, mean: Any, low: Any, high: Any,
            threshold: tuple[float, float] = (RELEVANT, 0.0)) -> str:
    """How cqrs − crud reads: 'unknown' (no interval), 'same' (identical), 'unclear' (the interval holds 0),
    'negligible' (under the ``threshold``: (share of the larger value, amount), the larger of the two) or
    'significant'."""
    crud, cqrs, mean = finite_or_none(crud), finite_or_none(cqrs), finite_or_none(mean)
    low, high = finite_or_none(low), finite_or_none(high)
    if crud is None or cqrs is None or mean is None or low is None or high is None:
        return "unknown"
    if max(abs(mean), abs(low), abs(high)) <= 1e-12:
        return "same"
    if low <= 0 <= high:
        return "unclear"
    share, amount = threshold
    if abs(mean) < max(share * max(abs(crud), abs(cqrs)), amount):
        return "negligible"
    return "significant"


def significant(crud: Any, cqrs: Any, mean: Any, low: Any, high: Any,
                threshold: tuple[float, float] = (RELEVANT, 0.0)) -> bool:
    """Whether the paired difference counts (see :func:`compare`)."""
    return compare(crud, cqrs, mean, low, high, threshold) == "significant"
