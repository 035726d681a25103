"""``cqrs-sim sweep``: run a parameter sweep and tabulate it."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import List, Optional

import typer

from ..io.outdir import Lock, staged_files
from ..config.loader import load_scenario
from ..core.safetext import printable, rich_text
from ..analysis.values import format_value
from .common import AllPlots, SetOption, _checked, _default_target, _executor, _guarded, _note, _say, app, err, out
from .progress import _progress_bar, _with_ready, progress_lines


@app.command()
def sweep(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    vary: Optional[List[str]] = typer.Option(None, "--vary", metavar="PATH=V1,V2,...",
                                             help="Values of one path (repeatable: the cartesian product is swept)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Sweep directory (default results/<name>-sweep/)."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Local processes (default: every core)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT|local",
                                            help="Run on a Dask cluster ('local' starts one)."),
    sets: Optional[List[str]] = SetOption,
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots."),
    all_plots: bool = AllPlots,
) -> None:
    """Run a parameter sweep; points already done in the directory are skipped."""
    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..present.plots.sweeps import save_sweep_plots
    from ..experiments.sweep import parse_vary, run_sweep

    def body() -> None:
        *_, base = _checked(*[partial(parse_vary, text) for text in vary or []], partial(load_scenario, scenario_file, sets))
        target = output if output is not None else _default_target(base.name, "-sweep")
        with _executor(jobs, scheduler) as executor:
            if err.is_terminal:
                with _progress_bar() as bar:
                    task = bar.add_task(rich_text(f"{base.name} sweep"), total=None)

                    def tick(done: float, total: int, label: str) -> None:
                        bar.update(task, completed=done, total=total, description=rich_text(f"{base.name} sweep: {label}"))

                    result = run_sweep(scenario_file, list(vary or []), target, executor, sets, _with_ready(tick), _note)
            else:
                lines = progress_lines(f"{base.name} sweep", lambda line: _say(err, line))
                result = run_sweep(scenario_file, list(vary or []), target, executor, sets, _with_ready(lines), _note)
        for failure in result.failures:
            err.print(f"[red]failed point[/red] {rich_text(failure['point'])}: {rich_text(failure['error'])}",
                      highlight=False, soft_wrap=True)
        parameters = [c for c in result.table.columns if c not in ("point", "architecture", "metric", "mean", "ci_low", "ci_high", "n")]
        if not no_plots and len(result.table):
            with Lock(target), staged_files(target / "plots", notify=_note) as staging:
                save_sweep_plots(result.table, parameters, base.name, staging, every_metric=all_plots)
        out.print(_sweep_summary(result.table, parameters), highlight=False)
        _say(out, f"wrote {target}/sweep.parquet: {result.ran} point(s) simulated, {result.skipped} already done, "
                  f"{len(result.failures)} failed")

    _guarded(body)


def _distinct_tails(paths: list[str]) -> list[str]:
    """The shortest trailing dotted parts of each path that still tell all of them apart."""
    for depth in range(1, max((p.count(".") + 1 for p in paths), default=1) + 1):
        tails = [".".join(p.split(".")[-depth:]) for p in paths]
        if len(set(tails)) == len(tails):
            return tails
    return paths


def _sweep_summary(table, parameters: list[str]):
    from rich.table import Table

    shown = ["read_latency_p99", "stale_read_fraction", "visibility_window_mean"]
    view = table[table["metric"].isin(shown)].pivot_table(index=parameters, columns=["metric", "architecture"], values="mean",
                                                          sort=False)
    rich_table = Table(title="sweep: means (CIs in sweep.parquet)", title_justify="left")
    for name in _distinct_tails(parameters):  # a header is never cut: its last dotted parts tell the columns apart
        rich_table.add_column(rich_text(name), min_width=len(printable(name)), no_wrap=True)
    if _distinct_tails(parameters) != parameters:
        rich_table.caption = rich_text("; ".join(f"{t} = {p}" for t, p in zip(_distinct_tails(parameters), parameters)
                                                 if t != p))
    short = {"read_latency_p99": "p99", "stale_read_fraction": "stale", "visibility_window_mean": "visible after"}
    for metric, arch in view.columns:
        rich_table.add_column(f"{arch} {short[metric]}", justify="right")
    for index, row in view.iterrows():
        keys = index if isinstance(index, tuple) else (index,)
        rich_table.add_row(*[rich_text(format_value(p, k)) for p, k in zip(parameters, keys)],
                           *[format_value(m, v) for (m, _a), v in zip(view.columns, row)])
    return rich_table
