"""Durations and rates as users write them: ``250ms``, ``15m``, ``1h30m``, ``800/s``, ``2/h``.

Everything inside the simulator is in seconds (durations) and events per
second (rates); these parsers and the formatters below (one rule per kind of
value, for every table, plot and report) are the only place units exist. A
value that is not zero must lie within [1e-12, 1e9] (seconds, or events per
second): beyond that, float64 arithmetic on simulated times loses its meaning.
"""

from __future__ import annotations

import math
import re

from ..core.intervals import finite_or_none

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


# --- formatting: every number shown to a user (tables, plots, report, sweeps, notebooks) goes through here ---

#: the kinds of value, and what a kind is written as
KINDS = ("duration", "rate", "fraction", "count", "instance_time", "price_per_hour", "number")

#: duration units for display, largest first: (seconds per unit, suffix, shown from this many seconds up)
_DURATION_SCALES = ((3600.0, "h", 3600.0), (60.0, "min", 120.0), (1.0, "s", 1.0), (1e-3, "ms", 1e-3), (1e-6, "us", 0.0))
#: rate units for display, largest first: (per second per unit, suffix)
_RATE_SCALES = ((1.0, "/s"), (1 / 60, "/min"), (1 / 3600, "/h"))
#: metric units (cqrs_sim.analysis.metrics.METRICS) -> kind; instance time is told apart by name
_KIND_OF_UNIT = {"s": "duration", "1/s": "rate", "": "fraction", "reads": "count", "writes": "count", "/h": "price_per_hour"}
_INSTANCE_TIME = {"replica_seconds"}


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


def metric_kind(metric: str) -> str | None:
    """The kind of a summary metric (None for a name that is not one)."""
    from ..analysis.metrics import METRICS

    if metric in _INSTANCE_TIME:
        return "instance_time"
    if metric not in METRICS:
        return None
    return _KIND_OF_UNIT.get(METRICS[metric][0], "number")


def _annotation_kind(annotation, metadata=()) -> str | None:
    from typing import Annotated, get_args, get_origin

    for item in metadata:
        func = getattr(item, "func", None)
        if func is parse_duration or func is parse_signed_duration:
            return "duration"
        if func is parse_rate:
            return "rate"
        if getattr(func, "__name__", "") == "_rate_steps":
            return "rate_steps"
    if get_origin(annotation) is Annotated:
        return _annotation_kind(get_args(annotation)[0], annotation.__metadata__)
    for arg in get_args(annotation):
        kind = _annotation_kind(arg)
        if kind is not None:
            return kind
    return None


def _annotation_models(annotation) -> list:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _annotation_models(arg)]


_PATH_KINDS: dict[str, str] = {}


def _path_kinds() -> dict[str, str]:
    """Dotted scenario path -> kind of its value, from the schema (durations, rates, rate steps, distributions)."""
    if not _PATH_KINDS:
        from .distributions import _Dist
        from .scenario import Scenario

        def walk(model, prefix: str) -> None:
            for name, field in model.model_fields.items():
                path = prefix + (field.alias or name)
                models = _annotation_models(field.annotation)
                kind = _annotation_kind(field.annotation, field.metadata)
                if models and all(issubclass(m, _Dist) for m in models):
                    kind = "distribution"
                if kind is not None:
                    _PATH_KINDS.setdefault(path, kind)
                for sub in models:
                    walk(sub, path + ".")

        walk(Scenario, "")
    return _PATH_KINDS


def path_kind(path: str) -> str | None:
    """The kind of a scenario value by its dotted path (``cqrs.sync.replace_time`` -> duration); None: a plain value."""
    kind = _path_kinds().get(path)
    if kind is None and "." in path:
        parent, _, last = path.rpartition(".")
        if last.isdigit():  # an element of a list of durations (writes.at.0)
            kind = _path_kinds().get(parent)
    return kind


def kind_of(name: str) -> str | None:
    """The kind of a metric (by name) or of a scenario value (by dotted path)."""
    return metric_kind(name) or path_kind(name)


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


