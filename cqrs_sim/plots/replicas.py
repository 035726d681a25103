"""The replica swarm: versions per replica over time, and stale reads against replicas in the pool."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure

from .style import COLORS, LABEL_SIZE, legend_or_note, architectures, figure, mark_commits, shade_rollouts, time_axis, titled


def replica_versions(results, replication: int = 0) -> Figure:
    """One lane per replica, coloured by the version it serves, grey hatched while out of the pool."""
    scenario = results.scenario
    divisor, unit = time_axis(results)
    count = scenario.cqrs.replicas.count
    fig, (ax,) = figure(height=max(4.0, 1.6 + 0.45 * count))
    swaps = results.replicas
    swaps = swaps[(swaps["architecture"] == "cqrs") & (swaps["replication"] == replication)]
    top = int(swaps["version"].max()) if len(swaps) else 0
    cmap = colormaps["viridis"].resampled(max(top + 1, 2))
    norm = BoundaryNorm(np.arange(-0.5, max(top + 1, 2) + 0.5), cmap.N)
    end = max(scenario.duration, float(swaps["back"].max()) if len(swaps) else 0.0)
    for r in range(count):
        mine = swaps[swaps["replica"] == r].sort_values("out")
        t, version = 0.0, 0
        for out, back, new in zip(mine["out"], mine["back"], mine["version"]):
            ax.broken_barh([(t / divisor, (out - t) / divisor)], (r - 0.4, 0.8), color=cmap(norm(version)))
            ax.broken_barh([(out / divisor, (back - out) / divisor)], (r - 0.4, 0.8), facecolor="0.92",
                           edgecolor="0.6", hatch="//", lw=0.5)
            t, version = back, int(new)
        ax.broken_barh([(t / divisor, (end - t) / divisor)], (r - 0.4, 0.8), color=cmap(norm(version)))
    mark_commits(ax, results, replication, divisor)
    ax.set_yticks(range(count), [f"replica {r}" for r in range(count)])
    ax.set_ylim(count - 0.5, -0.5)
    ax.set_xlim(0, end / divisor)
    ax.set_xlabel(f"time ({unit}); grey hatched: out of the pool (draining or being replaced)", fontsize=LABEL_SIZE)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01)
    bar.set_label("version served", fontsize=LABEL_SIZE)
    bar.set_ticks(np.arange(0, top + 1) if top <= 12 else np.unique(np.linspace(0, top, 7).round()))
    for line in ax.lines:
        line.set_zorder(4)
        line.set_color("black")
    legend_or_note(ax, "no writes, so no rollouts: every replica serves version 0",
                   loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=11, frameon=False)
    titled(fig, results, "replica versions over time",
           f"cqrs, replication {replication + 1} of {scenario.replications}; {len(swaps)} swaps")
    return fig


def stale_over_time(results, replication: int = 0) -> Figure:
    """Stale-read fraction per bin (each architecture) above replicas in the pool (cqrs)."""
    has_cqrs = "cqrs" in architectures(results)
    fig, axes = figure(rows=2 if has_cqrs else 1, height=7.0 if has_cqrs else 5.0, sharex=True)
    top, bottom = axes[0], axes[-1]
    divisor, unit = time_axis(results)
    ts = results.timeseries
    for arch in architectures(results):
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        top.step(series["t"] / divisor, series["stale_fraction"], where="post", color=COLORS[arch], lw=2, label=arch)
        if arch == "cqrs":
            bottom.step(series["t"] / divisor, series["replicas_in_pool"], where="post", color=COLORS[arch], lw=2,
                        label="cqrs replicas in the pool (time average per bin)")
    for ax in axes:
        shade_rollouts(ax, results, replication, divisor)
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("stale-read fraction", fontsize=LABEL_SIZE)
    top.legend(loc="upper right", fontsize=11)
    if has_cqrs:
        count = results.scenario.cqrs.replicas.count
        bottom.set_ylim(-0.2, count + 0.5)
        bottom.set_ylabel("replicas in pool", fontsize=LABEL_SIZE)
        bottom.legend(loc="lower right", fontsize=11)
    bottom.set_xlabel(f"time ({unit}), stale fraction by read arrival", fontsize=LABEL_SIZE)
    bottom.set_xlim(0, results.scenario.duration / divisor)
    titled(fig, results, "stale reads and replicas in the pool" if has_cqrs else "stale reads",
           f"replication {replication + 1} of {results.scenario.replications}")
    return fig
