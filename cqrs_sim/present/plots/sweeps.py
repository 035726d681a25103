"""Sweep plots: one overview (a panel per headline metric against the varied path), and on request a file per
metric against each varied path (CI bands) and heatmaps over two varied paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...analysis.definitions import METRICS
from ...core.safetext import plot_text
from ...config.fields import ARCHITECTURES
from ...config.format import format_duration, format_percent
from .style import COLORS, DPI, LABEL_SIZE, TICK_SIZE, TITLE_SIZE, WIDTH, duration_axis, empty_note, percent_axis

#: metrics drawn for a sweep (one file each with --all-plots), in order
SWEEP_METRICS = ("read_latency_p99", "read_latency_mean", "stale_read_fraction", "visibility_window_mean",
                 "replica_availability", "write_latency_mean")
#: the overview's panels
HEADLINE = ("read_latency_p99", "stale_read_fraction", "visibility_window_mean", "write_latency_mean")
TITLES = {"read_latency_p99": "p99 read latency", "stale_read_fraction": "stale-read fraction",
          "visibility_window_mean": "visibility window (mean): commit until every replica has it",
          "write_latency_mean": "write latency (mean): arrival until commit"}
FIXED = ("point", "architecture", "metric", "mean", "ci_low", "ci_high", "n")
STYLES = ["-", "--", ":", "-."]
WHY_EMPTY = {"visibility_window_mean": "no write committed at any point:\nnothing to become visible",
             "write_latency_mean": "no write committed at any point", "stale_read_fraction": "no reads at any point",
             "read_latency_p99": "no reads at any point", "read_latency_mean": "no reads at any point"}


def _numeric(series: pd.Series) -> bool:
    return pd.to_numeric(series, errors="coerce").notna().all()


def _text(value) -> str:
    """A varied path's value as a label: numbers without a trailing .0."""
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return f"{number:g}" if pd.notna(number) else plot_text(value)


def _value_ticks(ax, table: pd.DataFrame, parameter: str) -> None:
    """The varied values themselves as ticks, when they are few numbers."""
    values = table[parameter].drop_duplicates()
    if _numeric(values) and len(values) <= 12:
        numbers = sorted(pd.to_numeric(values).tolist())
        ax.set_xticks(numbers, [_text(v) for v in numbers])


def _unit(metric: str) -> str:
    return METRICS.get(metric, ("", ""))[0]


def _value_axis(ax, metric: str, values: np.ndarray) -> None:
    """Durations in one unit (log when they span 50x), fractions as %."""
    unit = _unit(metric)
    positive = values[np.isfinite(values) & (values > 0)]
    if unit == "s":
        log = metric.startswith("read_latency") and len(positive) > 0 and positive.max() / positive.min() > 50
        if log:
            ax.set_yscale("log")
        duration_axis(ax.yaxis, log=log)
    elif unit == "":
        percent_axis(ax.yaxis)
    if ax.get_yscale() == "linear":
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.08 * float(positive.max()) if len(positive) else 1.0))


def _lines(ax, table: pd.DataFrame, metric: str, parameter: str) -> list[str]:
    """Mean and 95% CI band per architecture; line style per value of the other varied paths.
    Returns the legend text of each line style used (empty with one varied path)."""
    rows = table[table["metric"] == metric]
    others = [c for c in table.columns if c not in FIXED and c != parameter]
    groups = list(rows.groupby(others, dropna=False)) if others else [((), rows)]
    fraction = _unit(metric) == ""
    styles = []
    for k, (key, group) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        styles.append(", ".join(f"{plot_text(o)}={_text(v)}" for o, v in zip(others, key)))
        for arch in ARCHITECTURES:
            line = group[group["architecture"] == arch].sort_values(parameter)
            if line.empty or line["mean"].isna().all():
                continue
            x = pd.to_numeric(line[parameter]) if _numeric(line[parameter]) else line[parameter].map(_text)
            wide = arch == "crud"  # drawn first and wider, so that equal lines both show
            ax.plot(x, line["mean"], STYLES[k % len(STYLES)], marker="s" if wide else "o", ms=6 if wide else 4,
                    color=COLORS.get(arch, "0.3"), lw=3.2 if wide else 1.6)
            if line["ci_low"].notna().any():
                low, high = line["ci_low"].clip(lower=0), line["ci_high"]
                if fraction:
                    high = high.clip(upper=1)
                ax.fill_between(x, low, high, color=COLORS.get(arch, "0.3"), alpha=0.15, lw=0)
    return styles if others else []


def _handles(table: pd.DataFrame, styles: list[str]) -> list[Line2D]:
    """One legend entry per architecture (colour) and one per value of the other varied paths (line style)."""
    archs = [a for a in ARCHITECTURES if a in set(table["architecture"])]
    handles = [Line2D([], [], color=COLORS[a], lw=3.2 if a == "crud" else 1.6, marker="s" if a == "crud" else "o",
                      ms=6 if a == "crud" else 4, label=a) for a in archs]
    return handles + [Line2D([], [], color="0.3", lw=1.5, ls=STYLES[k % len(STYLES)], label=s) for k, s in enumerate(styles)]


def _panel(ax, table: pd.DataFrame, metric: str, parameter: str) -> list[str]:
    rows = table[table["metric"] == metric]
    ax.set_xlabel(plot_text(parameter), fontsize=LABEL_SIZE - 1)
    if rows.empty or rows["mean"].isna().all():
        empty_note(ax, WHY_EMPTY.get(metric, f"{metric}: no value at any point"))
        ax.set_xticks([])
        ax.set_yticks([])
        return []
    styles = _lines(ax, table, metric, parameter)
    _value_axis(ax, metric, rows["mean"].to_numpy(dtype=float))
    _value_ticks(ax, table, parameter)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3)
    return styles


