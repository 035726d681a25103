"""``cqrs-sim capacity``: the largest (or smallest) value of a path at which every SLO holds."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import List, Optional

import typer

from ..io.outdir import check_answer_file, write_text_atomic
from ..config.loader import load_scenario
from ..core.safetext import rich_text
from ..analysis.values import format_interval, format_value
from .common import SetOption, _checked, _executor, _guarded, _say, app, err, out
from .progress import _with_ready


@app.command()
def capacity(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    search: str = typer.Option(..., "--search", metavar="PATH", help="The path to search, e.g. workload.reads.rate."),
    slo: List[str] = typer.Option(..., "--slo", metavar="METRIC<VALUE", help="e.g. 'read_latency_p99<50ms' (repeatable)."),
    value_range: Optional[str] = typer.Option(None, "--range", metavar="LO..HI", help="Search range (default around the current value)."),
    minimize: bool = typer.Option(False, "--minimize", help="Find the smallest value meeting the SLOs (for costs)."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Local processes (default: every core)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT|local", help="Run on a Dask cluster."),
    sets: Optional[List[str]] = SetOption,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the answer as JSON to this file."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it is an earlier capacity answer."),
    precision: Optional[str] = typer.Option(None, "--precision", metavar="WIDTH", help="Stop when the answer is known "
                                            "to within WIDTH, in PATH's unit (e.g. 10/s; default 1% of the range)."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999999,
                                     help="The probability that every SLO decision of the search is right."),
    max_replications: int = typer.Option(20, "--max-replications", min=2, max=1000,
                                         help="The most replications of one value before it is undecided."),
    fixed: bool = typer.Option(False, "--fixed", help="Judge each value on the scenario's replications by the 95% "
                               "rule, without screening or sequential replications."),
) -> None:
    """Per architecture: the largest (or smallest) value of PATH at which every SLO holds, by bisection; each value
    is screened analytically, then replicated until every SLO is proven met or missed."""
    from rich.table import Table

    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..experiments.capacity import capacity_search, parse_precision, parse_range
    from ..analysis.slo import RULE, Status, parse_slos
    from ..experiments.sequential import executor_width
    from ..experiments.simulate import format_eta

    def body() -> None:
        slos, bounds, width, *_ = _checked(partial(parse_slos, list(slo)),
                                           lambda: parse_range(value_range) if value_range else None,
                                           lambda: parse_precision(precision) if precision else None,
                                           lambda: check_answer_file(output, force) if output is not None else None,
                                           partial(load_scenario, scenario_file, sets))  # all before the search
        counts = {"screened": 0, "proven": 0, "rejected": 0, "undecided": 0, "replications": 0}
        began = time.monotonic()

        def show(arch: str, e) -> None:
            if e.screened:
                counts["screened"] += 1
                _say(err, f"  {arch} {search}={format_value(search, e.value)}: screened: {e.screened} -> does not hold")
            else:
                statuses = [j.status for j in e.judgements]
                key = "proven" if e.holds else ("rejected" if Status.MISSED in statuses else "undecided")
                counts[key] += 1
                counts["replications"] += e.n
                parts = "; ".join(f"{j.slo.text} {j.describe()}" for j in e.judgements)
                verdict = "holds" if e.holds else ("stopped (runaway)" if e.incomplete else "does not hold")
                _say(err, f"  {arch} {search}={format_value(search, e.value)}: {parts} -> {verdict}")
            if not fixed:
                probed = sum(counts[k] for k in ("screened", "proven", "rejected", "undecided"))
                eta = format_eta((time.monotonic() - began) / probed * e.probes_left)  # at the pace so far
                _say(err, f"capacity: {counts['screened']} screened, {counts['proven']} proven, "
                          f"{counts['rejected']} rejected, {counts['undecided']} undecided; "
                          f"{counts['replications']} replications run, at most {e.probes_left} more value(s), "
                          f"ETA {eta} at most")

        with _executor(jobs, scheduler) as executor:
            results = capacity_search(scenario_file, search, slos, executor, bounds, minimize, sets, report=_with_ready(show),
                                      precision=width, fixed=fixed, confidence=confidence,
                                      max_replications=max_replications, width=executor_width(executor, jobs))
        judged = RULE if fixed or not results else f"sequentially, {results[0].guarantee}"
        table = Table(title=rich_text(f"capacity: {search} with {' and '.join(s.text for s in slos)}"), title_justify="left",
                      caption=rich_text(f"Judged: {judged}."), caption_justify="left")
        for name in ("architecture", "answer (± the search's resolution)", "SLOs at the answer (mean ± the CI judged on, n)", "note"):
            table.add_column(name)
        for r in results:
            at = r.at_answer
            if at is None:  # no answer: why not, where the SLOs came closest
                at = next((e for e in r.evaluations if e.value == r.bracket[1]), None)
            cells = "-" if at is None else "; ".join(
                f"{j.slo.metric} {format_interval(j.slo.metric, j.mean, j.ci_low, j.ci_high)}: {j.describe()}"
                for j in at.judgements)
            if at is not None and r.answer is None:
                cells = f"at {format_value(search, at.value)}: {cells}"
            table.add_row(r.architecture, *[rich_text(text) for text in (_capacity_answer(search, r), cells, r.note)])
        out.print(table)
        if output is not None:
            import json

            data = [{"architecture": r.architecture, "path": r.path, "minimize": r.minimize, "answer": r.answer,
                     "bracket": list(r.bracket), "note": r.note,
                     "judged": judged,
                     "evaluations": [{"value": e.value, "holds": e.holds, "incomplete": e.incomplete, "n": e.n,
                                      "screened": e.screened,
                                      "metrics": e.metrics, "judgements": [j.as_dict() for j in e.judgements]}
                                     for e in r.evaluations]} for r in results]
            check_answer_file(output, force)  # again: it may have appeared during the search
            write_text_atomic(output, json.dumps(data, indent=2) + "\n")

    _guarded(body)


def _capacity_answer(path: str, result) -> str:
    """The answer with its unit, ± the distance to the first value that failed (the search's resolution)."""
    if result.answer is None:
        return "none"
    good, bad = result.bracket
    if bad is None or bad == good or isinstance(good, int):  # integers are searched exactly
        return format_value(path, result.answer)
    return format_interval(path, good, good - abs(bad - good), good + abs(bad - good))