def format_value(name: str, value, exact: bool | None = None) -> str:
    """A metric's value (``read_latency_p99`` -> ``21ms``) or a scenario value (``cqrs.sync.replace_time`` -> ``2s``).

    A scenario value is written exactly (it was set, not measured) unless ``exact`` is False.
    """
    return format_kind(kind_of(name), value, exact=metric_kind(name) is None if exact is None else exact)


def format_interval(name: str, mean, low, high) -> str:
    """``mean ± half-width`` of a 95% interval (a rate's half-width in the mean's unit); the mean alone without one."""
    mean, low, high = finite_or_none(mean), finite_or_none(low), finite_or_none(high)
    text = format_value(name, mean, exact=False)
    if mean is None or low is None or high is None:
        return text
    half = (high - low) / 2
    if half <= 1e-9 * max(abs(mean), 1e-12):  # identical replications (or float noise around them)
        return text
    kind = kind_of(name)
    # a half-width written in the mean's unit but far below its last digit (2.50 ± 3.4e-05): as good as identical
    if kind not in ("duration", "distribution") and half < 0.05 * _shown_step(kind, mean, text):
        return text
    if kind in ("duration", "distribution"):  # the half-width in its own unit: 3.5min ± 150ms
        factor, suffix = _duration_scale(half)
    elif kind in ("rate", "rate_steps"):  # in the mean's unit: 2,660/s ± 74/s
        factor, suffix = _rate_scale(mean)
    elif kind == "instance_time":
        return f"{_hours(mean / 3600)} ± {_half(half / 3600)} instance-h"
    elif kind == "price_per_hour":
        return f"{_hours(mean)} ± {_half(half)}/h"
    elif kind == "fraction":
        factor, suffix = 0.01, "%"
    else:
        factor, suffix = 1.0, ""
    return f"{text} ± {_half(half / factor)}{suffix}"


_NUMBER = re.compile(r"[\d,]*\.?\d+(?:e[-+]?\d+)?")


def _shown_step(kind: str | None, mean: float, text: str) -> float:
    """One unit of the last digit of a mean as ``text`` shows it, in the metric's own unit (not for durations,
    whose half-width is written in a unit of its own)."""
    found = _NUMBER.search(text)
    if found is None:
        return 0.0
    number, _, exponent = found.group().replace(",", "").partition("e")
    step = 10.0 ** (int(exponent or 0) - len(number.partition(".")[2]))
    if kind in ("rate", "rate_steps"):
        return step * _rate_scale(mean)[0]
    if kind == "instance_time":
        return step * 3600
    if kind == "fraction":
        return step * 0.01
    return step


def with_units(data, prefix: str = ""):
    """A copy of resolved scenario data (as for YAML) with every duration and rate written with its unit."""
    if isinstance(data, dict):
        kind = path_kind(prefix.rstrip(".")) if prefix else None
        if kind == "distribution":
            return _distribution_with_units(data)
        return {key: with_units(value, f"{prefix}{key}.") for key, value in data.items()}
    path = prefix.rstrip(".")
    kind = path_kind(path)
    if kind == "rate_steps" and isinstance(data, list):
        return [[_plain(format_duration(start, exact=True)), _plain(format_rate(rate, exact=True))] for start, rate in data]
    if isinstance(data, list):
        return [with_units(value, f"{prefix}{i}.") for i, value in enumerate(data)]
    if kind in ("duration", "rate") and isinstance(data, (int, float)) and not isinstance(data, bool):
        return _plain(format_kind(kind, data, exact=True))
    return data


#: keys of a distribution mapping that hold plain numbers, not durations
_UNITLESS_KEYS = ("cv", "shape", "weight")


def _distribution_with_units(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if key == "samples" and isinstance(value, list):
            value = [_plain(format_duration(v, exact=True)) for v in value]
        elif key == "components" and isinstance(value, list):
            value = [_distribution_with_units(v) if isinstance(v, dict) else v for v in value]
        elif key not in _UNITLESS_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = _plain(format_duration(value, exact=True))
        out[key] = value
    return out


def _plain(text: str) -> str:
    """Without thousands separators, so that YAML reads the value back."""
    return text.replace(",", "")


#: the units durations are displayed in (parsing also accepts "m" and "d")
DISPLAY_UNITS: dict[str, float] = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}


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
