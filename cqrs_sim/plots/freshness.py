"""How fresh reads are: the visibility curve and the staleness of stale reads."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..units import format_duration
from ..visibility import time_to
from .style import COLORS, LABEL_SIZE, architectures, legend_or_note, figure, fixed_unit, reads_of, sample_note, titled


def visibility_curve(results) -> Figure:
    """P(a read sees a write) against time since its commit, with the times to 99% and 99.9% marked."""
    fig, (ax,) = figure()
    table = results.visibility
    divisor, unit = fixed_unit(float(table["t"].max()) if len(table) else 1.0)
    for arch in architectures(results):
        curve = table[table["architecture"] == arch]
        known = curve[curve["reads"] > 0]
        if known.empty:
            continue
        t, p = known["t"].to_numpy(), known["probability"].to_numpy()
        ax.step(t / divisor, p, where="post", color=COLORS[arch], lw=2, label=f"{arch} ({int(known['reads'].sum()):,} read-write pairs)")
        for level, name, dy in ((0.99, "99%", -28), (0.999, "99.9%", -48)):
            at = time_to(t, p, level)
            if np.isfinite(at):
                ax.axvline(at / divisor, color=COLORS[arch], ls="--", lw=1)
                ax.annotate(f"{arch}: {name} by {format_duration(at)}", (at / divisor, level), xytext=(6, dy),
                            textcoords="offset points", fontsize=11, color=COLORS[arch])
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"time since the write's commit, query start − commit ({unit})", fontsize=LABEL_SIZE)
    ax.set_ylabel("P(read sees the write)", fontsize=LABEL_SIZE)
    legend_or_note(ax, "no writes: nothing to become visible", loc="lower right", fontsize=11)
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
        reads = reads_of(results, arch)
        reads = reads[(reads["arrival"] >= lo) & (reads["arrival"] < hi)]
        stale = np.sort(reads.loc[reads["stale"], "staleness"].to_numpy())
        if len(stale) == 0:
            notes.append(f"{arch}: no stale reads")
        else:
            series.append((arch, stale, len(reads)))
    top = max((float(s[-1]) for _, s, _ in series), default=1.0)
    divisor, unit = fixed_unit(top)
    for arch, stale, total in series:
        ccdf = 1.0 - np.arange(len(stale)) / len(stale)
        step = max(1, len(stale) // 20000)
        ax.step(stale[::step] / divisor, ccdf[::step], where="post", color=COLORS[arch], lw=2,
                label=f"{arch}: {len(stale):,} stale of {total:,} reads ({len(stale) / total:.1%})")
    if series:
        ax.set_yscale("log")
        ax.set_xlim(left=0)
        ax.legend(loc="lower left", fontsize=11)
    if notes:
        ax.text(0.99, 0.97, "\n".join(notes), transform=ax.transAxes, ha="right", va="top", fontsize=12)
    ax.set_xlabel(f"staleness: query start − commit of the first version the read missed ({unit})", fontsize=LABEL_SIZE)
    ax.set_ylabel("P(staleness > x) among stale reads (log scale)", fontsize=LABEL_SIZE)
    titled(fig, results, "staleness of stale reads (CCDF)",
           f"reads arriving in [{format_duration(lo)}, {format_duration(hi)}), pooled over "
           f"{results.scenario.replications} replication(s){sample_note(results)}")
    return fig
