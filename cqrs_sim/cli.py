"""The ``cqrs-sim`` command: a thin front over load_scenario, simulate and Results.save.

Exit codes: 0 done; 2 bad input (one ``error: FILE:LINE:COL: path: message``
line per problem on stderr); 1 a bug (one line, the traceback saved to a file).
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from enum import Enum
import tempfile
import traceback
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .analytic import offered_loads
from .errors import Problem, ScenarioError
from .results import redraw_plots
from .htmlreport import format_headline, write_report
from .loader import load_scenario, resolved_yaml
from .scenario import scenario_warnings
from .report import comparison_table, estimate_lines, format_interval, format_value, loads_table
from .estimate import estimate_run
from .executors import default_jobs
from .simulate import progress_lines, simulate
from .units import format_duration

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate CQRS with a swarm of read replicas against a single CRUD database.",
)
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

class Format(str, Enum):
    png = "png"
    svg = "svg"


class Record(str, Enum):
    full = "full"
    summary = "summary"


PlotFormat = typer.Option(Format.png, "--plot-format", help="Image format of the plots.")
SetOption = typer.Option(None, "--set", metavar="PATH=VALUE", help="Override one scenario value, e.g. cqrs.replicas.count=16 (repeatable).")


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that cleanup runs as for Ctrl-C."""


def _on_sigterm(_signum, _frame) -> None:
    raise Terminated()


def _guarded(body: Callable[[], None]) -> None:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        body()
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        typer.echo(f"interrupted ({name}): stopped; no partial result directory was left", err=True)
        raise typer.Exit(143 if name == "SIGTERM" else 130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug: one line for the user, the traceback for the report
        with tempfile.NamedTemporaryFile("w", prefix="cqrs-sim-crash-", suffix=".txt", delete=False) as fh:
            traceback.print_exc(file=fh)
        typer.echo(f"error: internal error ({type(exc).__name__}: {exc}); traceback saved to {fh.name}", err=True)
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _overrides(sets: Optional[List[str]], seed: Optional[int] = None, replications: Optional[int] = None,
               record: Optional[str] = None) -> list[str]:
    items = list(sets or [])
    if record is not None:
        items.append(f"record={record}")
    if seed is not None:
        items.append(f"seed={seed}")
    if replications is not None:
        items.append(f"replications={replications}")
    return items


def _warnings(scenario) -> list[str]:
    return scenario_warnings(scenario) + [load.warning for load in offered_loads(scenario) if load.warning]


@app.command()
def run(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output directory (default results/<name>/)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the scenario's seed."),
    replications: Optional[int] = typer.Option(None, "--replications", help="Override the number of replications."),
    sets: Optional[List[str]] = SetOption,
    record: Optional[Record] = typer.Option(None, "--record",
                                            help="full: keep every request; summary: counts, 1% histograms and a sample."),
    jobs: Optional[int] = typer.Option(None, "-j", "--jobs", min=1, help="Processes to run on (default: every local core)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots."),
    plot_format: Format = PlotFormat,
    report: bool = typer.Option(False, "--report", help="Also write DIR/report.html."),
    force: bool = typer.Option(False, "--force", help="Replace the output directory if it exists."),
) -> None:
    """Simulate every architecture, print the side-by-side table, write the output directory."""

    stopped = []

    def body() -> None:
        scenario = load_scenario(scenario_file, _overrides(sets, seed, replications, record.value if record else None))
        target = output if output is not None else Path("results") / scenario.name
        if target.exists() and not force:
            raise ScenarioError([Problem(str(target), 0, 0, "(output)",
                                         "already exists; pass --force to replace it, or -o for another directory")])
        for warning in _warnings(scenario):
            err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
        workers = jobs if jobs is not None else default_jobs()
        if err.is_terminal:
            with _progress_bar() as bar:
                task = bar.add_task(f"simulating {scenario.name}", total=scenario.replications * len(scenario.architectures))

                def tick(done: float, total: int, label: str) -> None:
                    bar.update(task, completed=done, description=f"{scenario.name}: {label}")

                results = simulate(scenario, progress=tick, jobs=workers)
        else:  # a log: plain lines, at each 10% and at least every 5 s
            lines = progress_lines(scenario.name, lambda line: err.print(line, highlight=False, markup=False,
                                                                          soft_wrap=True))
            results = simulate(scenario, progress=lines, jobs=workers)
        with err.status("writing results and plots", spinner="dots") if err.is_terminal else _nothing():
            results.save(target, plots=not no_plots, plot_format=plot_format.value)
        table = comparison_table(results.summary(), results.differences(), scenario.name)
        table.caption = (f"mean ± half-width of the 95% Student-t interval over {scenario.replications} replication(s), "
                         f"seed {scenario.seed}; requests arriving in [{format_duration(scenario.warmup)}, "
                         f"{format_duration(scenario.duration)}); differences paired by replication")
        out.print(table)
        for line in format_headline(results):
            out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        if report:
            out.print(f"wrote {write_report(target)}", highlight=False)
        stopped.extend(results.incomplete)
        for run_ in results.incomplete:
            err.print(f"[red]incomplete:[/red] {run_['architecture']} replication {run_['replication'] + 1} was stopped "
                      f"at t = {run_['stopped_at']:.6g}s: {run_['reason']}; the scenario is unstable (see `cqrs-sim check`) "
                      "and its numbers cover only what finished before", highlight=False, soft_wrap=True)
        out.print(f"wrote {target}/ (simulation took {results.manifest['wall_time_s']:.1f} s of wall time)", highlight=False)

    _guarded(body)
    if stopped:
        raise typer.Exit(3)


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
        out.print(f"# {scenario_file}: valid. Resolved scenario (durations in seconds, rates per second):", highlight=False)
        out.print(resolved_yaml(scenario), highlight=False, markup=False)
        loads = offered_loads(scenario)
        out.print(loads_table(loads))
        out.print("analytic estimates:", highlight=False)
        for line in estimate_lines(loads):
            out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        cost = estimate_run(scenario, jobs if jobs is not None else default_jobs())
        out.print("run estimate:", highlight=False)
        for line in cost.lines():
            out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        warnings = _warnings(scenario)
        for warning in warnings:
            err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
        if not warnings:
            out.print("every tier is below utilisation 1.", highlight=False)
        if cost.warning:
            err.print(f"[yellow]warning:[/yellow] {cost.warning}", highlight=False, soft_wrap=True)

    _guarded(body)


@app.command()
def plot(
    directory: Path = typer.Argument(..., metavar="DIR", help="A result directory written by `cqrs-sim run`."),
    plot_format: Format = PlotFormat,
) -> None:
    """Draw the plots of saved results again, into DIR/plots/."""

    def body() -> None:
        if (directory / "sweep.parquet").exists():
            from .plots.sweeps import save_sweep_plots
            from .sweep import load_sweep

            table, parameters, name = load_sweep(directory)
            for path in save_sweep_plots(table, parameters, name, directory / "plots", plot_format.value):
                out.print(f"wrote {path}", highlight=False)
            return
        if not (directory / "scenario.yaml").exists():
            raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", "not a result directory (no scenario.yaml)")])
        for path in redraw_plots(directory, plot_format.value):
            out.print(f"wrote {path}", highlight=False)

    _guarded(body)


@app.command("report")
def report_command(
    directory: Path = typer.Argument(..., metavar="DIR", help="A result directory written by `cqrs-sim run`."),
) -> None:
    """Write DIR/report.html: scenario, table, plots and verdict in one self-contained file."""

    def body() -> None:
        if not (directory / "scenario.yaml").exists():
            raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", "not a result directory (no scenario.yaml)")])
        out.print(f"wrote {write_report(directory)}", highlight=False)

    _guarded(body)


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=True)


