"""Shared look: one colour per architecture, 1200 px wide figures, titles that name the scenario.

Also the shared pieces of the time plots (rollouts, commits, the read-rate
panel), tick formatters built on :mod:`cqrs_sim.config.units`, legends outside the
data, and the note an empty panel carries.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, Locator, MaxNLocator, NullFormatter, NullLocator

from ...config.units import DISPLAY_UNITS
from ...config.format import duration_unit, format_duration, format_in_unit, format_percent, format_rate

from ...core.safetext import plot_text
from ...config.fields import ARCHITECTURES

#: one colour per architecture, used in every plot
COLORS = {"crud": "#d95f02", "cqrs": "#1b9e77"}
#: line width per architecture: crud is drawn first and wider, so that equal curves both show
WIDTHS = {"crud": 3.2, "cqrs": 1.8}
WIDTH, HEIGHT, DPI = 12.0, 6.0, 100  # 1200 x 600 px
TITLE_SIZE, LABEL_SIZE, TICK_SIZE = 15, 13, 11
#: rollouts covering more of the run than this are drawn as a strip at the top instead of shading the panel
SHADE_AT_MOST = 0.4
#: more write commits than this are drawn as ticks at the bottom instead of full-height lines
LINES_AT_MOST = 30


def figure(rows: int = 1, height: float = HEIGHT, sharex: bool = False, height_ratios: list[float] | None = None):
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False, height_ratios=height_ratios)[:, 0]
    for ax in axes:
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


def titled(fig: Figure, results, what: str, note: str) -> None:
    """Title naming the scenario and what is shown; a second line says how replications are used."""
    import textwrap

    lines = textwrap.wrap(note, width=100, break_long_words=False) or [""]  # a long note takes two lines, not the margins
    fig.suptitle("\n".join([f"{plot_text(results.scenario.name)}: {what}", *lines]), fontsize=TITLE_SIZE)


def architectures(results) -> list[str]:
    return [a for a in ARCHITECTURES if a in results.scenario.architectures]


def sample_note(results) -> str:
    if results.scenario.record == "summary":
        return f"; a sample of up to {results.scenario.record_sample:,} reads per run (record: summary)"
    return ""


def time_axis(results) -> tuple[float, str]:
    """(divisor, unit) for a time axis over the run: the unit format_duration gives the run's duration."""
    unit = duration_unit(results.scenario.duration)
    return DISPLAY_UNITS[unit], unit


def window_reads(results, arch: str, column: str) -> np.ndarray:
    """One column of the reads of ``arch`` arriving in [warmup, duration), every replication pooled."""
    req = results.requests
    arrival = req["arrival"].to_numpy()
    lo, hi = results.scenario.warmup, results.scenario.duration
    mask = (req["architecture"] == arch).to_numpy() & (req["kind"] == "read").to_numpy() & (arrival >= lo) & (arrival < hi)
    return req[column].to_numpy()[mask]


# --- ticks and legends -------------------------------------------------------------------------------------


class DurationFormatter(Formatter):
    """Tick labels of a linear duration axis, all in the unit format_duration gives the axis' largest value."""

    def __call__(self, x, pos=None) -> str:
        return self.format_ticks([x])[0]

    def format_ticks(self, values) -> list[str]:
        lo, hi = self.axis.get_view_interval() if self.axis is not None else (0.0, max(values, default=0.0))
        unit = duration_unit(max(abs(lo), abs(hi)))
        return ["0" if v == 0 else format_in_unit(v, unit) for v in values]


#: round durations for log axes: decades, and 1-2-5 steps when an axis spans under four decades
_DECADES = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 36000.0, 360000.0]
_ROUND = sorted({m * size for size, steps in ((1e-6, (1, 2, 5, 10, 20, 50, 100, 200, 500)),
                                                (1e-3, (1, 2, 5, 10, 20, 50, 100, 200, 500)), (1.0, (1, 2, 5, 10, 20, 30)),
                                                (60.0, (1, 2, 5, 10, 20, 30)), (3600.0, (1, 2, 5, 10, 20, 50, 100)))
                 for m in steps})


class DurationLogLocator(Locator):
    """Ticks at round durations (1ms, 10ms, 1s, 1m, ...); a log axis spans decades, where one unit cannot serve."""

    def __call__(self):
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin, vmax):
        lo, hi = min(vmin, vmax), max(vmin, vmax)
        decades = [v for v in _DECADES if lo <= v <= hi]
        return decades if len(decades) >= 4 else [v for v in _ROUND if lo <= v <= hi]


