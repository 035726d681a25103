"""Numbers as users read them: every number shown (tables, plots, report, sweeps, notebooks) goes through here.

One rule per kind of value (a duration in its unit, a rate per second,
minute or hour, a fraction as a percentage, a count, instance time, a price);
``exact`` writes a value that was set rather than measured so that it reads
back as the same number.
"""

from __future__ import annotations

import math

from ..core.intervals import finite_or_none
from .units import DISPLAY_UNITS, DURATION_UNITS, parse_duration, parse_rate


#: the kinds of value, and what a kind is written as
KINDS = ("duration", "rate", "fraction", "count", "instance_time", "price_per_hour", "number")


#: duration units for display, largest first: (seconds per unit, suffix, shown from this many seconds up)
_DURATION_SCALES = tuple((DURATION_UNITS[unit], unit, start)
                         for unit, start in (("h", 3600.0), ("min", 120.0), ("s", 1.0), ("ms", 1e-3), ("us", 0.0)))


#: rate units for display, largest first: (per second per unit, suffix)
_RATE_SCALES = ((1.0, "/s"), (1 / 60, "/min"), (1 / 3600, "/h"))


def _missing(value) -> bool:
    return finite_or_none(value) is None


def _digits(x: float) -> str:
    """Three significant digits, thousands separated (2,660 not 2.66e+03)."""
    return f"{x:,.0f}" if abs(x) >= 999.5 else f"{x:.3g}"


def _half(x: float) -> str:
    """Two significant digits, for the half-width of an interval."""
    return f"{x:,.0f}" if abs(x) >= 99.5 else f"{x:.2g}"


def _duration_scale(seconds: float, exact: bool = False) -> tuple[float, str]:
    magnitude = abs(seconds)
    for i, (factor, suffix, start) in enumerate(_DURATION_SCALES):
        if magnitude >= start:
            if exact:  # a larger unit that states the value as a whole number: 3600 s -> 1h, not 60min
                for bigger, big_suffix, _ in _DURATION_SCALES[:i]:
                    if magnitude >= bigger and _whole(seconds / bigger):
                        return bigger, big_suffix
            return factor, suffix
    return 1.0, "s"


def _shown_duration_scale(seconds: float) -> tuple[float, str]:
    """The unit of a duration shown to three digits, chosen on the rounded value (0.9996 s is 1s, not 1,000ms)."""
    return _duration_scale(float(f"{seconds:.3g}"))


def _rate_scale(per_second: float) -> tuple[float, str]:
    if per_second == 0:
        return 1.0, "/s"
    for factor, suffix in _RATE_SCALES:
        if abs(per_second) / factor >= 1:
            return factor, suffix
    return _RATE_SCALES[-1]


def _whole(x: float) -> bool:
    return abs(x - round(x)) <= 1e-9 * max(1.0, abs(x))


def _exact_number(x: float) -> str:
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.0f}"


def _shortest(value: float) -> str:
    """The shortest text that reads back as exactly this float (``100000``, ``0.1``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _reads_back(parse, text: str, value: float) -> bool:
    """The text parses back to the value, but for the last bits of a unit's multiplication (4.2ms = 0.0042000000000000001)."""
    try:
        return math.isclose(parse(text.replace(",", "")), value, rel_tol=1e-12)
    except ValueError:
        return False


def format_duration(seconds: float, exact: bool = False) -> str:
    """``250ms``, ``112s``, ``2.07min``, ``3h``: three significant digits; ``exact``: up to six, for set values."""
    if _missing(seconds):
        return "-"
    if seconds == 0:
        return "0s"
    factor, suffix = _duration_scale(seconds, exact) if exact else _shown_duration_scale(seconds)
    text = f"{(_exact_number if exact else _digits)(seconds / factor)}{suffix}"
    if exact and not _reads_back(parse_duration, text, seconds):  # six digits lose it: all of it, in seconds
        return f"{_shortest(seconds)}s"
    return text


def format_rate(per_second: float, exact: bool = False) -> str:
    """``2,660/s``, ``30/min``, ``4/h``: the largest unit giving at least one event."""
    if _missing(per_second):
        return "-"
    factor, suffix = _rate_scale(per_second)
    text = f"{(_exact_number if exact else _digits)(per_second / factor)}{suffix}"
    if exact and not _reads_back(parse_rate, text, per_second):  # six digits lose it: all of it, per second
        return f"{_shortest(per_second)}/s"
    return text


def format_fraction(value: float) -> str:
    """``8.80%``, ``0.05%``, ``0%``."""
    if _missing(value):
        return "-"
    percent = 100 * value
    if percent == 0:
        return "0%"
    return f"{percent:.2f}%" if abs(percent) >= 0.1 else f"{percent:.2g}%"


def format_instance_time(seconds: float) -> str:
    """Instance-seconds as instance-hours: ``8.70 instance-h``."""
    if _missing(seconds):
        return "-"
    return f"{_hours(seconds / 3600)} instance-h"


def format_price_per_hour(value: float) -> str:
    """A price per hour, in the currency the prices were given in: ``4.10/h``, ``0.0125/h``, ``1,250/h``."""
    if _missing(value):
        return "-"
    return f"{_hours(value)}/h"


def _hours(hours: float) -> str:
    return f"{hours:,.0f}" if abs(hours) >= 100 else f"{hours:.2f}" if abs(hours) >= 1 else f"{hours:.3g}"


def format_count(value: float) -> str:
    if _missing(value):
        return "-"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def format_number(value: float) -> str:
    if _missing(value):
        return "-"
    return f"{value:.4g}"


_FORMATTERS = {"duration": format_duration, "rate": format_rate, "fraction": format_fraction, "count": format_count,
               "instance_time": format_instance_time, "price_per_hour": format_price_per_hour, "number": format_number}


def format_kind(kind: str | None, value, exact: bool = False) -> str:
    """One value of a known kind; None and NaN are ``-``; a value of no kind is shown as is."""
    if value is None or isinstance(value, float) and _missing(value):
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return str(value)
    kind = {"distribution": "duration", "rate_steps": "rate"}.get(kind or "", kind)  # a sweep's scalar reading
    if kind in ("duration", "rate"):
        return (format_duration if kind == "duration" else format_rate)(float(value), exact)
    if kind in _FORMATTERS:
        return _FORMATTERS[kind](float(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plain(text: str) -> str:
    """Without thousands separators, so that YAML reads the value back."""
    return text.replace(",", "")


def duration_unit(seconds: float) -> str:
    """The unit ``format_duration`` writes a duration of this size in (a key of DISPLAY_UNITS).

    Give it an axis' largest value, then write every tick with ``format_in_unit``: one unit per axis.
    """
    magnitude = abs(seconds)
    if magnitude != magnitude or magnitude == 0:
        return "s"
    for unit, below in (("us", 1e-3), ("ms", 1.0), ("s", 120.0), ("min", 3600.0)):
        if magnitude < below:
            return unit
    return "h"


def format_in_unit(seconds: float, unit: str, digits: int = 4) -> str:
    """A duration written in a given unit, e.g. ``format_in_unit(0.25, "ms") == "250ms"``."""
    if seconds != seconds:  # NaN
        return "-"
    return f"{seconds / DISPLAY_UNITS[unit]:.{digits}g}{unit}"


def format_percent(fraction: float, digits: int = 3) -> str:
    """A fraction as a percentage with ``digits`` significant digits: ``0.125`` -> ``12.5%``."""
    if fraction != fraction:  # NaN
        return "-"
    return f"{fraction * 100:.{digits}g}%"
