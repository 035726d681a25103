"""How fresh reads are: the visibility curve and the staleness of stale reads."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...config.format import format_duration, format_percent
from ...analysis.visibility import time_to
from .style import (COLORS, LABEL_SIZE, WIDTHS, architectures, duration_axis, empty_note, figure, legend_or_note,
                    legend_outside, percent_axis, sample_note, titled, window_reads)


def visibility_axes(ax) -> None:
    """The axes of a visibility curve: P(read sees the write) against time since the write's commit."""
    ax.set_ylim(-0.02, 1.05)
    percent_axis(ax.yaxis)
    ax.set_xlim(left=0)
    duration_axis(ax.xaxis)
    ax.set_xlabel("time since the write's commit, query start − commit", fontsize=LABEL_SIZE)
    ax.set_ylabel("P(read sees the write)", fontsize=LABEL_SIZE)


def visibility_curve(results) -> Figure:
    """P(a read sees a write) against time since its commit, with the times to 99% and 99.9% marked."""
    fig, (ax,) = figure()
    table = results.visibility
    notes: list[tuple[str, str]] = []  # (architecture, "99% by ...") listed bottom right, where a rising curve is not
    for arch in architectures(results):
        curve = table[table["architecture"] == arch]
        known = curve[curve["reads"] > 0]
        if known.empty:
            continue
        t, p = known["t"].to_numpy(), known["probability"].to_numpy()
        ax.step(t, p, where="post", color=COLORS[arch], lw=WIDTHS[arch], label=f"{arch} ({int(known['reads'].sum()):,} read-write pairs)")
        marks = []
        for level, name, style in ((0.99, "99%", "--"), (0.999, "99.9%", ":")):
            at = time_to(t, p, known["reads"].to_numpy(), level)
            if np.isfinite(at):
                ax.axvline(at, color=COLORS[arch], ls=style, lw=1)
                marks.append(f"{name} by {format_duration(at)}")
        if marks:
            notes.append((arch, f"{arch}: " + ", ".join(marks) + " (dashed, dotted)"))
    for i, (arch, text) in enumerate(reversed(notes)):
        ax.text(0.98, 0.04 + 0.07 * i, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=11, color=COLORS[arch],
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.9), zorder=6)
    visibility_axes(ax)
    writes = results.writes
    if not (len(writes) and writes["commit"].notna().any()):
        why = "no write committed: nothing to become visible"
    elif not (results.requests["kind"] == "read").any():
        why = "no reads: no read to see a write"
    else:
        why = "no read started after a commit: no visibility to measure"
    legend_or_note(ax, why)
    titled(fig, results, "visibility curve (t-visibility)",
           f"every read after every commit, pooled over {results.scenario.replications} replication(s){sample_note(results)}")
    return fig


def staleness_ccdf(results) -> Figure:
    """P(staleness > x) among stale reads, per architecture, log-log."""
    fig, (ax,) = figure()
    lo, hi = results.scenario.warmup, results.scenario.duration
    notes = []
    series = []
    for arch in architectures(results):
        flags = window_reads(results, arch, "stale")
        if len(flags) == 0:
            notes.append(f"{arch}: no reads")
            continue
        stale = np.sort(window_reads(results, arch, "staleness")[flags])
        if len(stale) == 0:
            notes.append(f"{arch}: no stale reads")
        else:
            series.append((arch, stale, len(flags)))
    for arch, stale, total in series:
        n = len(stale)
        index = np.unique(np.r_[np.linspace(0, n - 1, min(n, 4000)).astype(np.int64), np.arange(max(0, n - 200), n)])
        ax.step(stale[index], 1.0 - index / n, where="post", color=COLORS[arch], lw=2, rasterized=True,
                label=f"{arch}: {n:,} stale of {total:,} reads ({format_percent(n / total)})")
    if series:
        ax.set_yscale("log")
        percent_axis(ax.yaxis)
        ax.set_xlim(left=0)
        duration_axis(ax.xaxis)
        legend_outside(ax)
    if notes:
        note = "\n".join(notes) + ("" if series else f"\nin [{format_duration(lo)}, {format_duration(hi)}): nothing to draw")
        if series:
            ax.text(0.99, 0.97, note, transform=ax.transAxes, ha="right", va="top", fontsize=12)
        else:
            empty_note(ax, note)
    ax.set_xlabel("staleness: query start − commit of the first version the read missed", fontsize=LABEL_SIZE)
    ax.set_ylabel("share of stale reads with staleness > x\n(log scale)", fontsize=LABEL_SIZE)
    titled(fig, results, "staleness of stale reads (CCDF)",
           f"reads arriving in [{format_duration(lo)}, {format_duration(hi)}), pooled over "
           f"{results.scenario.replications} replication(s){sample_note(results)}")
    return fig