def overview(table: pd.DataFrame, parameters: list[str], name: str) -> Figure:
    """The headline metrics against the first varied path, one panel each (mean and 95% CI band)."""
    parameter = parameters[0]
    fig = Figure(figsize=(WIDTH, 7.0), dpi=DPI, layout="constrained")
    axes = fig.subplots(2, 2, squeeze=False).ravel()
    styles: list[str] = []
    for ax, metric in zip(axes, HEADLINE):
        ax.set_title(TITLES[metric], fontsize=LABEL_SIZE - 1)
        styles = _panel(ax, table, metric, parameter) or styles
    handles = _handles(table, styles)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=10, frameon=False)
    bands = "mean over replications, 95% CI band"
    lines = f" (lines: {', '.join(parameters[1:])})" if len(parameters) > 1 else ""
    fig.suptitle(plot_text(f"{name}: sweep of {parameter}{lines}") + f"\n{bands}; {table['point'].nunique()} point(s)", fontsize=TITLE_SIZE)
    return fig


def metric_vs_parameter(table: pd.DataFrame, metric: str, parameter: str, name: str) -> Figure:
    """Mean and 95% CI band per architecture (and per value of a second parameter, if any)."""
    fig = Figure(figsize=(WIDTH, 6.0), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    styles = _panel(ax, table, metric, parameter)
    if not table[table["metric"] == metric]["mean"].isna().all():
        ax.legend(handles=_handles(table, styles), loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  fontsize=10, frameon=False)
    clip = "[0, 100%]" if _unit(metric) == "" else "≥ 0"
    ax.set_ylabel(f"{metric}\n(mean; 95% CI band, clipped to {clip})", fontsize=LABEL_SIZE)
    fig.suptitle(plot_text(f"{name}: {metric} against {parameter}"), fontsize=TITLE_SIZE)
    return fig


def _cell_text(metric: str, value: float) -> str:
    unit = _unit(metric)
    if unit == "s":
        return format_duration(value)
    if unit == "":
        return format_percent(value)
    return f"{value:.3g}"


def heatmap(table: pd.DataFrame, metric: str, x: str, y: str, name: str) -> Figure:
    """One panel per architecture: the metric's mean over the grid of two varied parameters, on one colour scale."""
    archs = [a for a in ARCHITECTURES if a in set(table["architecture"])]
    fig = Figure(figsize=(WIDTH, 5.5), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(archs), squeeze=False)[0]
    rows = table[table["metric"] == metric]
    values = rows["mean"].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    constant = len(finite) > 0 and hi - lo <= 1e-12 * max(abs(hi), 1.0)
    norm = Normalize(lo - 1, hi + 1) if constant else Normalize(lo, hi)
    image = None
    for ax, arch in zip(axes, archs):
        grid = rows[rows["architecture"] == arch].pivot_table(index=y, columns=x, values="mean", dropna=False)
        data = grid.to_numpy(dtype=float)
        image = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis", norm=norm)
        ax.set_xticks(range(len(grid.columns)), [_text(c) for c in grid.columns])
        ax.set_yticks(range(len(grid.index)), [_text(i) for i in grid.index])
        for (i, j), value in np.ndenumerate(data):
            if np.isfinite(value):
                bright = norm(value) > 0.6  # viridis is light at the top
                ax.text(j, i, _cell_text(metric, value), ha="center", va="center", color="black" if bright else "white",
                        fontsize=10)
        if not np.isfinite(data).any():
            empty_note(ax, WHY_EMPTY.get(metric, "no value at any point"))
        ax.set_xlabel(plot_text(x), fontsize=LABEL_SIZE)
        ax.set_ylabel(plot_text(y), fontsize=LABEL_SIZE)
        ax.set_title(arch, color=COLORS[arch], fontsize=LABEL_SIZE)
    title = plot_text(f"{name}: {metric} over {x} × {y}")
    if constant:
        title += f"\n{metric} is {_cell_text(metric, lo)} at every point: no colour scale"
    elif image is not None and len(finite):
        bar = fig.colorbar(image, ax=list(axes), label=f"{metric} (mean)")
        if _unit(metric) == "s":
            duration_axis(bar.ax.yaxis)
        elif _unit(metric) == "":
            percent_axis(bar.ax.yaxis)
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig


def save_sweep_plots(table: pd.DataFrame, parameters: list[str], name: str, directory: str | Path, fmt: str = "png",
                     every_metric: bool = False) -> list[Path]:
    """Draw ``overview.<fmt>``; with ``every_metric``, also a file per metric and varied path (and heatmaps)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"overview.{fmt}"
    overview(table, parameters, name).savefig(path, format=fmt)
    paths = [path]
    if not every_metric:
        return paths
    metrics = [m for m in SWEEP_METRICS if m in set(table["metric"])]
    for metric in metrics:
        if table[table["metric"] == metric]["mean"].isna().all():
            continue
        for parameter in parameters:
            path = directory / f"{metric}__vs__{parameter}.{fmt}"
            metric_vs_parameter(table, metric, parameter, name).savefig(path, format=fmt)
            paths.append(path)
        if len(parameters) == 2:
            path = directory / f"{metric}__heatmap.{fmt}"
            heatmap(table, metric, parameters[0], parameters[1], name).savefig(path, format=fmt)
            paths.append(path)
    return paths
