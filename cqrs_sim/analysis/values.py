"""A value by its name: a summary metric (``read_latency_p99`` -> ``21ms``) or a scenario path
(``cqrs.sync.replace_time`` -> ``2s``), written by the rule of its kind, alone or with its 95% interval.

The kind of a metric comes from its unit in :data:`cqrs_sim.analysis.definitions.METRICS`; the kind of a
scenario value from the schema (:func:`cqrs_sim.config.paths.path_kind`).
"""

from __future__ import annotations

import re

from ..core.intervals import finite_or_none
from ..config.format import _duration_scale, _half, _hours, _rate_scale, format_kind
from ..config.paths import path_kind
from .definitions import METRICS


#: metric units (METRICS) -> kind; instance time is told apart by name
_KIND_OF_UNIT = {"s": "duration", "1/s": "rate", "": "fraction", "reads": "count", "writes": "count", "/h": "price_per_hour"}


_INSTANCE_TIME = {"replica_seconds"}


def metric_kind(metric: str) -> str | None:
    """The kind of a summary metric (None for a name that is not one)."""
    if metric in _INSTANCE_TIME:
        return "instance_time"
    if metric not in METRICS:
        return None
    return _KIND_OF_UNIT.get(METRICS[metric][0], "number")


def kind_of(name: str) -> str | None:
    """The kind of a metric (by name) or of a scenario value (by dotted path)."""
    return metric_kind(name) or path_kind(name)


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


_SHOWN_NUMBER = re.compile(r"[\d,]*\.?\d+(?:e[-+]?\d+)?")


def _shown_step(kind: str | None, mean: float, text: str) -> float:
    """One unit of the last digit of a mean as ``text`` shows it, in the metric's own unit (not for durations,
    whose half-width is written in a unit of its own)."""
    found = _SHOWN_NUMBER.search(text)
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
