"""Plain-text renderings shared by the CLI: the side-by-side table (with its caption) and the offered-load table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Optional

from rich.markup import escape
from rich.table import Table

from ..analysis.analytic import TierLoad
from ..analysis.definitions import METRICS
from ..core.safetext import rich_text
from ..config.fields import ARCHITECTURES
from ..config.scenario import MinDifference
from ..config.format import format_duration
from ..analysis.values import format_interval
from ..analysis.verdict import stopped_architectures, thresholds_sentence, winner

if TYPE_CHECKING:
    import pandas as pd


def _row_of(frame: pd.DataFrame, metric: str) -> dict | None:
    hit = frame[frame["metric"] == metric]
    return None if hit.empty else hit.iloc[0].to_dict()


def shown_metrics(summary: pd.DataFrame) -> list[str]:
    """The table's rows: every metric the summary holds, in report order (cost_per_hour only when priced)."""
    present = set(summary["metric"])
    return [metric for metric in METRICS if metric in present]


def incomplete_note(incomplete: Iterable[dict]) -> str:
    """What a stopped run means for the table, or "" when every run finished."""
    stopped = stopped_architectures(incomplete)
    if not stopped:
        return ""
    return (f"INCOMPLETE: {' and '.join(stopped)} stopped by the runaway guard (limits.max_in_system); "
            "its numbers cover only what finished before the stop, and no conclusion is drawn from them")


def table_caption(scenario, incomplete: Iterable[dict] = ()) -> str:
    """What the cells of the comparison table are."""
    note = incomplete_note(incomplete)
    return ((f"{note}.\n" if note else "")
            + f"mean ± half-width of the 95% Student-t interval over {scenario.replications} replication(s), "
            f"seed {scenario.seed}; a percentile such as p99 is the mean over replications of each run's p99 "
            f"(the latency CDF plot pools the reads of all replications instead); requests arriving in [{format_duration(scenario.warmup)}, "
            f"{format_duration(scenario.duration)}); differences paired by replication; "
            "green/red: cqrs significantly better/worse, bold: a significant difference in a metric that is "
            "neither better nor worse. " + thresholds_sentence(scenario.verdict.min_difference))


def cell_states(summary: pd.DataFrame, diff: pd.DataFrame, incomplete: Iterable[dict] = (),
                min_difference: Optional[MinDifference] = None) -> dict[str, str]:
    """metric -> 'crud' | 'cqrs' (significantly better) | 'differs' (significant, neutral metric); others absent.
    A difference counts from ``min_difference`` (the scenario's ``verdict.min_difference``; default: the schema's)."""
    if stopped_architectures(incomplete):
        return {}
    states = {}
    for metric in METRICS:
        crud = _row_of(summary[summary["architecture"] == "crud"], metric)
        cqrs = _row_of(summary[summary["architecture"] == "cqrs"], metric)
        row = _row_of(diff, metric)
        if crud is None or cqrs is None or row is None:
            continue
        state = winner(metric, crud["mean"], cqrs["mean"], row["mean"], row["ci_low"], row["ci_high"], min_difference)
        if state in ("crud", "cqrs", "differs"):
            states[metric] = state
    return states


def comparison_table(summary: pd.DataFrame, diff: pd.DataFrame, title: str, incomplete: Iterable[dict] = (),
                     min_difference: Optional[MinDifference] = None) -> Table:
    """metric | crud | cqrs | cqrs − crud, each mean ± the 95% interval's half-width; significant differences in colour."""
    incomplete = list(incomplete)
    archs = [a for a in ARCHITECTURES if a in set(summary["architecture"])]
    note = incomplete_note(incomplete)
    title = rich_text(title)  # the scenario's name: the user's text
    table = Table(title=f"{title}\n[bold red]{note}[/bold red]" if note else title, title_justify="left", caption_justify="left")
    table.add_column("metric")
    for arch in archs:
        table.add_column(arch + (" (stopped)" if arch in stopped_architectures(incomplete) else ""), justify="right")
    if len(archs) == 2:
        table.add_column("cqrs − crud (paired)", justify="right")
    states = cell_states(summary, diff, incomplete, min_difference) if len(archs) == 2 else {}
    for metric in shown_metrics(summary):
        state = states.get(metric)
        cells = [f"[bold]{metric}[/bold]" if state else metric]
        for arch in archs:
            row = _row_of(summary[summary["architecture"] == arch], metric)
            text = "-" if row is None else escape(format_interval(metric, row["mean"], row["ci_low"], row["ci_high"]))
            cells.append(f"[bold green]{text}[/bold green]" if state == arch else text)
        if len(archs) == 2:
            row = _row_of(diff, metric)
            text = "-" if row is None else escape(format_interval(metric, row["mean"], row["ci_low"], row["ci_high"]))
            style = {"cqrs": "green", "crud": "red", "differs": "bold"}.get(state or "")
            cells.append(f"[{style}]{text}[/{style}]" if style else text)
        table.add_row(*cells)
    return table


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
