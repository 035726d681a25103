"""The ``cqrs-sim`` command: a thin front over load_scenario, simulate and Results.save.

Exit codes: 0 done; 2 bad input (one ``error: FILE:LINE:COL: path: message``
line per problem on stderr); 1 a bug (one line, the traceback saved to a file);
130 / 143 stopped by SIGINT / SIGTERM (see ``main``).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from enum import Enum
import tempfile
import traceback
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .analytic import offered_loads
from .errors import Problem, ScenarioError
from .outdir import (Destination, Lock, check_answer_file, check_plot_dir, safe_dirname, staged_files,
                     write_text_atomic)
from .loader import load_scenario, resolved_yaml
from .scenario import scenario_warnings
from .report import comparison_table, estimate_lines, loads_table, table_caption
from .estimate import estimate_run
from .executors import WorkerDied, default_jobs
from .units import format_duration, format_interval, format_kind, format_value

if TYPE_CHECKING:
    from rich.progress import Progress


def _on_first_call(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called: `--help`, `schema` and `check` never load what only `run` needs."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module, __package__), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


simulate = _on_first_call(".simulate", "simulate")
load_plot_results = _on_first_call(".plotdata", "load_plot_results")
progress_lines = _on_first_call(".simulate", "progress_lines")
format_headline = _on_first_call(".htmlreport", "format_headline")
write_report = _on_first_call(".htmlreport", "write_report")

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
AllPlots = typer.Option(False, "--all-plots", help="Sweeps: besides overview.png, one file per metric and varied path "
                        "(and heatmaps when two paths vary).")
SetOption = typer.Option(None, "--set", metavar="PATH=VALUE", help="Override one scenario value, e.g. cqrs.replicas.count=16 (repeatable).")


READY_FILE = "CQRS_SIM_READY_FILE"  #: if set, a file touched once simulating has begun (tests wait for it)
_HARD_EXIT_AFTER = 20.0  #: seconds of cleanup after a signal before the process exits regardless
_received: list[int] = []  #: the first SIGINT or SIGTERM received, if any
_raising = True  #: False once the command has finished: a late signal is only recorded
_saved: list[Path] = []  #: result directories already complete when a signal came (said in its message)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread so that every ``finally`` and ``except`` cleans up."""


def _on_signal(signum: int, _frame) -> None:
    if _received:
        return  # the first signal's cleanup is under way, and bounded in time
    _received.append(signum)
    timer = threading.Timer(_HARD_EXIT_AFTER, _hard_exit, args=(signum,))
    timer.daemon = True
    timer.start()
    if _raising:
        raise Interrupted(signal.Signals(signum).name)


def _hard_exit(signum: int) -> None:
    os.write(2, f"interrupted ({signal.Signals(signum).name}): cleanup took over {_HARD_EXIT_AFTER:g} s; exiting\n".encode())
    os._exit(128 + signum)


def _with_ready(progress: Optional[Callable] = None) -> Optional[Callable]:
    """``progress``, touching $CQRS_SIM_READY_FILE at its first call (simulating has begun)."""
    path = os.environ.get(READY_FILE)
    if not path:
        return progress

    def tick(*args) -> None:
        if not os.path.exists(path):
            Path(path).touch()
        if progress is not None:
            progress(*args)

    return tick


