"""``cqrs-sim run``: simulate every architecture, print the side-by-side table, write the output directory."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import List, Optional

import typer

from ..io.outdir import Destination, staged_files
from ..config.loader import load_scenario
from ..present.report import comparison_table, table_caption
from ..core.safetext import rich_text
from ..experiments.executors import default_jobs
from ..config.format import format_duration
from .common import (Format, PlotFormat, Record, SetOption, _default_target, _guarded, _note, _nothing,
                     _on_first_call, _overrides, _reported, _say, _warn, _warnings, app, err, out, write_report)
from .progress import _progress_bar, _with_ready, progress_lines
from .signals import _saved


simulate = _on_first_call("..experiments.simulate", "simulate")


format_headline = _on_first_call("..analysis.verdict", "format_headline")


@app.command()
def run(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output directory (default results/<name>/)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the scenario's seed."),
    replications: Optional[int] = typer.Option(None, "--replications", help="Override the number of replications."),
    sets: Optional[List[str]] = SetOption,
    record: Optional[Record] = typer.Option(None, "--record",
                                            help="full: keep every request; summary: counts, 0.1% histograms and a sample."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Processes to run on (default: every local core)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots."),
    plot_format: Format = PlotFormat,
    report: bool = typer.Option(False, "--report", help="Also write DIR/report.html."),
    force: bool = typer.Option(False, "--force", help="Replace the output directory if it exists."),
) -> None:
    """Simulate every architecture, print the side-by-side table, write the output directory."""

    stopped = []
    failed = []
    held = ExitStack()  # the destination's lock and staging directory, released after any error is reported

    def body() -> None:
        scenario = load_scenario(scenario_file, _overrides(sets, seed, replications, record.value if record else None))
        target = output if output is not None else _default_target(scenario.name)
        destination = held.enter_context(Destination(target, force=force, notify=_note))  # checked before simulating
        for warning in _warnings(scenario):
            _warn(warning)
        workers = jobs if jobs is not None else default_jobs()
        if err.is_terminal:
            with _progress_bar() as bar:
                task = bar.add_task(f"simulating {rich_text(scenario.name)}",
                                    total=scenario.replications * len(scenario.architectures))

                def tick(done: float, total: int, label: str) -> None:
                    bar.update(task, completed=done, description=rich_text(f"{scenario.name}: {label}"))

                results = simulate(scenario, progress=_with_ready(tick), jobs=workers)
        else:  # a log: plain lines, at each 10% and at least every 5 s
            lines = progress_lines(scenario.name, lambda line: _say(err, line))
            results = simulate(scenario, progress=_with_ready(lines), jobs=workers)
        with err.status("writing results and plots", spinner="dots") if err.is_terminal else _nothing():
            results.write_into(destination.staging)
            destination.commit()  # the data is in place before any plot is drawn
            _saved.append(target)
            if not no_plots:
                failed.extend(_reported(lambda: _draw_plots(results, target, plot_format.value), target))
        table = comparison_table(results.summary(), results.differences(), scenario.name, results.incomplete,
                                 scenario.verdict.min_difference)
        table.caption = table_caption(scenario, results.incomplete)
        out.print(table)
        decision, *lines = format_headline(results)
        out.print(f"[bold]Verdict:[/bold] {rich_text(decision)}", highlight=False, soft_wrap=True)
        for line in lines:
            _say(out, f"  {line}")
        if report:
            failed.extend(_reported(lambda: _say(out, f"wrote {write_report(target)}"), target))
        stopped.extend(results.incomplete)
        for run_ in results.incomplete:
            err.print("[red]incomplete:[/red] " + rich_text(
                f"{run_['architecture']} replication {run_['replication'] + 1} was stopped at t = "
                f"{format_duration(run_['stopped_at'])}: {run_['reason']}; the scenario is unstable (see `cqrs-sim check`) "
                "and its numbers cover only what finished before"), highlight=False, soft_wrap=True)
        _say(out, f"wrote {target}/ (simulation took {results.manifest['wall_time_s']:.1f} s of wall time)")

    with held:
        _guarded(body)
    if failed:
        raise typer.Exit(1)
    if stopped:
        raise typer.Exit(3)


def _draw_plots(results, directory: Path, fmt: str) -> list[Path]:
    """Draw every plot into DIR/plots/, replacing only the files of this format once all are drawn."""
    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..present.plots import save_all

    with staged_files(directory / "plots", notify=_note) as staging:
        names = [path.name for path in save_all(results, staging, fmt)]
    return [directory / "plots" / name for name in names]