class DurationLocator(Locator):
    """Round ticks in the unit the DurationFormatter writes (e.g. every 30s, or every 5m), not round seconds."""

    def __init__(self, bins: int = 8):
        self._round = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10])

    def __call__(self):
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin, vmax):
        size = DISPLAY_UNITS[duration_unit(max(abs(vmin), abs(vmax)))]
        return self._round.tick_values(vmin / size, vmax / size) * size


def duration_axis(axis, log: bool = False) -> None:
    """Durations on ``axis`` (seconds): one unit per linear axis; round values (1ms, 10ms, 1s, 1m) on a log axis."""
    if log:
        axis.set_major_locator(DurationLogLocator())
        axis.set_major_formatter(FuncFormatter(lambda x, _pos: format_duration(x)))
        axis.set_minor_locator(NullLocator())
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_major_locator(DurationLocator())
        axis.set_major_formatter(DurationFormatter())


def percent_axis(axis, digits: int = 3) -> None:
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: format_percent(x, digits)))


def rate_axis(axis) -> None:
    axis.set_major_locator(MaxNLocator(4))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: format_rate(x)))


def legend_outside(ax, **legend) -> None:
    """The legend right of the panel, outside the data (constrained layout makes room)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=10, frameon=False, **legend)


def one_bin_note(ax, results) -> None:
    """A run of one timeseries bin has no course over time: say so (its single value is drawn as a dot)."""
    if results.scenario.bin_width >= results.scenario.duration:
        ax.text(0.5, 0.9, f"one time bin (bin {format_duration(results.scenario.bin_width)} ≥ duration): "
                "no course over time to show; set `bin` smaller", transform=ax.transAxes, ha="center", va="top",
                fontsize=12, color="0.3")


def empty_note(ax, note: str) -> None:
    """Say in the panel why it holds nothing."""
    ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=13, color="0.25", wrap=True,
            zorder=10, bbox={"facecolor": "white", "alpha": 0.9, "edgecolor": "none"})


def legend_or_note(ax, note: str) -> None:
    """A legend when something is labelled; otherwise a note saying why the plot is empty."""
    if ax.get_legend_handles_labels()[0]:
        legend_outside(ax)
    else:
        empty_note(ax, note)


# --- rollouts, commits, read rate ----------------------------------------------------------------------------


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


def rollout_coverage(results, replication: int) -> float:
    """Share of [0, duration) during which a rollout was in progress."""
    duration = results.scenario.duration
    covered = sum(max(0.0, min(b, duration) - a) for a, b in rollout_spans(results, replication) if a < duration)
    return covered / duration


def shade_rollouts(ax, results, replication: int, divisor: float, label: bool = True) -> int:
    """Shade rollouts over the panel; when they cover most of the run, only a strip at the panel's top."""
    spans = rollout_spans(results, replication)
    instant = [a for a, b in spans if b <= a]
    spans = [(a, b) for a, b in spans if b > a]
    if instant:
        ax.vlines(np.array(instant) / divisor, 0.95, 1.0, transform=ax.get_xaxis_transform(), colors=COLORS["cqrs"],
                  lw=1.2, zorder=4, label="cqrs replica swap (ticks at the top;\ninstant: surge capacity, none leaves the pool)"
                  if label else None)
    if not spans:
        return len(instant)
    coverage = rollout_coverage(results, replication)
    strip = coverage > SHADE_AT_MOST
    # projections roll nothing out: a replica leaves the pool only to rebuild after a failure
    what, many = (("cqrs replica rebuilding\n(out of the pool after a failure)", "rebuilds")
                  if results.scenario.cqrs.sync.strategy == "projection" else ("cqrs rollout in progress", "rollouts"))
    text = f"{what}\n(strip at the top: {many}\ncover {format_percent(coverage, 2)} of the run)" if strip else what
    ax.broken_barh([(a / divisor, (b - a) / divisor) for a, b in spans], (0.96, 0.04) if strip else (0.0, 1.0),
                   transform=ax.get_xaxis_transform(), facecolor=COLORS["cqrs"], alpha=0.45 if strip else 0.12, lw=0,
                   label=text if label else None, zorder=0.5)
    return len(spans) + len(instant)


