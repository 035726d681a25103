"""The kind of every scenario value by its dotted path, read from the schema: which are durations, rates,
rate steps or distributions; and resolved scenario data written back with units.
"""

from __future__ import annotations

from typing import Annotated, get_args, get_origin

from pydantic import BaseModel

from .distbase import _Dist
from .format import _plain, format_duration, format_kind, format_rate
from .scenario import Scenario
from .units import parse_duration, parse_rate, parse_signed_duration


def _annotation_kind(annotation, metadata=()) -> str | None:
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
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _annotation_models(arg)]


_PATH_KINDS: dict[str, str] = {}


def _path_kinds() -> dict[str, str]:
    """Dotted scenario path -> kind of its value, from the schema (durations, rates, rate steps, distributions)."""
    if not _PATH_KINDS:
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
