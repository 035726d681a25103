"""The replica swarm: versions per replica over time, and stale reads against replicas in the pool."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .outages import mark_outages
from .style import (COLORS, LABEL_SIZE, LINES_AT_MOST, WIDTHS, architectures, empty_note, figure, legend_outside,
                    mark_commits, one_bin_note, percent_axis, shade_rollouts, time_axis, titled)

#: up to this many versions each gets its own colour; beyond, one continuous scale with round ticks
DISCRETE_VERSIONS = 12


def replica_versions(results, replication: int = 0) -> Figure:
    """One lane per replica, coloured by the version it serves, grey (hatched when few) while out of the pool."""
    scenario = results.scenario
    divisor, unit = time_axis(results)
    if "cqrs" not in architectures(results):
        fig, (ax,) = figure(height=4.0)
        empty_note(ax, "no cqrs in this scenario's architectures: no replicas to draw")
        ax.set_xlabel(f"time ({unit})", fontsize=LABEL_SIZE)
        titled(fig, results, "replica versions over time", f"architectures: {', '.join(scenario.architectures)}")
        return fig
    count = scenario.cqrs.replicas.count
    fig, (ax,) = figure(height=max(4.0, 1.6 + 0.45 * count))
    swaps = results.replicas
    swaps = swaps[(swaps["architecture"] == "cqrs") & (swaps["replication"] == replication)]
    if scenario.cqrs.sync.strategy == "projection":
        _projection_lanes(fig, ax, results, replication, swaps, divisor, unit)
        return fig
    top = int(swaps["version"].max()) if len(swaps) else 0
    if top < DISCRETE_VERSIONS:
        cmap = colormaps["viridis"].resampled(top + 1)
        norm = BoundaryNorm(np.arange(-0.5, top + 1.5), cmap.N)
    else:
        cmap, norm = colormaps["viridis"], Normalize(0, top)
    end = max(scenario.duration, float(swaps["back"].max()) if len(swaps) else 0.0)
    hatch = "//" if len(swaps) <= 4 * count else None
    for r in range(count):
        mine = swaps[swaps["replica"] == r].sort_values("out")
        out, back, new = mine["out"].to_numpy(), mine["back"].to_numpy(), mine["version"].to_numpy(dtype=int)
        starts = np.r_[0.0, back]
        ends = np.r_[out, end]
        versions = np.r_[0, new]
        ax.broken_barh(list(zip(starts / divisor, (ends - starts) / divisor)), (r - 0.4, 0.8),
                       facecolors=cmap(norm(versions)), lw=0)
        if len(out):
            ax.broken_barh(list(zip(out / divisor, (back - out) / divisor)), (r - 0.4, 0.8), facecolor="0.85",
                           edgecolor="0.55" if hatch else "none", hatch=hatch, lw=0.5)
    commits = mark_commits(ax, results, replication, divisor, label=False, color="black")
    ax.set_yticks(range(count), [f"replica {r}" for r in range(count)])
    ax.set_ylim(count - 0.5, -0.5)
    ax.set_xlim(0, end / divisor)
    gap = "grey hatched" if hatch else "grey"
    marks = "" if not commits else ("; black ticks: write commits" if commits > LINES_AT_MOST else "; dotted: write commits")
    ax.set_xlabel(f"time ({unit}); {gap}: out of the pool (draining or being replaced){marks}", fontsize=LABEL_SIZE)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01)
    bar.set_label("version served", fontsize=LABEL_SIZE)
    if top < DISCRETE_VERSIONS:
        bar.set_ticks(np.arange(0, max(top, 0) + 1))
    else:
        bar.locator = MaxNLocator(nbins=6, integer=True)
        bar.update_ticks()
    if not len(swaps):
        empty_note(ax, "no swaps: no write committed in time for a rollout, so every replica serves version 0")
    titled(fig, results, "replica versions over time",
           f"cqrs, replication {replication + 1} of {scenario.replications}; {len(swaps)} swaps")
    return fig


def _projection_lanes(fig: Figure, ax, results, replication: int, swaps, divisor: float, unit: str) -> None:
    """Projections swap no snapshot in: a lane shows only when its replica was out of the pool (rebuilding)."""
    scenario = results.scenario
    count = scenario.cqrs.replicas.count
    end = scenario.duration  # a rebuild still running when the run ends is drawn up to the end
    for r in range(count):
        ax.broken_barh([(0.0, end / divisor)], (r - 0.4, 0.8), facecolor=COLORS["cqrs"], alpha=0.35, lw=0)
        mine = swaps[swaps["replica"] == r]
        if len(mine):
            out, back = mine["out"].to_numpy(), np.minimum(mine["back"].to_numpy(), end)
            ax.broken_barh(list(zip(out / divisor, (back - out) / divisor)), (r - 0.4, 0.8), facecolor="0.85",
                           edgecolor="0.55", hatch="//", lw=0.5)
    commits = mark_commits(ax, results, replication, divisor, label=False, color="black")
    ax.set_yticks(range(count), [f"replica {r}" for r in range(count)])
    ax.set_ylim(count - 0.5, -0.5)
    ax.set_xlim(0, end / divisor)
    marks = "" if not commits else ("; black ticks: write commits" if commits > LINES_AT_MOST else "; dotted: write commits")
    ax.set_xlabel(f"time ({unit}); green: in the pool, applying each write itself{marks}\n"
                  "grey hatched: out of the pool (rebuilding after a failure)", fontsize=LABEL_SIZE)
    if not len(swaps):  # the note would hide the rebuild bars
        empty_note(ax, "projections: every replica stays in the pool and applies each write itself\n"
                       "(no version is swapped in); the visibility curve shows how long writes take to reach them")
    titled(fig, results, "replica versions over time",
           f"cqrs with projections (no version is swapped in), replication {replication + 1} of "
           f"{scenario.replications}; {len(swaps)} rebuilds after failures")


def stale_over_time(results, replication: int = 0) -> Figure:
    """Stale-read fraction per bin (each architecture) above replicas in the pool (cqrs)."""
    has_cqrs = "cqrs" in architectures(results)
    fig, axes = figure(rows=2 if has_cqrs else 1, height=7.0 if has_cqrs else 5.0, sharex=True)
    top, bottom = axes[0], axes[-1]
    divisor, unit = time_axis(results)
    ts = results.timeseries
    drawn = 0
    for arch in architectures(results):
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        t = np.r_[series["t"].to_numpy(), results.scenario.duration][: len(series) + 1] / divisor  # the last bin too
        stale = series["stale_fraction"].to_numpy()
        if np.isfinite(stale).any():
            top.step(t, np.r_[stale, stale[-1:]], where="post", color=COLORS[arch], lw=WIDTHS[arch], label=arch)
            drawn += 1
        if arch == "cqrs" and len(series):
            pool = series["replicas_in_pool"].to_numpy()
            bottom.step(t, np.r_[pool, pool[-1:]], where="post", color=COLORS[arch], lw=2,
                        label="cqrs replicas in the pool\n(time average per bin)")
    for k, ax in enumerate(axes):
        shade_rollouts(ax, results, replication, divisor, label=k == 0)
        mark_outages(ax, results, replication, divisor, label=k == 0)
    top.set_ylim(-0.02, 1.02)
    percent_axis(top.yaxis)
    top.set_ylabel("stale-read fraction", fontsize=LABEL_SIZE)
    if not drawn:
        empty_note(top, "no reads in this replication: no stale fraction to draw")
    one_bin_note(top, results)
    legend_outside(top)
    if has_cqrs:
        cqrs = results.scenario.cqrs
        count = cqrs.replicas.count if cqrs.autoscale is None else cqrs.autoscale.max
        bottom.set_ylim(-0.2, count + 0.5)
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_ylabel("replicas in pool", fontsize=LABEL_SIZE)
        legend_outside(bottom)
    bottom.set_xlabel(f"time ({unit}), stale fraction by read arrival", fontsize=LABEL_SIZE)
    bottom.set_xlim(0, results.scenario.duration / divisor)
    titled(fig, results, "stale reads and replicas in the pool" if has_cqrs else "stale reads",
           f"replication {replication + 1} of {results.scenario.replications}")
    return fig
