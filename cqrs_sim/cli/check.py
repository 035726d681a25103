"""``cqrs-sim check``: validate a scenario and say what running it would take."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..analysis.analytic import offered_loads
from ..config.loader import load_scenario, resolved_yaml
from ..present.report import estimate_lines, loads_table
from ..experiments.estimate import estimate_run
from ..core.safetext import printable
from ..experiments.executors import default_jobs
from .common import Record, SetOption, _guarded, _overrides, _say, _warn, _warnings, app, out


@app.command()
def check(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    sets: Optional[List[str]] = SetOption,
    record: Optional[Record] = typer.Option(None, "--record", help="Estimate the output of this recording."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1,
                                       help="Processes the run time estimate assumes (default: every local core)."),
) -> None:
    """Validate a scenario; print it resolved, with every tier's offered load, analytic estimates and the run's cost."""

    def body() -> None:
        scenario = load_scenario(scenario_file, _overrides(sets, record=record.value if record else None))
        _say(out, f"# {scenario_file}: valid. Resolved scenario (durations in seconds, rates per second):")
        out.print(printable(resolved_yaml(scenario), keep_newlines=True), highlight=False, markup=False)
        loads = offered_loads(scenario)
        out.print(loads_table(loads))
        _say(out, "analytic estimates:")
        for line in estimate_lines(loads):
            _say(out, f"  {line}")
        cost = estimate_run(scenario, jobs if jobs is not None else default_jobs())
        _say(out, "run estimate:")
        for line in cost.lines():
            _say(out, f"  {line}")
        warnings = _warnings(scenario)
        for warning in warnings:
            _warn(warning)
        if not warnings:
            _say(out, "every tier is below utilisation 1.")
        if cost.warning:
            _warn(cost.warning)

    _guarded(body)
