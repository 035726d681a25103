"""``cqrs-sim testbed``: play a scenario in real time on PostgreSQL."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import List, Optional

import typer

from ..io.outdir import Destination, check_output_file, safe_dirname, write_text_atomic
from ..config.loader import load_scenario
from ..core.redact import redact
from ..present.report import comparison_table
from .common import SetOption, _default_target, _error, _guarded, _note, _overrides, _reported, _say, app, err, out
from .run import _draw_plots
from .signals import _saved
from .progress import _with_ready


@app.command()
def testbed(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output directory (default results/<name>-testbed/); "
                                          "with --calibrate, the fitted scenario's file (default results/<name>-fitted.yaml)."),
    dsn: Optional[str] = typer.Option(None, "--dsn", help="A PostgreSQL server you run (default: an embedded one)."),
    sets: Optional[List[str]] = SetOption,
    calibrate: bool = typer.Option(False, "--calibrate", help="Only measure, at low load, what the scenario leaves to "
                                   "the database (reads, writes, copies), fit each, and write the fitted scenario."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots."),
    force: bool = typer.Option(False, "--force", help="Replace the output directory (or fitted scenario) if it exists."),
) -> None:
    """Run the scenario in real time against PostgreSQL; write the same output directory as `run`."""
    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..testbed import ServerError, run_testbed

    held = ExitStack()

    def measure_parts(scenario) -> None:
        # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
        from ..testbed.calibrate import calibrate as measure, is_fitted_file, parts_table

        target = output if output is not None else Path("results") / f"{safe_dirname(scenario.name)}-fitted.yaml"
        if output is None:
            target.parent.mkdir(parents=True, exist_ok=True)
        what = "a fitted scenario written by cqrs-sim testbed --calibrate"
        check_output_file(target, force, is_fitted_file, what)
        try:
            calibration = measure(scenario, dsn=dsn, say=lambda line: _say(err, line), source=str(scenario_file))
        except ServerError as exc:
            _error(f"testbed: {redact(str(exc))}")
            raise typer.Exit(2) from None
        check_output_file(target, force, is_fitted_file, what)  # again: it may have appeared meanwhile
        write_text_atomic(target, calibration.yaml())
        out.print(parts_table(calibration, f"{scenario.name}: parts measured on {calibration.server}, one at a time"))
        _say(out, f"wrote {target} (predict with: cqrs-sim run {target})")

    def body() -> None:
        scenario = load_scenario(scenario_file, _overrides(sets))
        if calibrate:
            measure_parts(scenario)
            return
        target = output if output is not None else _default_target(scenario.name, "-testbed")
        destination = held.enter_context(Destination(target, force=force, notify=_note))
        say = lambda line: _say(err, line)  # noqa: E731
        try:
            results = run_testbed(scenario, dsn=dsn, say=_with_ready(say), source=str(scenario_file))
        except ServerError as exc:
            _error(f"testbed: {redact(str(exc))}")
            raise typer.Exit(2) from None
        results.write_into(destination.staging)
        destination.commit()
        _saved.append(target)
        if not no_plots:
            failed.extend(_reported(lambda: _draw_plots(results, target, "png"), target))
        table = comparison_table(results.summary(), results.differences(), f"{scenario.name} (testbed)",
                                 min_difference=scenario.verdict.min_difference)
        out.print(table)
        # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
        from ..testbed.predict import run_parts_table

        out.print(run_parts_table(results, str(target)))
        _say(out, f"wrote {target}/ (databases {results.manifest['testbed']['databases']}, dropped)")

    failed: list[str] = []
    with held:
        _guarded(body)
    if failed:
        raise typer.Exit(1)
