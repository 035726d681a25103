"""Plain-text renderings shared by the CLI: the side-by-side table and the offered-load table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

from .analytic import TierLoad
from .metrics import LOWER_IS_BETTER, METRICS, NEUTRAL
from .units import format_duration

if TYPE_CHECKING:
    import pandas as pd


def format_value(metric: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    unit = METRICS.get(metric, ("", ""))[0]
    if unit == "s":
        return format_duration(value)
    if unit == "1/s":
        return f"{value:,.1f}/s"
    if unit in ("reads", "writes"):
        return f"{value:,.1f}" if value != int(value) else f"{int(value):,}"
    return f"{value:.2%}" if abs(value) < 10 else f"{value:.3g}"


def format_interval(metric: str, mean: float, low: float | None, high: float | None) -> str:
    text = format_value(metric, mean)
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return text
    half = (high - low) / 2
    if half <= 1e-9 * max(abs(mean), 1e-12):  # identical replications (or float noise around them)
        return text
    return f"{text} ± {format_value(metric, half)}"


def _row_of(frame: pd.DataFrame, metric: str) -> dict | None:
    hit = frame[frame["metric"] == metric]
    return None if hit.empty else hit.iloc[0].to_dict()


def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def comparison_table(summary: pd.DataFrame, diff: pd.DataFrame, title: str) -> Table:
    """metric | crud | cqrs | cqrs − crud, each mean ± the 95% interval's half-width."""
    archs = [a for a in ("crud", "cqrs") if a in set(summary["architecture"])]
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for arch in archs:
        table.add_column(arch, justify="right")
    if len(archs) == 2:
        table.add_column("cqrs − crud (paired)", justify="right")
    for metric in METRICS:
        cells = [metric]
        for arch in archs:
            row = _row_of(summary[summary["architecture"] == arch], metric)
            cells.append("-" if row is None else format_interval(metric, row["mean"], _num(row["ci_low"]), _num(row["ci_high"])))
        if len(archs) == 2:
            row = _row_of(diff, metric)
            cells.append("-" if row is None else _diff_cell(metric, row))
        table.add_row(*cells)
    return table


def _diff_cell(metric: str, row: dict) -> str:
    low, high = _num(row["ci_low"]), _num(row["ci_high"])
    text = format_interval(metric, row["mean"], low, high)
    if metric in NEUTRAL or low is None or high is None:
        return text
    if low > 0 or high < 0:
        better = (high < 0) == (metric in LOWER_IS_BETTER)
        return f"[green]{text}[/green]" if better else f"[red]{text}[/red]"
    return text


def loads_table(loads: list[TierLoad]) -> Table:
    table = Table(title="offered load (utilisation = arrival rate × mean service / capacity)", title_justify="left")
    for name, justify in (("architecture", "left"), ("tier", "left"), ("arrivals", "right"), ("mean service", "right"),
                          ("capacity", "right"), ("utilisation", "right"), ("at peak", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in loads:
        rho = "-" if math.isinf(t.utilization) else f"{t.utilization:.3f}"
        peak = "-" if math.isinf(t.peak_utilization) else f"{t.peak_utilization:.3f}"
        style = "red" if t.warning else None
        arrivals = f"{t.arrival_rate:,.4g}/s" if t.tier != "rollouts" else f"{t.arrival_rate * 3600:.3g}/h"
        table.add_row(t.architecture, t.tier, arrivals, format_duration(t.mean_service), str(t.capacity), rho, peak,
                      style=style)
    return table


def estimate_lines(loads: list[TierLoad]) -> list[str]:
    """One line per tier: the analytic estimate shown beside its utilisation."""
    return [f"{t.architecture} {t.tier}: {t.estimate}" for t in loads]