def _guarded(body: Callable[[], None]) -> None:
    try:
        body()
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort):
        raise
    except WorkerDied as exc:
        if not _received:  # not a worker killed with the process group: main() reports those
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # a bug: one line for the user, the traceback for the report
        if _received:
            raise typer.Exit(1) from None  # main() reports the signal
        with tempfile.NamedTemporaryFile("w", prefix="cqrs-sim-crash-", suffix=".txt", delete=False) as fh:
            traceback.print_exc(file=fh)
        typer.echo(f"error: internal error ({type(exc).__name__}: {exc}); traceback saved to {fh.name}", err=True)
        raise typer.Exit(1) from None


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
    failed = []
    held = ExitStack()  # the destination's lock and staging directory, released after any error is reported

    def body() -> None:
        scenario = load_scenario(scenario_file, _overrides(sets, seed, replications, record.value if record else None))
        target = output if output is not None else _default_target(scenario.name)
        destination = held.enter_context(Destination(target, force=force, notify=_note))  # checked before simulating
        for warning in _warnings(scenario):
            err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
        workers = jobs if jobs is not None else default_jobs()
        if err.is_terminal:
            with _progress_bar() as bar:
                task = bar.add_task(f"simulating {escape(scenario.name)}", total=scenario.replications * len(scenario.architectures))

                def tick(done: float, total: int, label: str) -> None:
                    bar.update(task, completed=done, description=f"{escape(scenario.name)}: {label}")

                results = simulate(scenario, progress=_with_ready(tick), jobs=workers)
        else:  # a log: plain lines, at each 10% and at least every 5 s
            lines = progress_lines(scenario.name, lambda line: err.print(line, highlight=False, markup=False,
                                                                          soft_wrap=True))
            results = simulate(scenario, progress=_with_ready(lines), jobs=workers)
        with err.status("writing results and plots", spinner="dots") if err.is_terminal else _nothing():
            results.write_into(destination.staging)
            destination.commit()  # the data is in place before any plot is drawn
            _saved.append(target)
            if not no_plots:
                failed.extend(_reported(lambda: _draw_plots(results, target, plot_format.value), target))
        table = comparison_table(results.summary(), results.differences(), scenario.name, results.incomplete)
        table.caption = table_caption(scenario, results.incomplete)
        out.print(table)
        decision, *lines = format_headline(results)
        out.print(f"[bold]Verdict:[/bold] {escape(decision)}", highlight=False, soft_wrap=True)
        for line in lines:
            out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        if report:
            failed.extend(_reported(lambda: out.print(f"wrote {write_report(target)}", highlight=False), target))
        stopped.extend(results.incomplete)
        for run_ in results.incomplete:
            err.print(f"[red]incomplete:[/red] {run_['architecture']} replication {run_['replication'] + 1} was stopped "
                      f"at t = {format_duration(run_['stopped_at'])}: {run_['reason']}; the scenario is unstable (see `cqrs-sim check`) "
                      "and its numbers cover only what finished before", highlight=False, soft_wrap=True)
        out.print(f"wrote {target}/ (simulation took {results.manifest['wall_time_s']:.1f} s of wall time)", highlight=False)

    with held:
        _guarded(body)
    if failed:
        raise typer.Exit(1)
    if stopped:
        raise typer.Exit(3)


def _default_target(name: str, suffix: str = "") -> Path:
    """results/<a directory name derived from the scenario's name>; says so when it differs from the name."""
    directory = safe_dirname(name) + suffix
    if directory != name + suffix:
        _note(f"the scenario name {name!r} is not a plain directory name; writing to results/{directory}")
    return Path("results") / directory


def _note(message: str) -> None:
    err.print(f"note: {message}", highlight=False, markup=False, soft_wrap=True)


def _draw_plots(results, directory: Path, fmt: str) -> list[Path]:
    """Draw every plot into DIR/plots/, replacing only the files of this format once all are drawn."""
    from .plots import save_all

    with staged_files(directory / "plots", notify=_note) as staging:
        names = [path.name for path in save_all(results, staging, fmt)]
    return [directory / "plots" / name for name in names]


