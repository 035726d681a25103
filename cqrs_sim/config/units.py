"""Durations and rates as users write them: ``250ms``, ``15m``, ``1h30m``, ``800/s``, ``2/h``.

Everything inside the simulator is in seconds (durations) and events per
second (rates); the unit tables here, with these parsers and the formatters
of :mod:`.format` (one rule per kind of value, for every table, plot and
report), are the only place units exist. A
value that is not zero must lie within [1e-12, 1e9] (seconds, or events per
second): beyond that, float64 arithmetic on simulated times loses its meaning.
"""

from __future__ import annotations

import math
import re
from typing import Literal


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

#: the smallest and largest magnitude a non-zero duration (seconds) or rate (per second) may have
SMALLEST = 1e-12
LARGEST = 1e9

_UNSIGNED = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = rf"[+-]?{_UNSIGNED}"
_PART_RE = re.compile(rf"({_UNSIGNED})\s*([a-z]+)")
_DURATION_RE = re.compile(rf"^\s*([+-]?)\s*({_UNSIGNED}|(?:{_UNSIGNED}\s*[a-z]+\s*)+)\s*$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*([a-z]+))?\s*$")
_DURATION_EXAMPLE = "250ms, 30s, 15m, 2h, 1h30m"
_RATE_EXAMPLE = "800/s, 5/m, 2/h"


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float64
            return math.inf if value > 0 else -math.inf
    return None


def _unit(unit: str, value: str) -> float:
    if unit not in DURATION_UNITS:
        raise ValueError(f"unknown time unit {unit!r} in {value!r}: use one of {', '.join(DURATION_UNITS)}")
    return DURATION_UNITS[unit]


def _duration_text(value: str) -> float:
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(f"cannot read duration {value!r}: write it like {_DURATION_EXAMPLE}")
    sign = -1.0 if match.group(1) == "-" else 1.0
    body = match.group(2).strip()
    if re.fullmatch(_UNSIGNED, body):  # a bare number: seconds
        return sign * float(body)
    parts = _PART_RE.findall(body)
    total, previous = 0.0, math.inf
    for number, unit in parts:
        size = _unit(unit, value)
        if len(parts) > 1 and size >= previous:
            raise ValueError(f"cannot read duration {value!r}: give its parts largest unit first, each unit once, "
                             "such as 1h30m or 2m30s")
        previous = size
        total += float(number) * size
    return sign * total


def _rate_text(value: str) -> float:
    match = _RATE_RE.match(value)
    if not match:
        raise ValueError(f"cannot read rate {value!r}: write it like {_RATE_EXAMPLE}")
    return float(match.group(1)) / _unit(match.group(2) or "s", value)


def range_problem(number: float, value: object, kind: str = "duration", unit: str = "s", signed: bool = False) -> str | None:
    """What is wrong with ``number`` (read from ``value``) as a ``kind``, or None: the one range rule for every
    duration and rate, written inline or read from a data file."""
    if not math.isfinite(number):
        return f"{kind} must be finite, got {_short(value)}"
    if number < 0 and not signed:
        return f"{kind} must not be negative, got {value!r}"
    if number != 0 and abs(number) < SMALLEST:
        return f"{kind} {value!r} is too small: give 0 or at least {SMALLEST:g}{unit}"
    if abs(number) > LARGEST:
        years = " (about 31.7 years)" if unit == "s" else ""
        return f"{kind} {_short(value)} is too large: at most {LARGEST:g}{unit}{years}"
    return None


def out_of_range(numbers, signed: bool = False):
    """Where :func:`range_problem` finds a problem, elementwise: a boolean array for an array of numbers."""
    magnitude = abs(numbers)
    bad = (numbers != numbers) | (magnitude > LARGEST) | ((magnitude < SMALLEST) & (magnitude != 0))
    return bad if signed else bad | (numbers < 0)


def _checked(number: float, value: object, kind: str, unit: str, signed: bool) -> float:
    problem = range_problem(number, value, kind, unit, signed)
    if problem is not None:
        raise ValueError(problem)
    return number


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)} characters)"


def _parse(value: object, kind: str, example: str, from_text, unit: str, signed: bool = False) -> float:
    number = _number(value)
    if number is None:
        if not isinstance(value, str):
            raise ValueError(f"expected a {kind} such as {example}, got {value!r}")
        number = from_text(value)
    return _checked(number, value, kind, unit, signed)


def parse_duration(value: object) -> float:
    """Seconds from a number (already seconds) or a string with a unit, compound ones too (``1h30m``)."""
    return _parse(value, "duration", _DURATION_EXAMPLE, _duration_text, "s")


def parse_signed_duration(value: object) -> float:
    """Like :func:`parse_duration`, but a time offset that may be negative (``-6h``)."""
    return _parse(value, "duration", _DURATION_EXAMPLE, _duration_text, "s", signed=True)


def _plain_number_text(value: str) -> float:
    if not re.fullmatch(rf"\s*{_NUMBER}\s*", value):
        raise ValueError(f"expected a number, got {_short(value)}")
    return float(value)


def parse_amount(value: object, kind: str, unit: str) -> float:
    """A plain number that is not a time or a rate (a price, a size), under the same magnitude rule: 0, or from
    SMALLEST to LARGEST, never negative; ``unit`` is only shown in messages."""
    if isinstance(value, bool):  # YAML's true/false, refused as every plain number refuses it
        raise ValueError("expected a number, not true/false")
    return _parse(value, kind, "0.5", _plain_number_text, unit)


def parse_rate(value: object) -> float:
    """Events per second from a number (already per second) or ``N/unit``."""
    return _parse(value, "rate", _RATE_EXAMPLE, _rate_text, "/s")


#: the units durations are displayed in (parsing also accepts "m" and "d")
DISPLAY_UNITS: dict[str, float] = {unit: DURATION_UNITS[unit] for unit in ("us", "ms", "s", "min", "h")}

#: the units a data file's plain numbers may be given in (``unit:`` of a trace or an empirical distribution, ``--unit``)
DATA_UNITS = ("s", "ms", "us")
DataUnit = Literal["s", "ms", "us"]


