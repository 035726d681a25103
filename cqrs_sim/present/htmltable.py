"""The side-by-side table of a result as HTML (and what its metrics mean): in ``report.html`` and in a notebook.

Light on purpose: no matplotlib, so that showing results in a notebook or
importing :mod:`cqrs_sim.io.results` loads no plotting library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.definitions import METRICS
from ..analysis.values import format_interval
from ..analysis.verdict import stopped_architectures
from ..config.fields import ARCHITECTURES
from ..core.safetext import html_text
from .report import cell_states, incomplete_note, shown_metrics

if TYPE_CHECKING:
    from ..io.results import Results


def _cell(metric: str, row) -> str:
    if row is None:
        return "-"
    return html_text(format_interval(metric, row["mean"], row["ci_low"], row["ci_high"]))


def _table(results: Results) -> str:
    summary, diff = results.summary(), results.differences()
    archs = [a for a in ARCHITECTURES if a in set(summary["architecture"])]
    stopped = stopped_architectures(results.incomplete)
    head = "".join(f"<th>{a}{' (stopped)' if a in stopped else ''}</th>" for a in archs)
    head += "<th>cqrs − crud (paired)</th>" if len(archs) == 2 else ""
    states = cell_states(summary, diff, results.incomplete, results.scenario.verdict.min_difference) if len(archs) == 2 else {}
    rows = []
    for metric in shown_metrics(summary):
        state = states.get(metric)
        cells = [f"<td title='{html_text(METRICS[metric].text())}'>{metric}</td>"]
        for arch in archs:
            hit = summary[(summary["architecture"] == arch) & (summary["metric"] == metric)]
            row = None if hit.empty else hit.iloc[0].to_dict()
            cells.append(f"<td{' class=better' if state == arch else ''}>{_cell(metric, row)}</td>")
        if len(archs) == 2:
            hit = diff[diff["metric"] == metric]
            css = {"cqrs": " class=better", "crud": " class=worse", "differs": " class=differs"}.get(state or "", "")
            cells.append(f"<td{css}>{_cell(metric, None if hit.empty else hit.iloc[0].to_dict())}</td>")
        rows.append(f"<tr{' class=significant' if state else ''}>" + "".join(cells) + "</tr>")
    note = incomplete_note(results.incomplete)
    caption = f"<caption class='incomplete'>{html_text(note)}.</caption>" if note else ""
    return f"<table>{caption}<tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _definitions(results: Results) -> str:
    """What each metric in the table means (its one definition, :mod:`cqrs_sim.analysis.definitions`)."""
    rows = "".join(f"<tr><td>{metric}</td><td class=definition>{html_text(METRICS[metric].text())}</td></tr>"
                   for metric in shown_metrics(results.summary()))
    return f"<table class=definitions><tr><th>metric</th><th class=definition>definition</th></tr>{rows}</table>"