def _reported(step: Callable[[], object], directory: Path) -> list[str]:
    """Run a step after the results are saved; a failure is reported in one line and the results stay."""
    try:
        step()
    except Exception as exc:
        with tempfile.NamedTemporaryFile("w", prefix="cqrs-sim-crash-", suffix=".txt", delete=False) as fh:
            traceback.print_exc(file=fh)
        typer.echo(f"error: plots or report failed ({type(exc).__name__}: {exc}); the results are saved in "
                   f"{directory}/ (try `cqrs-sim plot {directory}`); traceback saved to {fh.name}", err=True)
        return [str(exc)]
    return []


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
    all_plots: bool = AllPlots,
) -> None:
    """Draw the plots of saved results again, into DIR/plots/."""

    def body() -> None:
        if (directory / "optimize.json").exists():
            import json

            from .plots.pareto import save_pareto

            answer = json.loads((directory / "optimize.json").read_text(encoding="utf-8"))
            with Lock(directory), staged_files(directory / "plots", notify=_note) as staging:
                name = save_pareto(answer, staging, plot_format.value).name
            out.print(f"wrote {directory / 'plots' / name}", highlight=False)
            return
        if (directory / "sweep.parquet").exists():
            from .plots.sweeps import save_sweep_plots
            from .sweep import load_sweep

            table, parameters, name = load_sweep(directory)
            with Lock(directory), staged_files(directory / "plots", notify=_note) as staging:
                names = [p.name for p in save_sweep_plots(table, parameters, name, staging, plot_format.value, all_plots)]
            for path in names:
                out.print(f"wrote {directory / 'plots' / path}", highlight=False)
            return
        if not (directory / "scenario.yaml").exists():
            raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", "not a result directory (no scenario.yaml)")])
        with Lock(directory):
            paths = _draw_plots(load_plot_results(directory), directory, plot_format.value)
        for path in paths:
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
        with Lock(directory):
            out.print(f"wrote {write_report(directory)}", highlight=False)

    _guarded(body)


