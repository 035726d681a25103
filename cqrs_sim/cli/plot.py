"""``cqrs-sim plot`` and ``cqrs-sim report``: draw the plots, or write report.html, of saved results."""

from __future__ import annotations

from pathlib import Path

import typer

from ..core.errors import Problem, ScenarioError
from ..io.outdir import Lock, staged_files
from .common import AllPlots, Format, PlotFormat, _guarded, _note, _say, app, load_plot_results, out, write_report
from .run import _draw_plots


@app.command()
def plot(
    directory: Path = typer.Argument(..., metavar="DIR", help="A result directory written by `cqrs-sim run`."),
    plot_format: Format = PlotFormat,
    all_plots: bool = AllPlots,
) -> None:
    """Draw the plots of saved results again, into DIR/plots/."""

    def body() -> None:
        if (directory / "optimize.json").exists():
            import json

            # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
            from ..present.plots.pareto import save_pareto

            answer = json.loads((directory / "optimize.json").read_text(encoding="utf-8"))
            with Lock(directory), staged_files(directory / "plots", notify=_note) as staging:
                name = save_pareto(answer, staging, plot_format.value).name
            _say(out, f"wrote {directory / 'plots' / name}")
            return
        if (directory / "sweep.parquet").exists():
            # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
            from ..present.plots.sweeps import save_sweep_plots
            from ..experiments.sweeppoints import load_sweep

            table, parameters, name = load_sweep(directory)
            with Lock(directory), staged_files(directory / "plots", notify=_note) as staging:
                names = [p.name for p in save_sweep_plots(table, parameters, name, staging, plot_format.value, all_plots)]
            for path in names:
                _say(out, f"wrote {directory / 'plots' / path}")
            return
        if not (directory / "scenario.yaml").exists():
            # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
            from ..io.results import not_a_result

            raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", not_a_result(directory))])
        with Lock(directory):
            paths = _draw_plots(load_plot_results(directory), directory, plot_format.value)
        for path in paths:
            _say(out, f"wrote {path}")

    _guarded(body)


@app.command("report")
def report_command(
    directory: Path = typer.Argument(..., metavar="DIR", help="A result directory written by `cqrs-sim run`."),
) -> None:
    """Write DIR/report.html: scenario, table, plots and verdict in one self-contained file."""

    def body() -> None:
        if not (directory / "scenario.yaml").exists():
            # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
            from ..io.results import not_a_result

            raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", not_a_result(directory))])
        with Lock(directory):
            _say(out, f"wrote {write_report(directory)}")

    _guarded(body)
