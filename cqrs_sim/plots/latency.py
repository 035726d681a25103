"""Read latency: its distribution (CDF) and its course over time."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullFormatter

from ..units import format_duration
from .style import (COLORS, LABEL_SIZE, architectures, figure, mark_commits, reads_of, sample_note, shade_rollouts,
                    time_axis, titled)

MARKED = ((0.5, "p50"), (0.99, "p99"), (0.999, "p99.9"))
_seconds = FuncFormatter(lambda x, _pos: format_duration(x))


def latency_cdf(results) -> Figure:
    """CDF of read latency per architecture, pooled over replications; log time, 'nines' probability axis."""
    fig, (ax,) = figure()
    lo, hi = results.scenario.warmup, results.scenario.duration
    for arch in architectures(results):
        reads = reads_of(results, arch)
        reads = reads[(reads["arrival"] >= lo) & (reads["arrival"] < hi)]
        latency = np.sort(reads["latency"].to_numpy())
        if len(latency) == 0:
            continue
        p = (np.arange(len(latency)) + 0.5) / len(latency)
        step = max(1, len(latency) // 20000)
        keep = np.unique(np.r_[np.arange(0, len(latency), step), np.arange(max(0, len(latency) - 2000), len(latency))])
        ax.plot(latency[keep], p[keep], color=COLORS[arch], lw=2, label=f"{arch} ({len(latency):,} reads)")
        for q, name in MARKED:
            value = float(np.quantile(latency, q, method="lower"))
            ax.plot([value], [q], "o", color=COLORS[arch], ms=7, mec="white", zorder=5)
            left = arch == "cqrs"
            ax.annotate(f"{arch} {name} {format_duration(value)}", (value, q), xytext=(-9 if left else 9, 4 if left else -12),
                        textcoords="offset points", fontsize=11, color=COLORS[arch], ha="right" if left else "left")
    ax.set_xscale("log")
    ax.set_yscale("logit")
    ax.set_ylim(0.01, 0.9999)
    ticks = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FixedFormatter(["1%", "10%", "50%", "90%", "99%", "99.9%", "99.99%"]))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(_seconds)
    ax.set_xlabel("read latency (log scale)", fontsize=LABEL_SIZE)
    ax.set_ylabel("fraction of reads at or below (logit scale)", fontsize=LABEL_SIZE)
    ax.legend(loc="lower right", fontsize=11)
    ax.text(0.01, 0.99, "percentiles marked: pooled over replications\n(the table: mean over replications of each run's)",
            transform=ax.transAxes, va="top", fontsize=10, color="0.35")
    reps = results.scenario.replications
    titled(fig, results, "read latency CDF",
           f"reads arriving in [{format_duration(lo)}, {format_duration(hi)}), pooled over {reps} replication(s){sample_note(results)}")
    return fig


def latency_over_time(results, replication: int = 0) -> Figure:
    """p50 and p99 read latency per time bin, write commits marked, rollouts shaded (one replication)."""
    fig, (ax,) = figure()
    divisor, unit = time_axis(results)
    ts = results.timeseries
    for arch in architectures(results):
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        ax.plot(series["t"] / divisor, series["read_latency_p99"], color=COLORS[arch], lw=2, label=f"{arch} p99")
        ax.plot(series["t"] / divisor, series["read_latency_p50"], color=COLORS[arch], lw=1.3, ls="--", label=f"{arch} p50")
    shade_rollouts(ax, results, replication, divisor)
    mark_commits(ax, results, replication, divisor)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_seconds)
    ax.set_xlim(0, results.scenario.duration / divisor)
    ax.set_xlabel(f"time ({unit}), by read arrival", fontsize=LABEL_SIZE)
    ax.set_ylabel("read latency per bin (log scale)", fontsize=LABEL_SIZE)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=11, ncols=6, frameon=False)
    titled(fig, results, "read latency over time",
           f"replication {replication + 1} of {results.scenario.replications}; bins of "
           f"{format_duration(results.scenario.bin_width)}")
    return fig