def _progress_bar() -> Progress:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
    all_plots: bool = AllPlots,
) -> None:
    """Run a parameter sweep; points already done in the directory are skipped."""
    from .plots.sweeps import save_sweep_plots
    from .sweep import run_sweep

    def body() -> None:
        base = load_scenario(scenario_file, sets)
        target = output if output is not None else _default_target(base.name, "-sweep")
        with _executor(jobs, scheduler) as executor:
            if err.is_terminal:
                with _progress_bar() as bar:
                    task = bar.add_task(f"{escape(base.name)} sweep", total=None)

                    def tick(done: float, total: int, label: str) -> None:
                        bar.update(task, completed=done, total=total, description=f"{escape(base.name)} sweep: {label}")

                    result = run_sweep(scenario_file, list(vary or []), target, executor, sets, _with_ready(tick))
            else:
                lines = progress_lines(f"{base.name} sweep", lambda line: err.print(line, highlight=False, markup=False,
                                                                                    soft_wrap=True))
                result = run_sweep(scenario_file, list(vary or []), target, executor, sets, _with_ready(lines))
        for failure in result.failures:
            err.print(f"[red]failed point[/red] {failure['point']}: {failure['error']}", highlight=False, soft_wrap=True)
        parameters = [c for c in result.table.columns if c not in ("point", "architecture", "metric", "mean", "ci_low", "ci_high", "n")]
        if not no_plots and len(result.table):
            with Lock(target), staged_files(target / "plots", notify=_note) as staging:
                save_sweep_plots(result.table, parameters, base.name, staging, every_metric=all_plots)
        out.print(_sweep_summary(result.table, parameters), highlight=False)
        out.print(f"wrote {target}/sweep.parquet: {result.ran} point(s) simulated, {result.skipped} already done, "
                  f"{len(result.failures)} failed", highlight=False, soft_wrap=True)

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
        rich_table.add_column(name, min_width=len(name), no_wrap=True)
    if _distinct_tails(parameters) != parameters:
        rich_table.caption = "; ".join(f"{t} = {p}" for t, p in zip(_distinct_tails(parameters), parameters) if t != p)
    short = {"read_latency_p99": "p99", "stale_read_fraction": "stale", "visibility_window_mean": "visible after"}
    for metric, arch in view.columns:
        rich_table.add_column(f"{arch} {short[metric]}", justify="right")
    for index, row in view.iterrows():
        keys = index if isinstance(index, tuple) else (index,)
        rich_table.add_row(*[format_value(p, k) for p, k in zip(parameters, keys)],
                           *[format_value(m, v) for (m, _a), v in zip(view.columns, row)])
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
    force: bool = typer.Option(False, "--force", help="Replace the output file if it is an earlier capacity answer."),
) -> None:
    """Per architecture: the largest (or smallest) value of PATH at which every SLO holds, by bisection."""
    from rich.table import Table

    from .capacity import capacity_search, parse_range, parse_slo

    def body() -> None:
        slos = [parse_slo(text) for text in slo]
        bounds = parse_range(value_range) if value_range else None
        if output is not None:
            check_answer_file(output, force)  # before the search, not after it

        def show(arch: str, e) -> None:
            parts = ", ".join(f"{m} {format_value(m, v[0])}" for m, v in e.metrics.items())
            verdict = "holds" if e.holds else ("stopped (runaway)" if e.incomplete else "fails")
            err.print(f"  {arch} {search}={format_value(search, e.value)}: {parts} -> {verdict}", highlight=False,
                      soft_wrap=True)

        with _executor(jobs, scheduler) as executor:
            results = capacity_search(scenario_file, search, slos, executor, bounds, minimize, sets, report=_with_ready(show))
        table = Table(title=f"capacity: {search} with {' and '.join(s.text for s in slos)}", title_justify="left")
        for name in ("architecture", "answer (± the search's resolution)", "SLO metrics at the answer (mean ± 95% CI)", "note"):
            table.add_column(name)
        for r in results:
            at = r.at_answer
            cells = "-" if at is None else "; ".join(
                f"{m} {format_interval(m, v[0], v[1], v[2])}" for m, v in at.metrics.items())
            table.add_row(r.architecture, _capacity_answer(search, r), cells, r.note)
        out.print(table)
        if output is not None:
            import json

            data = [{"architecture": r.architecture, "path": r.path, "minimize": r.minimize, "answer": r.answer,
                     "bracket": list(r.bracket), "note": r.note,
                     "evaluations": [{"value": e.value, "holds": e.holds, "incomplete": e.incomplete, "metrics": e.metrics}
                                     for e in r.evaluations]} for r in results]
            check_answer_file(output, force)  # again: it may have appeared during the search
            write_text_atomic(output, json.dumps(data, indent=2) + "\n")

    _guarded(body)


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
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots/pareto.png."),
) -> None:
    """The cheapest design (architecture × varied values) meeting every SLO, and the Pareto fronts against each SLO metric."""
    from .optimize import answer_lines, check_optimize_dir, optimize, parse_slos, plan

    def body() -> None:
        slos = parse_slos(list(slo or []))
        base, _ = plan(scenario_file, list(vary or []), sets, minimize, slos)  # bad input: before anything runs
        target = output if output is not None else _default_target(base.name, "-optimize")
        check_optimize_dir(target)
        with _executor(jobs, scheduler) as executor:
            lines = progress_lines(f"{base.name} optimize", lambda line: err.print(line, highlight=False, markup=False,
                                                                                   soft_wrap=True))
            result = optimize(scenario_file, list(vary or []), slos, target, executor, minimize, sets, _with_ready(lines))
        if not no_plots:
            from .plots.pareto import save_pareto

            with Lock(target), staged_files(target / "plots", notify=_note) as staging:
                save_pareto(result.as_dict(), staging)
        out.print(_designs_table(result), highlight=False)
        for line in answer_lines(result):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
        out.print(f"wrote {target}/optimize.json and designs.csv: {result.simulated} point(s) simulated, "
                  f"{result.skipped} already done", highlight=False, soft_wrap=True)

    _guarded(body)


def _designs_table(result, rows: int = 12):
    """The cheapest designs first: varied values, the minimised metric and each SLO metric (green: met, red: not)."""
    import math

    from rich.table import Table

    paths = list(dict.fromkeys(p for d in result.designs for p in d.settings))
    metrics = list(dict.fromkeys(s.metric for s in result.slos))
    table = Table(title=f"{len(result.designs)} designs, cheapest first (mean ± 95% CI; SLOs judged on the CI's worse end)",
                  title_justify="left")
    for name in ["architecture", *(_distinct_tails(paths) if paths else []), result.minimize, *metrics, "meets SLOs"]:
        table.add_column(name, justify="left" if name == "architecture" else "right")
    order = sorted(result.designs, key=lambda d: (not math.isfinite(d.mean(result.minimize)), d.mean(result.minimize)))
    for design in order[:rows]:
        met = {c.slo: c.met for c in design.checks}

        def cell(metric: str) -> str:
            stats = design.metrics.get(metric, {})
            text = escape(format_interval(metric, stats.get("mean"), stats.get("ci_low"), stats.get("ci_high")))
            verdicts = [met[s.text] for s in result.slos if s.metric == metric]
            return text if not verdicts else f"[{'green' if all(verdicts) else 'red'}]{text}[/]"

        star = " ★" if design is result.best else ""
        table.add_row(design.architecture + star, *[format_value(p, design.settings[p]) if p in design.settings else "any"
                                                    for p in paths],
                      cell(result.minimize), *[cell(m) for m in metrics],
                      "stopped" if design.incomplete else ("yes" if design.meets else "no"))
    notes = ["★ the answer", "any: the path does not affect that architecture"]
    tails = _distinct_tails(paths) if paths else []
    notes += [f"{t} = {p}" for t, p in zip(tails, paths) if t != p]
    if len(order) > rows:
        notes.append(f"{len(order) - rows} more in designs.csv")
    table.caption = "; ".join(notes)
    table.caption_justify = "left"
    return table


