"""Failures and repairs marked on the plots over time (from ``outages.parquet``)."""

from __future__ import annotations

import numpy as np

from .style import COLORS

FAILURE = "#b00020"  #: the colour of a failure
LABEL_WIDTH = 0.0085  #: of the time axis per character of an outage label (8 pt on a plot over time)
LABEL_ROW = 11.0  #: points between rows of outage labels that would overlap


def outages_of(results, replication: int):
    """This replication's outages (every design), the ones that happened (a skipped one has no repair)."""
    frame = results.outages
    if frame is None or not len(frame):
        return frame
    frame = frame[(frame["replication"] == replication) & frame["up"].notna()]
    return frame.sort_values(["down", "architecture"])


def mark_outages(ax, results, replication: int, divisor: float, label: bool = True) -> int:
    """Each instance's time down as a red band (the design's colour at its edges): a solid line at the
    failure, a dashed one at the repair (when it serves again). Returns the outages drawn."""
    frame = outages_of(results, replication)
    if frame is None or not len(frame):
        return 0
    drawn = 0
    for row in frame.itertuples(index=False):
        arch = str(row.architecture)
        down, up = row.down / divisor, row.up / divisor
        first = label and drawn == 0
        ax.axvspan(down, up, facecolor=FAILURE, alpha=0.08, lw=0, zorder=0.4,
                   label=f"instance down (solid: failed, dashed: back;\n{len(frame)} outage(s), see outages.parquet)"
                   if first else None)
        ax.axvline(down, color=FAILURE, lw=1.3, zorder=4)
        ax.axvline(up, color=COLORS.get(arch, FAILURE), lw=1.3, ls="--", zorder=4)
        drawn += 1
    if len(frame) <= 6:  # name the instances when there are few: one label per failure time
        span = results.scenario.duration / divisor
        row_ends: list[float] = []  # where the last label of each row of labels ends (in x units, roughly)
        for down, names in frame.groupby("down", sort=True)["instance"]:
            text = " " + ", ".join(dict.fromkeys(names)) + " down"
            x = down / divisor
            row = next((k for k, end in enumerate(row_ends) if x > end), len(row_ends))
            if row == len(row_ends):
                row_ends.append(0.0)
            row_ends[row] = x + span * LABEL_WIDTH * len(text)
            ax.annotate(text, (x, 0.99), xycoords=ax.get_xaxis_transform(), xytext=(0, -LABEL_ROW * row),
                        textcoords="offset points", color=FAILURE, fontsize=8, va="top", ha="left",
                        annotation_clip=True)
    return drawn


def mark_failed_reads(ax, results, replication: int, divisor: float) -> int:
    """Reads failed per second in each bin, per design with any failed read in this replication (dashed)."""
    ts = results.timeseries
    duration, width = results.scenario.duration, results.scenario.bin_width
    drawn = 0
    for arch in ("crud", "cqrs"):
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        failed = series["reads_failed"].to_numpy()
        if not len(series) or not failed.any():
            continue
        t0 = series["t"].to_numpy()
        ax.step(t0 / divisor, failed / np.minimum(width, duration - t0), where="post", color=COLORS[arch], lw=2.0,
                ls="--", zorder=5, label=f"{arch} reads failed per second")
        drawn += 1
    return drawn


__all__ = ["mark_failed_reads", "mark_outages", "outages_of"]
