"""Read latency: its distribution (CDF) and its course over time, above the read rate."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from ...config.format import format_duration, format_percent
from .outages import mark_failed_reads, mark_outages
from .style import (COLORS, LABEL_SIZE, WIDTHS, architectures, duration_axis, empty_note, figure, legend_outside,
                    mark_design_commits, one_bin_note, read_rate_panel, sample_note, shade_rollouts, time_axis, titled, window_reads)

MARKED = ((0.5, "p50"), (0.99, "p99"), (0.999, "p99.9"))
#: points drawn per CDF: quantiles evenly spaced on the logit axis, plus the last reads (the tail)
CDF_POINTS = 3000


def cdf_points(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, probabilities) of a few thousand quantiles of a sorted sample, even on a logit axis."""
    n = len(sorted_values)
    logit = np.linspace(-12.0, 12.0, CDF_POINTS)
    index = np.floor(n / (1.0 + np.exp(-logit))).astype(np.int64)
    index = np.unique(np.r_[0, np.clip(index, 0, n - 1), np.arange(max(0, n - 50), n)])
    return sorted_values[index], (index + 0.5) / n


def latency_cdf_axes(ax, positive: np.ndarray) -> None:
    """Log latency (spanning the ``positive`` values) against a logit fraction, ticked from 1% to 99.99%."""
    ax.set_xscale("log")
    ax.set_xlim(positive.min() / 1.5, positive.max() * 1.5)
    duration_axis(ax.xaxis, log=True)
    ax.set_yscale("logit")
    ax.set_ylim(0.01, 0.9999)
    ax.yaxis.set_major_locator(FixedLocator([0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: format_percent(y, 4)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def latency_cdf(results) -> Figure:
    """CDF of read latency per architecture, pooled over replications; log time, 'nines' probability axis."""
    fig, (ax,) = figure()
    lo, hi = results.scenario.warmup, results.scenario.duration
    drawn = []
    for arch in architectures(results):
        latency = np.sort(window_reads(results, arch, "latency"))
        if len(latency) == 0:
            continue
        drawn.append(latency)
        x, p = cdf_points(latency)
        ax.plot(x, p, color=COLORS[arch], lw=WIDTHS[arch], label=f"{arch} ({len(latency):,} reads)")
        for q, name in MARKED:
            value = float(np.quantile(latency, q, method="lower"))
            ax.plot([value], [q], "o", color=COLORS[arch], ms=7, mec="white", zorder=5)
            left = arch == "cqrs"
            ax.annotate(f"{arch} {name} {format_duration(value)}", (value, q), xytext=(-9 if left else 9, 4 if left else -12),
                        textcoords="offset points", fontsize=11, color=COLORS[arch], ha="right" if left else "left")
    positive = np.concatenate([d[d > 0] for d in drawn]) if drawn else np.empty(0)
    if len(positive):
        latency_cdf_axes(ax, positive)
        legend_outside(ax)
    else:
        empty_note(ax, f"no reads arrived in [{format_duration(lo)}, {format_duration(hi)}): no latency to draw")
    ax.set_xlabel("read latency (log scale)", fontsize=LABEL_SIZE)
    ax.set_ylabel("fraction of reads at or below (logit scale)", fontsize=LABEL_SIZE)
    ax.text(0.01, 0.99, "percentiles marked: pooled over replications\n(the table: mean over replications of each run's)",
            transform=ax.transAxes, va="top", fontsize=10, color="0.35")
    reps = results.scenario.replications
    titled(fig, results, "read latency CDF",
           f"reads arriving in [{format_duration(lo)}, {format_duration(hi)}), pooled over {reps} replication(s){sample_note(results)}")
    return fig


def latency_over_time(results, replication: int = 0) -> Figure:
    """p50 and p99 read latency per time bin, write commits marked, rollouts shaded (one replication);
    below it, the offered read rate and the reads completed per second."""
    fig, (ax, rate) = figure(rows=2, height=7.0, sharex=True, height_ratios=[3.2, 1.0])
    divisor, unit = time_axis(results)
    ts = results.timeseries
    values = []
    for arch in architectures(results):
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        p99, p50 = series["read_latency_p99"].to_numpy(), series["read_latency_p50"].to_numpy()
        if not np.isfinite(p99).any():
            continue
        values.append(np.r_[p99, p50])
        start = series["t"].to_numpy()
        t = (start + np.minimum(results.scenario.bin_width, results.scenario.duration - start) / 2) / divisor  # bin middles
        dot = "o" if len(t) < 3 else None  # a single bin is a dot, not an invisible line
        ax.plot(t, p99, color=COLORS[arch], lw=WIDTHS[arch], marker=dot, label=f"{arch} p99")
        ax.plot(t, p50, color=COLORS[arch], lw=WIDTHS[arch] * 0.65, ls="--", marker=dot, label=f"{arch} p50")
    shade_rollouts(ax, results, replication, divisor)
    mark_design_commits(ax, results, replication, divisor, until=results.scenario.duration)
    shade_rollouts(rate, results, replication, divisor, label=False)
    mark_outages(ax, results, replication, divisor)
    mark_outages(rate, results, replication, divisor, label=False)
    mark_failed_reads(rate, results, replication, divisor)
    read_rate_panel(rate, results, replication, divisor)
    finite = np.concatenate(values) if values else np.empty(0)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if len(finite):
        ax.set_yscale("log")
        ax.set_ylim(finite.min() / 2.5, finite.max() * 2.5)  # room for the commit ticks and the rollout strip
        duration_axis(ax.yaxis, log=True)
    else:
        empty_note(ax, "no reads in this replication: no latency to draw")
        ax.set_yticks([])
    one_bin_note(ax, results)
    ax.set_xlim(0, results.scenario.duration / divisor)
    ax.set_ylabel("read latency per bin" + (" (log scale)" if len(finite) else ""), fontsize=LABEL_SIZE)
    rate.set_xlabel(f"time ({unit}); latency by read arrival, at bin middles; completions by finish", fontsize=LABEL_SIZE)
    legend_outside(ax)
    legend_outside(rate)
    titled(fig, results, "read latency over time",
           f"replication {replication + 1} of {results.scenario.replications}; bins of "
           f"{format_duration(results.scenario.bin_width)}")
    return fig