def _capacity_answer(path: str, result) -> str:
    """The answer with its unit, ± the distance to the first value that failed (the search's resolution)."""
    if result.answer is None:
        return "none"
    good, bad = result.bracket
    if bad is None or bad == good or isinstance(good, int):  # integers are searched exactly
        return format_value(path, result.answer)
    return format_interval(path, good, good - abs(bad - good), good + abs(bad - good))


@app.command()
def testbed(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output directory (default results/<name>-testbed/)."),
    dsn: Optional[str] = typer.Option(None, "--dsn", help="A PostgreSQL server you run (default: an embedded one)."),
    sets: Optional[List[str]] = SetOption,
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw plots."),
    force: bool = typer.Option(False, "--force", help="Replace the output directory if it exists."),
) -> None:
    """Run the scenario in real time against PostgreSQL; write the same output directory as `run`."""
    from .testbed import ServerError, run_testbed

    held = ExitStack()

    def body() -> None:
        scenario = load_scenario(scenario_file, _overrides(sets))
        target = output if output is not None else _default_target(scenario.name, "-testbed")
        destination = held.enter_context(Destination(target, force=force, notify=_note))
        say = lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True)  # noqa: E731
        try:
            results = run_testbed(scenario, dsn=dsn, say=_with_ready(say), source=str(scenario_file))
        except ServerError as exc:
            typer.echo(f"error: testbed: {exc}", err=True)
            raise typer.Exit(2) from None
        results.write_into(destination.staging)
        destination.commit()
        _saved.append(target)
        if not no_plots:
            failed.extend(_reported(lambda: _draw_plots(results, target, "png"), target))
        table = comparison_table(results.summary(), results.differences(), f"{scenario.name} (testbed)")
        out.print(table)
        out.print(f"wrote {target}/ (databases {results.manifest['testbed']['databases']}, dropped)", highlight=False)

    failed: list[str] = []
    with held:
        _guarded(body)
    if failed:
        raise typer.Exit(1)


@app.command("compare")
def compare_command(
    dir_a: Path = typer.Argument(..., metavar="DIR_A", help="A result directory (e.g. from `run`)."),
    dir_b: Path = typer.Argument(..., metavar="DIR_B", help="Another (e.g. from `testbed`, same scenario)."),
    plots: Optional[Path] = typer.Option(None, "--plots", help="Directory for the overlay plots (new, or holding only "
                                                                 "earlier overlays); none drawn without it."),
) -> None:
    """Side by side: each metric of two result directories, the difference, and whether it lies inside their intervals."""

    def body() -> None:
        from .compare import PLOT_FILES, compare_results, compare_table, load_pair, pair_labels

        a, b = load_pair(dir_a, dir_b)
        labels = pair_labels(a, dir_a, b, dir_b)
        if plots is not None:
            check_plot_dir(plots, PLOT_FILES)
        out.print(compare_table(compare_results(a, b), labels))
        if plots is None:
            return
        from .plots.overlay import latency_cdf_overlay, visibility_overlay

        Path(os.path.abspath(plots)).parent.mkdir(parents=True, exist_ok=True)
        with Lock(plots):
            check_plot_dir(plots, PLOT_FILES)
            with staged_files(plots, notify=_note) as staging:
                latency_cdf_overlay(a, b, labels).savefig(staging / PLOT_FILES[0])
                visibility_overlay(a, b, labels).savefig(staging / PLOT_FILES[1])
        out.print(f"wrote {plots}/{PLOT_FILES[0]} and {PLOT_FILES[1]}", highlight=False)

    _guarded(body)


