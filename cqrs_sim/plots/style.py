"""Shared look: one colour per architecture, 1200 px wide figures, titles that name the scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..scenario import ARCHITECTURES

#: one colour per architecture, used in every plot
COLORS = {"crud": "#d95f02", "cqrs": "#1b9e77"}
WIDTH, HEIGHT, DPI = 12.0, 6.0, 100  # 1200 x 600 px
TITLE_SIZE, LABEL_SIZE, TICK_SIZE = 15, 13, 11


def figure(rows: int = 1, height: float = HEIGHT, sharex: bool = False):
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    for ax in axes:
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


def titled(fig: Figure, results, what: str, note: str) -> None:
    """Title naming the scenario and what is shown; a second line says how replications are used."""
    fig.suptitle(f"{results.scenario.name}: {what}\n{note}", fontsize=TITLE_SIZE)


def architectures(results) -> list[str]:
    return [a for a in ARCHITECTURES if a in results.scenario.architectures]


def sample_note(results) -> str:
    if results.scenario.record == "summary":
        return f"; a sample of {results.scenario.record_sample:,} reads per run (record: summary)"
    return ""


def time_axis(results) -> tuple[float, str]:
    """(divisor, unit) for a time axis over the run."""
    return (60.0, "min") if results.scenario.duration > 600 else (1.0, "s")


def reads_of(results, arch: str, replication: int | None = None) -> pd.DataFrame:
    req = results.requests
    mask = (req["architecture"] == arch) & (req["kind"] == "read")
    if replication is not None:
        mask &= req["replication"] == replication
    return req[mask]


def rollout_spans(results, replication: int) -> list[tuple[float, float]]:
    """Intervals during which some replica was out of the pool (back-to-back swaps merged)."""
    swaps = results.replicas
    swaps = swaps[(swaps["architecture"] == "cqrs") & (swaps["replication"] == replication)].sort_values("out")
    spans: list[list[float]] = []
    for out, back in zip(swaps["out"].to_numpy(), swaps["back"].to_numpy()):
        if spans and out <= spans[-1][1] + 1e-9:
            spans[-1][1] = max(spans[-1][1], back)
        else:
            spans.append([out, back])
    return [(a, b) for a, b in spans]


def shade_rollouts(ax, results, replication: int, divisor: float) -> int:
    spans = rollout_spans(results, replication)
    for k, (a, b) in enumerate(spans):
        ax.axvspan(a / divisor, b / divisor, color=COLORS["cqrs"], alpha=0.12, lw=0,
                   label="cqrs rollout in progress" if k == 0 else None)
    return len(spans)


def mark_commits(ax, results, replication: int, divisor: float) -> int:
    writes = results.writes
    arch = "cqrs" if "cqrs" in architectures(results) else "crud"
    commits = writes[(writes["architecture"] == arch) & (writes["replication"] == replication)]["commit"].to_numpy()
    commits = commits[np.isfinite(commits)]
    for k, c in enumerate(commits):
        ax.axvline(c / divisor, color="0.35", lw=0.9, ls=":", label="write commit" if k == 0 else None)
    return len(commits)


def fixed_unit(max_seconds: float) -> tuple[float, str]:
    """(divisor, unit) for an axis spanning up to ``max_seconds``: one unit for every tick."""
    for divisor, unit, above in ((3600.0, "h", 3 * 3600), (60.0, "min", 300), (1.0, "s", 2), (1e-3, "ms", 0)):
        if max_seconds >= above:
            return divisor, unit
    return 1e-3, "ms"


def legend_or_note(ax, note: str, **legend) -> None:
    """A legend when something is labelled; otherwise a note saying why the plot is empty."""
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(**legend)
    else:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=14, color="0.3")
