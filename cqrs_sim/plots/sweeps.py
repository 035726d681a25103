"""Sweep plots: a metric against a varied parameter (CI bands), or a heatmap over two varied parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..scenario import ARCHITECTURES
from .style import COLORS, LABEL_SIZE, TITLE_SIZE, figure

#: metrics drawn for a sweep, in order
SWEEP_METRICS = ("read_latency_p99", "read_latency_mean", "stale_read_fraction", "visibility_window_mean",
                 "replica_availability", "write_latency_mean")


def _numeric(series: pd.Series) -> bool:
    return pd.to_numeric(series, errors="coerce").notna().all()


def metric_vs_parameter(table: pd.DataFrame, metric: str, parameter: str, name: str) -> Figure:
    """Mean and 95% CI band per architecture (and per value of a second parameter, if any)."""
    fig, (ax,) = figure()
    rows = table[table["metric"] == metric]
    fraction = metric in ("stale_read_fraction", "replica_availability", "db_utilization")
    others = [c for c in table.columns if c not in ("point", "architecture", "metric", "mean", "ci_low", "ci_high", "n", parameter)]
    groups = rows.groupby(others, dropna=False) if others else [((), rows)]
    styles = ["-", "--", ":", "-."]
    for k, (key, group) in enumerate(groups):
        suffix = "" if not others else ", " + ", ".join(f"{o}={v}" for o, v in zip(others, key if isinstance(key, tuple) else (key,)))
        for arch, line in group.groupby("architecture"):
            line = line.sort_values(parameter)
            x = pd.to_numeric(line[parameter]) if _numeric(line[parameter]) else line[parameter].astype(str)
            ax.plot(x, line["mean"], styles[k % 4], marker="o", color=COLORS.get(arch, "0.3"), lw=2, label=f"{arch}{suffix}")
            if line["ci_low"].notna().any():
                low, high = line["ci_low"].clip(lower=0), line["ci_high"]
                if fraction:
                    high = high.clip(upper=1)
                ax.fill_between(x, low, high, color=COLORS.get(arch, "0.3"), alpha=0.15, lw=0)
    values = rows["mean"].to_numpy(dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    if metric.startswith("read_latency") and len(positive) and positive.max() / positive.min() > 50:
        ax.set_yscale("log")
    ax.set_xlabel(parameter, fontsize=LABEL_SIZE)
    clip = "[0, 1]" if fraction else "≥ 0"
    ax.set_ylabel(f"{metric}\n(mean; 95% CI band, clipped to {clip})", fontsize=LABEL_SIZE)
    ax.legend(fontsize=10)
    fig.suptitle(f"{name}: {metric} against {parameter}", fontsize=TITLE_SIZE)
    return fig


def heatmap(table: pd.DataFrame, metric: str, x: str, y: str, name: str) -> Figure:
    """One panel per architecture: the metric's mean over the grid of two varied parameters."""
    archs = [a for a in ARCHITECTURES if a in set(table["architecture"])]
    fig = Figure(figsize=(12, 5.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(archs), squeeze=False)[0]
    rows = table[table["metric"] == metric]
    for ax, arch in zip(axes, archs):
        grid = rows[rows["architecture"] == arch].pivot_table(index=y, columns=x, values="mean")
        image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns])
        ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index])
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(value):
                bright = image.norm(value) > 0.6  # viridis is light at the top
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="black" if bright else "white", fontsize=10)
        ax.set_xlabel(x, fontsize=LABEL_SIZE)
        ax.set_ylabel(y, fontsize=LABEL_SIZE)
        ax.set_title(arch, color=COLORS[arch], fontsize=LABEL_SIZE)
        fig.colorbar(image, ax=ax, label=f"{metric} (mean)")
    fig.suptitle(f"{name}: {metric} over {x} × {y}", fontsize=TITLE_SIZE)
    return fig


def save_sweep_plots(table: pd.DataFrame, parameters: list[str], name: str, directory: str | Path, fmt: str = "png") -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
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
