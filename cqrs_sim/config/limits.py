"""The message for a size past one of ``limits:``: every limit's error says how to raise it."""

from __future__ import annotations

from .scenario import Limits


def count_text(value: float) -> str:
    """An expected count as messages show it: 1,234,567, or 3.2e+13 when too long to read."""
    return f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"


def over_limit(limit: str, value: float, what: str, limits: "Limits") -> str | None:
    """The message for a size past ``limits.<limit>``, or None; every limit's error says how to raise it."""
    allowed = getattr(limits, limit)
    if value <= allowed:
        return None
    return f"{what.replace('{n}', count_text(value))}, which exceeds limits.{limit} ({allowed:,}); raise it with --set limits.{limit}=N"
