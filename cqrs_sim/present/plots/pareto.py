"""The optimize plot: one panel per SLO metric, every design's cost against that metric, the Pareto front,
the SLO's bound, and the cheapest design meeting every SLO. Drawn from the answer's plain data
(``optimize.json``), so it can be redrawn without simulating."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ...analysis.slo import parse_slo
from ...analysis.definitions import METRICS
from ...core.safetext import plot_text
from ...config.fields import ARCHITECTURES
from ...analysis.values import format_value
from .style import COLORS, DPI, LABEL_SIZE, TICK_SIZE, TITLE_SIZE, WIDTH, duration_axis, empty_note, percent_axis


def _stats(design: dict, metric: str) -> tuple[float, float, float]:
    """(mean, low, high) of a metric, NaN where missing; the bounds are the mean without an interval."""
    stats = design["metrics"].get(metric) or {}
    mean = stats.get("mean")
    mean = math.nan if mean is None else float(mean)
    low, high = stats.get("ci_low"), stats.get("ci_high")
    return mean, mean if low is None else float(low), mean if high is None else float(high)


def _value_axis(axis, metric: str, log: bool = False) -> None:
    unit = METRICS.get(metric, ("", ""))[0]
    if unit == "s":
        duration_axis(axis, log=log)
    elif unit == "":
        percent_axis(axis)
    else:
        axis.set_major_formatter(FuncFormatter(lambda x, _pos: format_value(metric, x)))


def _panel(ax, answer: dict[str, Any], metric: str) -> None:
    designs, minimize = answer["designs"], answer["minimize"]
    shown = [d for d in designs if not d["incomplete"]
             and math.isfinite(_stats(d, minimize)[0]) and math.isfinite(_stats(d, metric)[0])]
    if not shown:
        empty_note(ax, f"no design has both {minimize} and {metric}")
        return
    for design in shown:
        x, x_low, x_high = _stats(design, minimize)
        y, y_low, y_high = _stats(design, metric)
        color = COLORS.get(design["architecture"], "0.3")
        ax.errorbar([x], [y], xerr=[[x - x_low], [x_high - x]], yerr=[[y - y_low], [y_high - y]], fmt="none",
                    ecolor=color, alpha=0.45, lw=1.2, zorder=2)
        ax.plot([x], [y], "o", ms=8, color=color, markerfacecolor=color if design["meets"] else "white",
                markeredgewidth=1.6, zorder=3, clip_on=False)
    front = [designs[k] for k in answer["pareto"].get(metric, [])]
    if front:
        xs = [_stats(d, minimize)[0] for d in front]
        ys = [_stats(d, metric)[0] for d in front]
        ax.step(xs, ys, where="post", color="0.25", lw=1.4, ls="--", zorder=1)
        if len(front) <= 12:  # name the front's designs by their varied values; equal points stack their names
            seen: dict[tuple[float, float], int] = {}
            for design, x, y in zip(front, xs, ys):
                stack = seen[x, y] = seen.get((x, y), -1) + 1
                text = ", ".join(f"{path.rsplit('.', 1)[-1]}={format_value(path, value)}"
                                 for path, value in design["settings"].items()) or design["architecture"]
                ax.annotate(plot_text(text), (x, y), xytext=(6, 6 + 12 * stack), textcoords="offset points", fontsize=9,
                            color=COLORS.get(design["architecture"], "0.3"))
    for text in answer["slos"]:
        slo = parse_slo(text)
        if slo.metric == metric:
            ax.axhline(slo.bound, color="#b00020", lw=1.2, ls=":", zorder=1)
            ax.annotate(f"SLO {slo.op} {format_value(metric, slo.bound)}", (1.0, slo.bound), xycoords=("axes fraction", "data"),
                        xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=10, color="#b00020")
    if answer["answer"] is not None:
        best = designs[answer["answer"]]
        ax.plot([_stats(best, minimize)[0]], [_stats(best, metric)[0]], "*", ms=22, color="gold", markeredgecolor="black",
                zorder=4, clip_on=False)
    values = np.array([_stats(d, metric)[0] for d in shown] + [parse_slo(t).bound for t in answer["slos"]
                                                               if parse_slo(t).metric == metric])
    positive = values[np.isfinite(values) & (values > 0)]
    log = METRICS.get(metric, ("", ""))[0] == "s" and len(positive) > 0 and positive.max() / positive.min() > 50
    if log:
        ax.set_yscale("log")
    elif METRICS.get(metric, ("", ""))[0] in ("s", "") and len(positive):
        top = 1.12 * float(positive.max())
        highs = np.array([_stats(d, metric)[2] for d in shown])
        highs = highs[np.isfinite(highs)]
        reach = float(highs.max()) * 1.05 if len(highs) else 0.0
        ax.set_ylim(0, max(top, min(reach, 2 * top)))  # intervals show unless one would squash the means
    ax.margins(x=0.08, y=0.1 if log else ax.margins()[1])
    _value_axis(ax.yaxis, metric, log)
    _value_axis(ax.xaxis, minimize)
    ax.set_xlabel(f"{minimize} (mean, 95% CI)", fontsize=LABEL_SIZE - 1)
    ax.set_ylabel(f"{metric} (mean, 95% CI)", fontsize=LABEL_SIZE - 1)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3)


def pareto_fronts(answer: dict[str, Any]) -> Figure:
    """Cost against each SLO metric: filled markers meet every SLO, hollow ones do not; dashed: the Pareto front;
    dotted red: the SLO's bound; gold star: the cheapest design meeting every SLO."""
    metrics = answer["slo_metrics"]
    fig = Figure(figsize=(WIDTH, 5.5 if len(metrics) < 3 else 9.0), dpi=DPI, layout="constrained")
    columns = min(len(metrics), 2)
    axes = fig.subplots((len(metrics) + columns - 1) // columns, columns, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics):
        _panel(ax, answer, metric)
        ax.set_title(f"{answer['minimize']} against {metric}", fontsize=LABEL_SIZE)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    archs = [a for a in ARCHITECTURES if any(d["architecture"] == a for d in answer["designs"])]
    handles = [Line2D([], [], ls="none", marker="o", ms=8, color=COLORS[a], label=a) for a in archs]
    handles += [Line2D([], [], ls="none", marker="o", ms=8, color="0.3", markerfacecolor="white",
                       label="misses an SLO (hollow)"),
                Line2D([], [], color="0.25", ls="--", label="Pareto front"),
                Line2D([], [], color="#b00020", ls=":", label="SLO bound")]
    if answer["answer"] is not None:
        handles.append(Line2D([], [], ls="none", marker="*", ms=16, color="gold", markeredgecolor="black",
                              label="cheapest meeting every SLO"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=10, frameon=False)
    if answer["answer"] is not None:
        best = answer["designs"][answer["answer"]]
        what = f"answer: {plot_text(best['label'])}, {format_value(answer['minimize'], _stats(best, answer['minimize'])[0])}"
    else:
        what = "no design meets every SLO"
    fig.suptitle(plot_text(f"{answer['scenario']}: {len(answer['designs'])} designs, SLOs {', '.join(answer['slos'])}")
                 + f"\n{plot_text(what)}",
                 fontsize=TITLE_SIZE)
    return fig


def save_pareto(answer: dict[str, Any], directory: str | Path, fmt: str = "png") -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"pareto.{fmt}"
    pareto_fronts(answer).savefig(path, format=fmt)
    return path


__all__ = ["pareto_fronts", "save_pareto"]
