"""Designs side by side (:func:`cqrs_sim.experiments.designs.side_by_side`): p99 read latency, and stale reads by key and by
version, one bar per design with its 95% interval. Drawn from the side-by-side table, not from one run."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from ...core.safetext import plot_text
from .style import COLORS, DPI, LABEL_SIZE, TICK_SIZE, TITLE_SIZE, WIDTH, duration_axis, percent_axis

#: (metric, panel title, log scale); a metric missing from the table leaves its bars out
PANELS = (("read_latency_p99", "p99 read latency", True),
          ("stale_read_fraction", "reads stale for their key (stale_read_fraction)", False),
          ("stale_version_fraction", "reads of a replica behind (stale_version_fraction)", False))


def _color(design: str, architecture: str) -> str:
    return COLORS.get(architecture, "0.4")


def designs_side_by_side(table, title: str = "") -> Figure:
    """One horizontal bar per design in each panel, colored by architecture, with the replications' 95% interval."""
    designs = list(dict.fromkeys(table["design"]))
    panels = [p for p in PANELS if p[0] in set(table["metric"])]
    fig = Figure(figsize=(WIDTH, 0.5 * len(designs) * len(panels) + 1.6 * len(panels)), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    y = np.arange(len(designs))[::-1]
    for ax, (metric, label, log) in zip(axes, panels):
        rows = table[table["metric"] == metric].set_index("design")
        for k, design in enumerate(designs):
            if design not in rows.index:
                continue
            row = rows.loc[design]
            mean = float(row["mean"]) if row["mean"] is not None else math.nan
            if not math.isfinite(mean):
                continue
            low = row["ci_low"] if row["ci_low"] is not None and math.isfinite(row["ci_low"]) else mean
            high = row["ci_high"] if row["ci_high"] is not None and math.isfinite(row["ci_high"]) else mean
            color = _color(design, row["architecture"])
            ax.barh(y[k], mean, color=color, alpha=0.85, height=0.6)
            ax.errorbar([mean], [y[k]], xerr=[[mean - low], [high - mean]], fmt="none", ecolor="0.2", capsize=3, lw=1)
        ax.set_yticks(y, [plot_text(d) for d in designs], fontsize=TICK_SIZE)
        ax.set_title(label, fontsize=LABEL_SIZE, loc="left")
        ax.tick_params(axis="x", labelsize=TICK_SIZE)
        if log:
            ax.set_xscale("log")
            duration_axis(ax.xaxis, log=True)
        else:
            percent_axis(ax.xaxis)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(plot_text(title) or "designs side by side (bars: mean over replications; whiskers: 95% interval)",
                 fontsize=TITLE_SIZE)
    return fig


__all__ = ["designs_side_by_side"]
