"""Designs side by side: one scenario simulated as several named designs, one row of numbers each.

A design is a name and the scenario overrides that make it (the same
``--set`` paths the command line takes), for one architecture:
"CRUD + 8 streaming replicas" is ``{"architectures": ["crud"],
"crud.replicas": 8}``. Every design of a table runs from the same scenario
and seed, so the designs share their arrivals and draws (common random
numbers) and differ only where their settings do. :func:`standard_designs`
gives the five an architect weighs; the case-study notebook and README's
table are :func:`side_by_side` over them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional
from ..analysis.values import format_interval
from .simulate import simulate
from ..config.loader import load_scenario
from ..config.format import format_duration
from ..config.units import parse_duration

if TYPE_CHECKING:
    import pandas as pd

    from ..config.scenario import Scenario

#: the numbers a side-by-side table shows by default
METRICS = ("read_latency_p99", "stale_read_fraction", "stale_version_fraction", "staleness_p99",
           "visibility_window_mean", "replica_availability", "replica_seconds", "cost_per_hour")


def standard_designs(scenario: "Scenario", read_your_writes: Optional[str | float] = None) -> dict[str, dict[str, Any]]:
    """CRUD alone, CRUD with streaming replicas, and CQRS refreshed by rolling snapshots, by blue-green (the whole
    green set built at once) and by projections — each otherwise as ``scenario`` sets it (replica counts: the
    scenario's CQRS swarm). With ``read_your_writes`` (a window, such as ``"2s"``; the scenario needs clients)
    also CRUD with streaming replicas whose clients read from the primary for that long after their own write."""
    count = scenario.cqrs.replicas.count
    plural = "s" if count != 1 else ""
    own: dict[str, dict[str, Any]] = {}
    if read_your_writes is not None:
        window = parse_duration(read_your_writes)
        own[f"CRUD + {count} streaming replica{plural}, own writes read from the primary for {format_duration(window)}"] = {
            "architectures": ["crud"], "crud.replicas": count, "crud.read_your_writes_window": window}
    return {
        "CRUD, one database": {"architectures": ["crud"], "crud.replicas": 0},
        f"CRUD + {count} streaming replica{plural}": {"architectures": ["crud"], "crud.replicas": count},
        **own,
        "CQRS, rolling snapshots": {"architectures": ["cqrs"], "cqrs.sync.strategy": "rolling"},
        "CQRS, blue-green snapshots": {"architectures": ["cqrs"], "cqrs.sync.strategy": "blue_green",
                                       "cqrs.sync.build_parallelism": count},
        "CQRS, projections": {"architectures": ["cqrs"], "cqrs.sync.strategy": "projection"},
    }


def side_by_side(path: str | Path, designs: Optional[Mapping[str, Mapping[str, Any]]] = None, *,
                 overrides: Optional[Mapping[str, Any]] = None, metrics: tuple[str, ...] = METRICS, jobs: int = 1,
                 progress: Optional[Callable[[str], None]] = None) -> "pd.DataFrame":
    """Simulate each design (``overrides`` first, then the design's own) and return one row per design and metric:
    design, architecture, metric, mean, ci_low, ci_high, n. Without ``designs``: :func:`standard_designs`.

    A design must name one architecture (``architectures: [crud]`` or ``[cqrs]``); a metric the design does not
    report (a key-aware one without keys, say) is left out of its rows.
    """
    import pandas as pd

    base = dict(overrides or {})
    if designs is None:
        designs = standard_designs(load_scenario(path, base))
    parts = []
    for name, own in designs.items():
        scenario = load_scenario(path, {**base, **own})
        if len(scenario.architectures) != 1:
            raise ValueError(f"design {name!r} must name one architecture (architectures: [crud] or [cqrs]), "
                             f"got {scenario.architectures}")
        if progress is not None:
            progress(name)
        summary = simulate(scenario, jobs=jobs).summary()
        rows = summary[summary["metric"].isin(metrics)].copy()
        rows.insert(0, "design", name)
        parts.append(rows)
    table = pd.concat(parts, ignore_index=True)
    order = {m: k for k, m in enumerate(metrics)}
    table["_order"] = table["metric"].map(order)
    table["_design"] = table["design"].map({name: k for k, name in enumerate(designs)})
    return table.sort_values(["_design", "_order"]).drop(columns=["_order", "_design"]).reset_index(drop=True)


def formatted(table: "pd.DataFrame") -> "pd.DataFrame":
    """The table as a reader sees it: a row per design, a column per metric, each ``mean ± half-width`` in its unit."""

    cells = table.assign(text=[format_interval(row.metric, row.mean, row.ci_low, row.ci_high)
                               for row in table.itertuples()])
    wide = cells.pivot(index="design", columns="metric", values="text")
    designs = list(dict.fromkeys(table["design"]))
    metrics = [m for m in dict.fromkeys(table["metric"]) if m in wide.columns]
    return wide.loc[designs, metrics].fillna("—")


__all__ = ["METRICS", "formatted", "side_by_side", "standard_designs"]