def commit_times(results, replication: int, arch: str | None = None) -> np.ndarray:
    """Commit times of ``arch``'s writes (by default cqrs's when simulated, else crud's)."""
    writes = results.writes
    arch = arch or ("cqrs" if "cqrs" in architectures(results) else "crud")
    commits = writes[(writes["architecture"] == arch) & (writes["replication"] == replication)]["commit"].to_numpy()
    return commits[np.isfinite(commits)]


def mark_commits(ax, results, replication: int, divisor: float, label: bool = True, color: str = "0.3",
                 until: float = np.inf, arch: str | None = None, row: int = 0) -> int:
    """Write commits up to ``until``: dotted lines across the panel, or ticks at its bottom when there are many
    (``row`` 1 puts the ticks just above row 0's). ``arch`` names whose commits; the label then says so."""
    commits = commit_times(results, replication, arch)
    commits = commits[commits <= until]
    if len(commits) == 0:
        return 0
    many = len(commits) > LINES_AT_MOST
    whose = f"{arch} " if arch else ""
    text = f"{whose}write commit ({len(commits)}: ticks at the bottom)" if many else f"{whose}write commit"
    ax.vlines(commits / divisor, 0.04 * row if many else 0.0, 0.04 * (row + 1) if many else 1.0,
              transform=ax.get_xaxis_transform(), colors=color, lw=0.9, linestyles="-" if many else ":",
              label=text if label else None, zorder=4)
    return len(commits)


def mark_design_commits(ax, results, replication: int, divisor: float, until: float = np.inf) -> int:
    """Write commits in the latency panel: one set when the designs commit at the same times (within a pixel of
    the time axis: crud's may wait a few ms for its lock), else each design's own, in its colour (designs with
    their own apply times commit at different times)."""
    designs = architectures(results)
    own = {arch: commit_times(results, replication, arch) for arch in designs}
    pixel = results.scenario.duration / (WIDTH * DPI)
    first = own[designs[0]] if designs else np.empty(0)
    same = all(len(c) == len(first) and np.allclose(c, first, rtol=0.0, atol=pixel) for c in own.values())
    if same:
        return mark_commits(ax, results, replication, divisor, until=until)
    return sum(mark_commits(ax, results, replication, divisor, color=COLORS[arch], until=until, arch=arch, row=row)
               for row, arch in enumerate(designs))


def offered_rate(results, t: np.ndarray) -> np.ndarray:
    """The scenario's read arrival rate (per second) at times ``t``: its steps, or its diurnal curve."""
    rate = results.scenario.workload.reads.rate
    if isinstance(rate, list):
        starts = np.array([s for s, _ in rate], dtype=float)
        values = np.array([r for _, r in rate], dtype=float)
        at = np.searchsorted(starts, t, side="right") - 1
        return np.where(at >= 0, values[np.clip(at, 0, None)], 0.0)
    return np.asarray(rate.diurnal.rate(t), dtype=float)


def read_rate_panel(ax, results, replication: int, divisor: float) -> None:
    """Offered read rate (the scenario's) and reads completed per second in each bin, per architecture."""
    duration, width = results.scenario.duration, results.scenario.bin_width
    t = np.linspace(0.0, duration, 1001)
    offered = offered_rate(results, t)
    ax.fill_between(t / divisor, offered, step="post" if isinstance(results.scenario.workload.reads.rate, list) else None,
                    color="0.8", lw=0, label="offered read rate (scenario)")
    ts = results.timeseries
    for arch in architectures(results):
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        if len(series):
            t0 = series["t"].to_numpy()
            widths = np.minimum(width, duration - t0)
            ax.step(t0 / divisor, series["reads_completed"].to_numpy() / widths, where="post", color=COLORS[arch],
                    lw=1.0, label=f"{arch} reads completed per second")
    rate_axis(ax.yaxis)
    highest = max([float(np.nanmax(line.get_ydata(), initial=0.0)) for line in ax.lines], default=0.0)
    top = 1.5 * float(offered.max()) if offered.any() else highest * 1.1
    if highest > top:
        ax.text(0.005, 0.95, f"bursts up to {format_rate(highest)} cut off at the top", transform=ax.transAxes,
                ha="left", va="top", fontsize=9, color="0.3")
    ax.set_ylim(bottom=0, top=max(1.0, top))
    ax.set_ylabel("read rate", fontsize=LABEL_SIZE - 1)
    if not offered.any() and not ax.lines:
        empty_note(ax, "no reads: the read rate is 0")
    elif not offered.any():
        ax.text(0.5, 0.5, "offered read rate 0: no reads", transform=ax.transAxes, ha="center", va="center",
                fontsize=11, color="0.3")