@contextmanager
def _executor(jobs: Optional[int], scheduler: Optional[str]):
    """A local process pool (all cores, or -j) or a Dask cluster (--scheduler), shut down on exit."""
    from .executors import LocalPool, dask_executor

    if scheduler:
        executor, close = dask_executor(scheduler, jobs)
        try:
            yield executor
        finally:
            close()
    else:
        pool = LocalPool(jobs or default_jobs())
        try:
            yield pool
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        pool.shutdown()


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
) -> None:
    """Run a parameter sweep; points already done in the directory are skipped."""
    from .plots.sweeps import save_sweep_plots
    from .sweep import run_sweep

    def body() -> None:
        base = load_scenario(scenario_file, sets)
        target = output if output is not None else Path("results") / f"{base.name}-sweep"
        with _executor(jobs, scheduler) as executor:
            if err.is_terminal:
                with _progress_bar() as bar:
                    task = bar.add_task(f"{base.name} sweep", total=None)

                    def tick(done: float, total: int, label: str) -> None:
                        bar.update(task, completed=done, total=total, description=f"{base.name} sweep: {label}")

                    result = run_sweep(scenario_file, list(vary or []), target, executor, sets, tick)
            else:
                result = run_sweep(scenario_file, list(vary or []), target, executor, sets)
        for failure in result.failures:
            err.print(f"[red]failed point[/red] {failure['point']}: {failure['error']}", highlight=False, soft_wrap=True)
        parameters = [c for c in result.table.columns if c not in ("point", "architecture", "metric", "mean", "ci_low", "ci_high", "n")]
        if not no_plots and len(result.table):
            save_sweep_plots(result.table, parameters, base.name, target / "plots")
        out.print(_sweep_summary(result.table, parameters), highlight=False)
        out.print(f"wrote {target}/sweep.parquet: {result.ran} point(s) simulated, {result.skipped} already done, "
                  f"{len(result.failures)} failed", highlight=False, soft_wrap=True)

    _guarded(body)


