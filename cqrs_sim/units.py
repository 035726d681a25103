"""Durations and rates as users write them: ``250ms``, ``15m``, ``800/s``, ``2/h``.

Everything inside the simulator is in seconds (durations) and events per
second (rates); these parsers are the only place units exist.
"""

from __future__ import annotations

import math
import re

#: seconds per duration unit
DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]+)?\s*$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*([a-z]+))?\s*$")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def parse_duration(value: object) -> float:
    """Seconds from a number (already seconds) or a string with a unit."""
    number = _number(value)
    if number is None:
        if not isinstance(value, str):
            raise ValueError(f"expected a duration such as 250ms, 30s, 15m, 2h, got {value!r}")
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"cannot read duration {value!r}: write a number and a unit, such as 250ms, 30s, 15m, 2h")
        unit = match.group(2) or "s"
        if unit not in DURATION_UNITS:
            raise ValueError(f"unknown time unit {unit!r} in {value!r}: use one of {', '.join(DURATION_UNITS)}")
        number = float(match.group(1)) * DURATION_UNITS[unit]
    if not math.isfinite(number):
        raise ValueError(f"duration must be finite, got {value!r}")
    if number < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return number


def parse_rate(value: object) -> float:
    """Events per second from a number (already per second) or ``N/unit``."""
    number = _number(value)
    if number is None:
        if not isinstance(value, str):
            raise ValueError(f"expected a rate such as 800/s, 5/m, 2/h, got {value!r}")
        match = _RATE_RE.match(value)
        if not match:
            raise ValueError(f"cannot read rate {value!r}: write a count per unit, such as 800/s, 5/m, 2/h")
        unit = match.group(2) or "s"
        if unit not in DURATION_UNITS:
            raise ValueError(f"unknown time unit {unit!r} in {value!r}: use one of {', '.join(DURATION_UNITS)}")
        number = float(match.group(1)) / DURATION_UNITS[unit]
    if not math.isfinite(number):
        raise ValueError(f"rate must be finite, got {value!r}")
    if number < 0:
        raise ValueError(f"rate must not be negative, got {value!r}")
    return number


def format_duration(seconds: float) -> str:
    """A short human reading of a duration, for tables and warnings."""
    if seconds != seconds:  # NaN
        return "-"
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0s"
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.3g}us"
    if magnitude < 1:
        return f"{seconds * 1e3:.3g}ms"
    if magnitude < 120:
        return f"{seconds:.3g}s"
    if magnitude < 7200:
        return f"{seconds / 60:.3g}m"
    return f"{seconds / 3600:.3g}h"
