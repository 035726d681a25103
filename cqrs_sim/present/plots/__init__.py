"""Plots of results: each function takes a :class:`~cqrs_sim.Results` and returns a matplotlib Figure.

No pyplot state is touched and nothing is shown; ``save_all`` writes every
plot into a directory (``cqrs-sim run`` and ``cqrs-sim plot`` use it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from matplotlib.figure import Figure

from .autoscale import autoscaled, autoscaling
from .freshness import staleness_ccdf, visibility_curve
from .latency import latency_cdf, latency_over_time
from .replicas import replica_versions, stale_over_time
from .style import COLORS

#: file stem -> plot function, in report order
PLOTS: dict[str, Callable[..., Figure]] = {
    "latency_cdf": latency_cdf,
    "latency_over_time": latency_over_time,
    "replica_versions": replica_versions,
    "stale_over_time": stale_over_time,
    "visibility_curve": visibility_curve,
    "staleness_ccdf": staleness_ccdf,
    "autoscaling": autoscaling,
}


def available(results) -> dict[str, Callable[..., Figure]]:
    """The plots that make sense for these results (replica plots need cqrs; the autoscaling plot an autoscaler)."""
    has_cqrs = "cqrs" in results.scenario.architectures
    elastic = bool(autoscaled(results))
    return {name: fn for name, fn in PLOTS.items()
            if (has_cqrs or name != "replica_versions") and (elastic or name != "autoscaling")}


def save_all(results, directory: str | Path, fmt: str = "png") -> list[Path]:
    """Draw every available plot into ``directory`` as ``<name>.<fmt>``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, plot in available(results).items():
        path = directory / f"{name}.{fmt}"
        plot(results).savefig(path, format=fmt)
        paths.append(path)
    return paths


__all__ = ["COLORS", "PLOTS", "autoscaling", "available", "latency_cdf", "latency_over_time", "replica_versions", "save_all",
           "stale_over_time", "staleness_ccdf", "visibility_curve"]
