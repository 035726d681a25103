"""Two results drawn on one figure (``cqrs-sim compare``): read-latency CDFs and visibility curves.

Result A is drawn solid, result B dashed, each architecture in its usual colour.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...core.safetext import plot_text
from .freshness import visibility_axes
from .latency import cdf_points, latency_cdf_axes
from .style import COLORS, LABEL_SIZE, architectures, figure, legend_outside, window_reads

STYLES = ("-", "--")


def _both(a, b) -> list[str]:
    return [arch for arch in architectures(a) if arch in architectures(b)]


def _title(fig: Figure, what: str, labels: tuple[str, str]) -> None:
    fig.suptitle(f"{what}: {plot_text(labels[0])} (solid) vs {plot_text(labels[1])} (dashed)", fontsize=14)


def _shown(labels: tuple[str, str]) -> tuple[str, str]:
    """The labels (they name the user's directories) as plot text."""
    return plot_text(labels[0]), plot_text(labels[1])


def latency_cdf_overlay(a, b, labels: tuple[str, str] = ("A", "B")) -> Figure:
    """The read-latency CDFs of A and B, pooled over replications; log time, logit probability."""
    labels = _shown(labels)
    fig, (ax,) = figure()
    positive = []
    for arch in _both(a, b):
        for results, style, label in zip((a, b), STYLES, labels):
            latency = np.sort(window_reads(results, arch, "latency"))
            if len(latency) == 0:
                continue
            positive.append(latency[latency > 0])
            x, p = cdf_points(latency)
            ax.plot(x, p, ls=style, color=COLORS[arch], lw=2, label=f"{arch}, {plot_text(label)} ({len(latency):,} reads)")
    values = np.concatenate(positive) if positive else np.empty(0)
    if len(values):
        latency_cdf_axes(ax, values)
        legend_outside(ax)
    ax.set_xlabel("read latency (log scale)", fontsize=LABEL_SIZE)
    ax.set_ylabel("fraction of reads at or below", fontsize=LABEL_SIZE)
    _title(fig, "read latency CDF", labels)
    return fig


def visibility_overlay(a, b, labels: tuple[str, str] = ("A", "B")) -> Figure:
    """P(a read sees a write) against time since its commit, for A and B."""
    labels = _shown(labels)
    fig, (ax,) = figure()
    drawn = False
    for arch in _both(a, b):
        for results, style, label in zip((a, b), STYLES, labels):
            table = results.visibility
            if table.empty:
                continue
            curve = table[(table["architecture"] == arch) & (table["reads"] > 0)]
            if curve.empty:
                continue
            ax.step(curve["t"], curve["probability"], where="post", ls=style, color=COLORS[arch], lw=2,
                    label=f"{arch}, {plot_text(label)}")
            drawn = True
    visibility_axes(ax)
    if drawn:
        legend_outside(ax)
    else:
        ax.text(0.5, 0.5, "no read started after a commit in both results", transform=ax.transAxes, ha="center")
    _title(fig, "visibility curve", labels)
    return fig
