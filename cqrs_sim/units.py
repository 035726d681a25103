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


def _parse(value: object, pattern: re.Pattern[str], kind: str, example: str, combine) -> float:
    number = _number(value)
    if number is None:
        if not isinstance(value, str):
            raise ValueError(f"expected a {kind} such as {example}, got {value!r}")
        match = pattern.match(value)
        if not match:
            raise ValueError(f"cannot read {kind} {value!r}: write it like {example}")
        unit = match.group(2) or "s"
        if unit not in DURATION_UNITS:
            raise ValueError(f"unknown time unit {unit!r} in {value!r}: use one of {', '.join(DURATION_UNITS)}")
        number = combine(float(match.group(1)), DURATION_UNITS[unit])
    if not math.isfinite(number):
        raise ValueError(f"{kind} must be finite, got {value!r}")
    if number < 0:
        raise ValueError(f"{kind} must not be negative, got {value!r}")
    return number


def parse_duration(value: object) -> float:
    """Seconds from a number (already seconds) or a string with a unit."""
    return _parse(value, _DURATION_RE, "duration", "250ms, 30s, 15m, 2h", lambda x, unit: x * unit)


def parse_rate(value: object) -> float:
    """Events per second from a number (already per second) or ``N/unit``."""
    return _parse(value, _RATE_RE, "rate", "800/s, 5/m, 2/h", lambda x, unit: x / unit)


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


def duration_unit(seconds: float) -> str:
    """The unit ``format_duration`` writes a duration of this size in (a key of DURATION_UNITS).

    Give it an axis' largest value, then write every tick with ``format_in_unit``: one unit per axis.
    """
    magnitude = abs(seconds)
    if magnitude != magnitude or magnitude == 0:
        return "s"
    for unit, below in (("us", 1e-3), ("ms", 1.0), ("s", 120.0), ("m", 7200.0)):
        if magnitude < below:
            return unit
    return "h"


def format_in_unit(seconds: float, unit: str, digits: int = 4) -> str:
    """A duration written in a given unit, e.g. ``format_in_unit(0.25, "ms") == "250ms"``."""
    if seconds != seconds:  # NaN
        return "-"
    return f"{seconds / DURATION_UNITS[unit]:.{digits}g}{unit}"


def format_percent(fraction: float, digits: int = 3) -> str:
    """A fraction as a percentage with ``digits`` significant digits: ``0.125`` -> ``12.5%``."""
    if fraction != fraction:  # NaN
        return "-"
    return f"{fraction * 100:.{digits}g}%"


def format_rate(per_second: float, digits: int = 4) -> str:
    """A rate per second: ``250.0`` -> ``250/s``."""
    if per_second != per_second:  # NaN
        return "-"
    return f"{per_second:.{digits}g}/s"