def _sweep_summary(table, parameters: list[str]):
    from rich.table import Table

    shown = ["read_latency_p99", "stale_read_fraction", "visibility_window_mean"]
    view = table[table["metric"].isin(shown)].pivot_table(index=parameters, columns=["metric", "architecture"], values="mean",
                                                          sort=False)
    rich_table = Table(title="sweep: means (CIs in sweep.parquet)", title_justify="left")
    for name in parameters:
        rich_table.add_column(name)
    short = {"read_latency_p99": "p99", "stale_read_fraction": "stale", "visibility_window_mean": "visible after"}
    for metric, arch in view.columns:
        rich_table.add_column(f"{arch} {short[metric]}", justify="right")
    for index, row in view.iterrows():
        keys = index if isinstance(index, tuple) else (index,)
        rich_table.add_row(*[str(k) for k in keys], *[format_value(m, v) for (m, _a), v in zip(view.columns, row)])
    return rich_table


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
) -> None:
    """Per architecture: the largest (or smallest) value of PATH at which every SLO holds, by bisection."""
    from rich.table import Table

    from .capacity import capacity_search, parse_range, parse_slo

    def body() -> None:
        slos = [parse_slo(text) for text in slo]
        bounds = parse_range(value_range) if value_range else None

        def show(arch: str, e) -> None:
            parts = ", ".join(f"{m} {format_value(m, v[0])}" for m, v in e.metrics.items())
            verdict = "holds" if e.holds else ("stopped (runaway)" if e.incomplete else "fails")
            err.print(f"  {arch} {search}={e.value:g}: {parts} -> {verdict}", highlight=False, soft_wrap=True)

        with _executor(jobs, scheduler) as executor:
            results = capacity_search(scenario_file, search, slos, executor, bounds, minimize, sets, report=show)
        table = Table(title=f"capacity: {search} with {' and '.join(s.text for s in slos)}", title_justify="left")
        for name in ("architecture", "answer", "SLO metrics at the answer (mean ± 95% CI)", "note"):
            table.add_column(name)
        for r in results:
            at = r.at_answer
            cells = "-" if at is None else "; ".join(
                f"{m} {format_interval(m, v[0], v[1], v[2])}" for m, v in at.metrics.items())
            table.add_row(r.architecture, "none" if r.answer is None else f"{r.answer:g}", cells, r.note)
        out.print(table)
        if output is not None:
            import json

            data = [{"architecture": r.architecture, "path": r.path, "minimize": r.minimize, "answer": r.answer,
                     "bracket": list(r.bracket), "note": r.note,
                     "evaluations": [{"value": e.value, "holds": e.holds, "incomplete": e.incomplete, "metrics": e.metrics}
                                     for e in r.evaluations]} for r in results]
            output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    _guarded(body)


@app.command()
def validate() -> None:
    """Check this install against queueing theory and hand-derived timelines (under a minute)."""
    from rich.table import Table

    from .selfcheck import run_checks

    table = Table(title="cqrs-sim validate: simulated against theory", title_justify="left")
    for name, justify in (("case", "left"), ("quantity", "left"), ("theory", "right"), ("simulated (99% CI)", "right"),
                          ("", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]

    def show(check) -> None:
        sim = f"{check.simulated:.6g}" if check.low == check.high else f"{check.simulated:.6g} ({check.low:.6g}–{check.high:.6g})"
        table.add_row(check.case, check.quantity, f"{check.theory:.6g}", sim,
                      "[green]pass[/green]" if check.passed else "[red]FAIL[/red]")

    failed = []

    def body() -> None:
        with err.status("simulating the validation cases", spinner="dots") if err.is_terminal else _nothing():
            checks = run_checks(show)
        out.print(table)
        failed.extend(c for c in checks if not c.passed)
        out.print(f"{len(checks) - len(failed)} passed, {len(failed)} failed", highlight=False)

    _guarded(body)
    if failed:
        raise typer.Exit(1)


@app.command()
def schema(markdown: bool = typer.Option(False, "--markdown", help="Print the README's scenario reference table instead.")) -> None:
    """Print the scenario file's JSON Schema (for editor completion in YAML files)."""
    from .reference import json_schema, markdown_table

    typer.echo(markdown_table() if markdown else json_schema())


@contextmanager
def _nothing():
    yield


def main() -> None:  # pragma: no cover - the console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
