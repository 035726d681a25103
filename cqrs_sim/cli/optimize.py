"""``cqrs-sim optimize``: the cheapest design that meets every SLO."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import List, Optional

import typer

from ..io.outdir import Lock, staged_files
from ..config.loader import load_scenario
from ..core.safetext import rich_text
from ..analysis.values import format_interval, format_value
from .common import SetOption, _checked, _default_target, _executor, _guarded, _note, _say, app, err, out
from .sweep import _distinct_tails
from .progress import _with_ready, progress_lines


@app.command("optimize")
def optimize_command(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    vary: Optional[List[str]] = typer.Option(None, "--vary", metavar="PATH=V1,V2,...",
                                             help="Values of one path (repeatable: the grid is their cartesian product)."),
    slo: Optional[List[str]] = typer.Option(None, "--slo", metavar="METRIC<VALUE", help="e.g. 'stale_read_fraction<1%' (repeatable)."),
    minimize: str = typer.Option("cost_per_hour", "--minimize", metavar="METRIC", help="The metric to minimise."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Directory (default results/<name>-optimize/)."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Local processes (default: every core)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT|local", help="Run on a Dask cluster."),
    sets: Optional[List[str]] = SetOption,
    pareto: bool = typer.Option(False, "--pareto", help="Simulate every design of the grid (the scenario's replications "
                                "each) and draw the Pareto fronts, instead of searching cheapest first."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999999,
                                     help="Search: the probability that every SLO decision is right."),
    max_replications: int = typer.Option(20, "--max-replications", min=2, max=1000,
                                         help="Search: the most replications of one design before it is undecided."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots/pareto.png (drawn with --pareto)."),
) -> None:
    """The cheapest design (architecture × varied values) proven to meet every SLO, searched cheapest first; with
    --pareto every design is simulated and the Pareto fronts against each SLO metric drawn."""
    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..experiments.optimize import answer_lines, check_metric, check_optimize_dir, optimize, plan
    from ..analysis.slo import parse_slos

    def body() -> None:
        # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
        from ..experiments.sweep import parse_vary

        slos, *_ = _checked(lambda: parse_slos(list(slo or [])), *[partial(parse_vary, text) for text in vary or []],
                            partial(check_metric, minimize, "--minimize"), partial(load_scenario, scenario_file, sets))
        base, _ = plan(scenario_file, list(vary or []), sets, minimize, slos)  # bad input: before anything runs
        target = output if output is not None else _default_target(base.name, "-optimize")
        check_optimize_dir(target)
        if not pareto:
            # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
            from ..experiments.search import answer_lines as search_lines, search
            from ..experiments.sequential import executor_width, tally_lines

            with _executor(jobs, scheduler) as executor:
                lines = tally_lines(f"{base.name} optimize", lambda line: _say(err, line))
                result = search(scenario_file, list(vary or []), slos, target, executor, minimize, sets, confidence,
                                max_replications, executor_width(executor, jobs), _with_ready(lines))
            out.print(_designs_table(result), highlight=False)
            for line in search_lines(result):
                _say(out, line)
            _say(out, f"wrote {target}/optimize.json and designs.csv")
            return
        with _executor(jobs, scheduler) as executor:
            lines = progress_lines(f"{base.name} optimize", lambda line: _say(err, line))
            result = optimize(scenario_file, list(vary or []), slos, target, executor, minimize, sets, _with_ready(lines),
                              _note)
        if not no_plots:
            # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
            from ..present.plots.pareto import save_pareto

            with Lock(target), staged_files(target / "plots", notify=_note) as staging:
                save_pareto(result.as_dict(), staging)
        out.print(_designs_table(result), highlight=False)
        for line in answer_lines(result):
            _say(out, line)
        _say(out, f"wrote {target}/optimize.json and designs.csv: {result.simulated} point(s) simulated, "
                  f"{result.skipped} already done")

    _guarded(body)


def _designs_table(result, rows: int = 12):
    """The cheapest designs first: varied values, the minimised metric and each SLO metric (green: met, red: not)."""
    import math

    from rich.table import Table

    paths = list(dict.fromkeys(p for d in result.designs for p in d.settings))
    metrics = list(dict.fromkeys(s.metric for s in result.slos))
    judged = ("SLOs decided sequentially, see the guarantee below" if result.procedure is not None
              else "SLOs judged on the CI's worse end")
    table = Table(title=f"{len(result.designs)} designs, cheapest first (mean ± 95% CI over n replications; {judged})",
                  title_justify="left")
    for name in ["architecture", *(_distinct_tails(paths) if paths else []), "n", result.minimize, *metrics,
                 "status" if result.procedure is not None else "meets SLOs"]:
        table.add_column(rich_text(name), justify="left" if name == "architecture" else "right")
    order = sorted(result.designs, key=lambda d: (not math.isfinite(d.mean(result.minimize)), d.mean(result.minimize)))
    for design in order[:rows]:
        met = {c.slo.text: c.met for c in design.checks}

        def cell(metric: str) -> str:
            stats = design.metrics.get(metric, {})
            text = rich_text(format_interval(metric, stats.get("mean"), stats.get("ci_low"), stats.get("ci_high")))
            verdicts = [met[s.text] for s in result.slos if s.metric == metric and s.text in met]
            return text if not verdicts else f"[{'green' if all(verdicts) else 'red'}]{text}[/]"

        star = " ★" if design is result.best else ""
        table.add_row(design.architecture + star, *[rich_text(format_value(p, design.settings[p])) if p in design.settings
                                                    else "any" for p in paths],
                      str(design.n), cell(result.minimize), *[cell(m) for m in metrics],
                      design.status or ("stopped" if design.incomplete else ("yes" if design.meets else "no")))
    notes = ["★ the answer", "any: the path does not affect that architecture"]
    tails = _distinct_tails(paths) if paths else []
    notes += [f"{t} = {p}" for t, p in zip(tails, paths) if t != p]
    if len(order) > rows:
        notes.append(f"{len(order) - rows} more in designs.csv")
    table.caption = rich_text("; ".join(notes))
    table.caption_justify = "left"
    return table


