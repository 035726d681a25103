"""``cqrs-sim fit``: fit distributions to measured times."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import Problem, ScenarioError
from .common import _guarded, _say, app, err, out


@app.command()
def fit(
    data_file: str = typer.Argument(..., metavar="FILE", help="CSV or Parquet file, or - for one number per line on stdin."),
    column: Optional[str] = typer.Option(None, "--column", help="The column of measured times (default: the only one)."),
    unit: str = typer.Option("s", "--unit", help="Unit of the measured values: s, ms or us."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="CDF/QQ plot (.png, .svg or .pdf; default fit-<FILE>.png here)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing plot file."),
) -> None:
    """Fit exponential, lognormal, gamma, Weibull and Pareto+exponential to measured times; print the best the data do
    not refute (or the measured values themselves) as scenario YAML."""

    def body() -> None:
        # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
        from ..experiments.fitcheck import check_fits, fits_table, recommendation_lines, subsample, yaml_lines
        from ..experiments.fitio import plot_target, read_measurements, save_fit_plot

        say = lambda line: _say(err, line)  # noqa: E731
        name = "stdin" if data_file == "-" else Path(data_file).stem
        plot = plot_target(output, name, force)
        measured = read_measurements(data_file, column, unit, sys.stdin, say)
        report = check_fits(measured.values, say if measured.large else (lambda line: None))
        if not report.checked:
            reason = report.skipped[0][1]
            raise ScenarioError([Problem(data_file, 0, 0, column or "(data)", f"no family fits: {reason}")])
        out.print(fits_table(report))
        for line in yaml_lines(report):
            _say(out, line)
        for family, reason in report.skipped:
            _say(out, f"not fitted: {family} ({reason})")
        if measured.headerless:
            _say(out, f"{data_file} has no header line: every line, the first too, was read as a value")
        for line in recommendation_lines(report, measured):
            _say(out, line)
        refused = frozenset(c.fit.family for c in report.checked if c.refused)
        save_fit_plot(subsample(measured.values), [c.fit for c in report.checked], name, plot, refused,
                      len(measured.values))
        _say(out, f"wrote {plot}")

    _guarded(body)
