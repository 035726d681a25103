"""``report.html``: one self-contained page with the scenario, the table, every plot and a verdict.

:func:`render` writes the page of given results; :func:`cqrs_sim.io.plotdata.write_report` writes it into a
result directory.

Figures are embedded as base64 PNG, styles are inline, and nothing is
fetched from the network, so the file can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

from ..config.loader import dump_yaml
from .plots import available
from .report import incomplete_note
from ..core.safetext import html_text
from ..config.resolved import resolved_dict
from ..config.format import format_duration
from ..config.paths import with_units
from ..analysis.verdict import decision, thresholds_sentence, verdict
from .htmltable import _definitions, _table

from ..analysis.outages import outage_lines, outage_summary

if TYPE_CHECKING:
    from ..io.results import Results

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1240px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.95rem; }
th, td { padding: 0.3rem 0.8rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace; }
th { background: #f4f4f4; }
td.better { color: #1b7a4f; font-weight: 600; } td.worse { color: #b4410a; font-weight: 600; }
td.differs { color: #444; font-weight: 600; } tr.significant td:first-child { font-weight: 600; }
.incomplete { color: #b00020; font-weight: 700; } p.incomplete, caption.incomplete { background: #fdecea;
       padding: 0.6rem 0.8rem; border-left: 4px solid #b00020; text-align: left; }
p.decision { font-size: 1.08rem; background: #f4f8f6; padding: 0.8rem 1rem; border-left: 4px solid #1b9e77; }
p.decision.stopped { background: #fdecea; border-left-color: #b00020; }
ul.verdict li { margin: 0.35rem 0; } .win-cqrs { color: #1b9e77; font-weight: 600; }
.win-crud { color: #d95f02; font-weight: 600; } .win-none { color: #555; font-weight: 600; }
figure { margin: 1.5rem 0; } figure img { width: 100%; max-width: 1200px; border: 1px solid #eee; }
td.definition, th.definition { text-align: left; max-width: 60rem; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _outages(results: Results) -> str:
    """The outage table (:func:`cqrs_sim.analysis.outages.outage_summary`), or nothing without failures."""
    table = outage_summary(results)
    if not len(table):
        return ""
    head = ("design", "instance", "cause", "down", "up", "reads failed", "failed share", "p99 before", "p99 during",
            "recovered", "time to recover", "metastable")

    def when(seconds: float) -> str:
        return "—" if seconds != seconds else format_duration(seconds)

    rows = "".join(
        f"<tr><td>{html_text(row.architecture)}</td><td>{html_text(row.instance)}</td><td>{html_text(row.cause)}</td>"
        f"<td>{format_duration(row.down)}</td><td>{format_duration(row.up)}</td><td>{row.reads_failed:,.0f}</td>"
        f"<td>{row.failed_share:.1%}</td><td>{when(row.p99_before)}</td><td>{when(row.p99_during)}</td>"
        f"<td>{row.recovered} of {row.replications}</td><td>{when(row.time_to_recover)}</td>"
        f"<td>{row.metastable} of {row.replications}</td></tr>"
        for row in table.itertuples(index=False))
    return (f"<h2>Outages</h2><p>Each failure of an instance, over the replications it occurred in (outages.parquet "
            f"has one row per run): reads failed in the time bins it spans, the median p99 before and during it, "
            f"and the median time from the repair until the run was back to its pre-failure level (metastable: "
            f"not back within verdict.metastable_after).</p><table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>"
            f"{rows}</table>")


def render(results: Results) -> str:
    """The report as one HTML string."""
    scenario = results.scenario
    summary, diff = results.summary(), results.differences()
    lines = verdict(summary, diff, results.incomplete, scenario.verdict.min_difference)
    items = "".join(f"<li><span class='win-{w if w in ('crud', 'cqrs') else 'none'}'>"
                    f"{'cqrs' if w == 'cqrs' else 'crud' if w == 'crud' else '—'}</span> {html_text(text)}</li>"
                    for _, w, text in lines)
    items += "".join(f"<li><span class='win-none'>—</span> {html_text(text)}</li>" for text in outage_lines(results))
    figures = "".join(
        f"<figure><img alt='{name}' src='data:image/png;base64,{_png(plot(results))}'></figure>"
        for name, plot in available(results).items())
    manifest = results.manifest
    packages = ", ".join(f"{k} {v}" for k, v in manifest.get("packages", {}).items())
    note = incomplete_note(results.incomplete)
    banner = f"<p class='incomplete'>{html_text(note)}.</p>" if note else ""
    wall = manifest.get("wall_time_s")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cqrs-sim: {html_text(scenario.name)}{' (incomplete)' if note else ''}</title>
<style>{STYLE}</style></head><body>
<h1>{html_text(scenario.name)}{' <span class=incomplete>(incomplete)</span>' if note else ''}</h1>
<p class="sub">{html_text(scenario.description)}</p>
{banner}
<p>{scenario.replications} replication(s), seed {scenario.seed}; requests arriving in
[{format_duration(scenario.warmup)}, {format_duration(scenario.duration)}); record: {scenario.record}.
Each cell is the mean over replications ± the half-width of its 95% Student-t interval; for a percentile (p50, p99, …)
that is the mean over replications of each run's percentile, while the latency CDF plot pools every read of every
replication. The last column is the difference cqrs − crud paired by replication (both saw the same random numbers).
Highlighted: every significant difference: green where cqrs is better, orange where it is worse, grey for a metric
that is neither better nor worse. {html_text(thresholds_sentence(scenario.verdict.min_difference))}</p>
<h2>Verdict</h2>
<p class="decision{' stopped' if note else ''}">{html_text(decision(summary, diff, results.incomplete, results.scenario))}</p>
<ul class="verdict">{items}</ul>
<h2>Metrics</h2>
{_table(results)}
{_outages(results)}
<h2>What the metrics mean</h2>
{_definitions(results)}
<h2>Plots</h2>
{figures}
<h2>Scenario (resolved)</h2>
<pre>{html_text(dump_yaml(with_units(resolved_dict(scenario))), keep_newlines=True)}</pre>
<p class="sub">{html_text(packages)}; simulated in {format_duration(wall) if wall is not None else "?"} of wall time.</p>
</body></html>
"""


__all__ = ["render"]
