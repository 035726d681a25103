"""``report.html``: one self-contained page with the scenario, the table, every plot and a verdict.

Figures are embedded as base64 PNG, styles are inline, and nothing is
fetched from the network, so the file can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

from .loader import resolved_yaml
from .metrics import METRICS
from .plots import available
from .report import format_interval
from .plotdata import load_plot_results
from .results import Results
from .units import format_duration
from .verdict import verdict

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1240px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.95rem; }
th, td { padding: 0.3rem 0.8rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace; }
th { background: #f4f4f4; }
td.better { color: #1b7a4f; font-weight: 600; } td.worse { color: #b4410a; font-weight: 600; }
ul.verdict li { margin: 0.35rem 0; } .win-cqrs { color: #1b9e77; font-weight: 600; }
.win-crud { color: #d95f02; font-weight: 600; } .win-none { color: #555; font-weight: 600; }
figure { margin: 1.5rem 0; } figure img { width: 100%; max-width: 1200px; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(metric: str, row) -> str:
    if row is None:
        return "-"
    low = None if row["ci_low"] is None or (isinstance(row["ci_low"], float) and math.isnan(row["ci_low"])) else row["ci_low"]
    high = None if row["ci_high"] is None or (isinstance(row["ci_high"], float) and math.isnan(row["ci_high"])) else row["ci_high"]
    return html.escape(format_interval(metric, row["mean"], low, high))


def _table(results: Results, winners: dict[str, str]) -> str:
    summary, diff = results.summary(), results.differences()
    archs = [a for a in ("crud", "cqrs") if a in set(summary["architecture"])]
    head = "".join(f"<th>{a}</th>" for a in archs) + ("<th>cqrs − crud (paired)</th>" if len(archs) == 2 else "")
    rows = []
    for metric in METRICS:
        cells = [f"<td title='{html.escape(METRICS[metric][1])}'>{metric}</td>"]
        for arch in archs:
            hit = summary[(summary["architecture"] == arch) & (summary["metric"] == metric)]
            row = None if hit.empty else hit.iloc[0].to_dict()
            css = ""
            if winners.get(metric) in ("crud", "cqrs"):
                css = " class='better'" if winners[metric] == arch else ""
            cells.append(f"<td{css}>{_cell(metric, row)}</td>")
        if len(archs) == 2:
            hit = diff[diff["metric"] == metric]
            cells.append(f"<td>{_cell(metric, None if hit.empty else hit.iloc[0].to_dict())}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def render(results: Results) -> str:
    """The report as one HTML string."""
    scenario = results.scenario
    lines = verdict(results.summary(), results.differences())
    winners = {metric: winner for metric, winner, _ in lines}
    items = "".join(f"<li><span class='win-{w if w in ('crud', 'cqrs') else 'none'}'>"
                    f"{'cqrs' if w == 'cqrs' else 'crud' if w == 'crud' else '—'}</span> {html.escape(text)}</li>"
                    for _, w, text in lines)
    figures = "".join(
        f"<figure><img alt='{name}' src='data:image/png;base64,{_png(plot(results))}'></figure>"
        for name, plot in available(results).items())
    manifest = results.manifest
    packages = ", ".join(f"{k} {v}" for k, v in manifest.get("packages", {}).items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cqrs-sim: {html.escape(scenario.name)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(scenario.name)}</h1>
<p class="sub">{html.escape(scenario.description)}</p>
<p>{scenario.replications} replication(s), seed {scenario.seed}; requests arriving in
[{format_duration(scenario.warmup)}, {format_duration(scenario.duration)}); record: {scenario.record}.
Each cell is the mean over replications ± the half-width of its 95% Student-t interval; the last column is the
difference cqrs − crud paired by replication (both saw the same random numbers).</p>
<h2>Verdict</h2>
<ul class="verdict">{items or "<li>Only one architecture was simulated: nothing to compare.</li>"}</ul>
<h2>Metrics</h2>
{_table(results, winners)}
<h2>Plots</h2>
{figures}
<h2>Scenario (resolved)</h2>
<pre>{html.escape(resolved_yaml(scenario))}</pre>
<p class="sub">{html.escape(packages)}; simulated in {manifest.get("wall_time_s", "?")} s.</p>
</body></html>
"""


def write_report(directory: str | Path) -> Path:
    """Write DIR/report.html from the saved results in DIR."""
    directory = Path(directory)
    results = load_plot_results(directory)
    target = directory / "report.html"
    partial = directory / ".report.html.partial"
    partial.write_text(render(results), encoding="utf-8")
    partial.replace(target)
    return target


def format_headline(results: Results) -> list[str]:
    """The verdict sentences, for the terminal."""
    return [text for _, _, text in verdict(results.summary(), results.differences())]


__all__ = ["format_headline", "render", "write_report"]