@app.command()
def validate() -> None:
    """Check this install against queueing theory and hand-derived timelines (about 10 s on 2 cores)."""
    from rich.table import Table

    from .selfcheck import run_checks

    table = Table(title="cqrs-sim validate: simulated against theory", title_justify="left")
    for name, justify in (("case", "left"), ("quantity", "left"), ("theory", "right"), ("simulated (99% CI)", "right"),
                          ("", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]

    def show(check) -> None:
        value = lambda x: format_kind(check.kind, x)  # noqa: E731
        sim = value(check.simulated) if check.low == check.high else \
            f"{value(check.simulated)} ({value(check.low)}–{value(check.high)})"
        table.add_row(check.case, check.quantity, value(check.theory), sim,
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


@app.command()
def fit(
    data_file: str = typer.Argument(..., metavar="FILE", help="CSV or Parquet file, or - for one number per line on stdin."),
    column: Optional[str] = typer.Option(None, "--column", help="The column of measured times (default: the only one)."),
    unit: str = typer.Option("s", "--unit", help="Unit of the measured values: s, ms or us."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="CDF/QQ plot (.png, .svg or .pdf; default fit-<FILE>.png here)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing plot file."),
) -> None:
    """Fit exponential, lognormal, gamma, Weibull and Pareto+exponential to measured times; print the best as scenario YAML."""

    def body() -> None:
        from .fit import fit_all, fits_table, plot_target, read_measurements, save_fit_plot

        name = "stdin" if data_file == "-" else Path(data_file).stem
        plot = plot_target(output, name, force)
        values = read_measurements(data_file, column, unit, sys.stdin)
        skipped: list[tuple[str, str]] = []
        fits = fit_all(values, skipped=skipped)
        if not fits:
            raise ScenarioError([Problem(data_file, 0, 0, column or "(data)", f"no family fits: {skipped[0][1]}")])
        out.print(fits_table(fits))
        for family, reason in skipped:
            out.print(f"not fitted: {family} ({reason})", highlight=False, markup=False)
        out.print("best fit, ready for a scenario (e.g. workload.reads.query_time):", highlight=False)
        out.print(fits[0].yaml, highlight=False, markup=False, soft_wrap=True)
        save_fit_plot(values, fits, name, plot)
        out.print(f"wrote {plot}", highlight=False)

    _guarded(body)


@contextmanager
def _nothing():
    yield


def main() -> int:
    """The console-script entry: SIGINT or SIGTERM, whenever it arrives, ends the command with 130 or 143 and one line.

    The handler raises :class:`Interrupted` once, wherever the main thread is,
    so cleanup runs (worker processes killed, staging directories removed);
    later signals are ignored while it does, and a timer ends the process if
    cleanup ever takes longer than ``_HARD_EXIT_AFTER``. After a signal it
    does not return: it exits with 128 + the signal's number.
    """
    global _raising
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    try:
        try:
            app()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        _raising = False
    except KeyboardInterrupt:
        _raising = False
        code = 130
    if _received:
        name = signal.Signals(_received[0]).name
        if _saved:
            typer.echo(f"interrupted ({name}) after the results were saved: {_saved[0]}/ is complete, but its plots or "
                       f"report may be missing or partial (draw them with `cqrs-sim plot {_saved[0]}`)", err=True)
        else:
            typer.echo(f"interrupted ({name}): stopped; no partial result directory was left", err=True)
        _exit_now(128 + _received[0])
    return code


def _exit_now(code: int) -> None:
    """Exit once an interrupt's cleanup has run, without tearing down every imported module (seconds under load)."""
    atexit._run_exitfuncs()  # what libraries registered (multiprocessing's finalizers, logging) still runs
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
