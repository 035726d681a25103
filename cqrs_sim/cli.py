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
from functools import partial
import tempfile
import traceback
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional

import typer
from rich.console import Console

from .analytic import offered_loads
from .errors import Problem, ScenarioError
from .outdir import (Destination, Lock, check_answer_file, check_plot_dir, safe_dirname, staged_files,
                     write_text_atomic)
from .loader import load_scenario, resolved_yaml
from .redact import command_line, guard_standard_streams, redact
from .scenario import scenario_warnings
from .report import comparison_table, estimate_lines, loads_table, table_caption
from .estimate import estimate_run
from .safetext import printable, rich_text
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


def _save_traceback() -> str:
    """Save the exception being handled, and the command line, to a new crash file (passwords hidden); its path."""
    text = f"command: {command_line()}\n{traceback.format_exc()}"
    with tempfile.NamedTemporaryFile("w", prefix="cqrs-sim-crash-", suffix=".txt", delete=False) as fh:
        fh.write(redact(text))
    return fh.name


def _guarded(body: Callable[[], None]) -> None:
    try:
        body()
    except ScenarioError as exc:
        for problem in exc.problems:
            _error(str(problem))
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort):
        raise
    except WorkerDied as exc:
        if not _received:  # not a worker killed with the process group: main() reports those
            _error(str(exc))
        raise typer.Exit(1) from None
    except Exception as exc:  # a bug: one line for the user, the traceback for the report
        if _received:
            raise typer.Exit(1) from None  # main() reports the signal
        saved = _save_traceback()
        _error(f"internal error ({type(exc).__name__}: {redact(str(exc))}); traceback saved to {saved}")
        raise typer.Exit(1) from None


def _error(message: str) -> None:
    """One ``error:`` line on stderr, whatever the message echoes (control characters escaped)."""
    typer.echo(f"error: {printable(message)}", err=True)


def _say(console: Console, text: str) -> None:
    """One plain line (no markup, no highlighting), every control character in it escaped."""
    console.print(printable(text), highlight=False, markup=False, soft_wrap=True)


def _warn(text: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {rich_text(text)}", highlight=False, soft_wrap=True)


def _checked(*steps: Callable[[], Any]) -> list[Any]:
    """Each step's value (None for a step that failed); every problem of every step raised together, one line each."""
    values: list[Any] = []
    problems: list[Problem] = []
    for step in steps:
        try:
            values.append(step())
        except ScenarioError as exc:
            problems += exc.problems
            values.append(None)
    if problems:
        raise ScenarioError(problems)
    return values


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


def _default_target(name: str, suffix: str = "") -> Path:
    """results/<a directory name derived from the scenario's name>; says so when it differs from the name."""
    directory = safe_dirname(name) + suffix
    if directory != name + suffix:
        _note(f"the scenario name {name!r} is not a plain directory name; writing to results/{directory}")
    return Path("results") / directory


def _note(message: str) -> None:
    _say(err, f"note: {message}")


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
        saved = _save_traceback()
        _error(f"plots or report failed ({type(exc).__name__}: {redact(str(exc))}); the results are saved in "
               f"{directory}/ (try `cqrs-sim plot {directory}`); traceback saved to {saved}")
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
            _say(out, f"wrote {directory / 'plots' / name}")
            return
        if (directory / "sweep.parquet").exists():
            from .plots.sweeps import save_sweep_plots
            from .sweep import load_sweep

            table, parameters, name = load_sweep(directory)
            with Lock(directory), staged_files(directory / "plots", notify=_note) as staging:
                names = [p.name for p in save_sweep_plots(table, parameters, name, staging, plot_format.value, all_plots)]
            for path in names:
                _say(out, f"wrote {directory / 'plots' / path}")
            return
        if not (directory / "scenario.yaml").exists():
            from .results import not_a_result

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
            from .results import not_a_result

            raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", not_a_result(directory))])
        with Lock(directory):
            _say(out, f"wrote {write_report(directory)}")

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
    from .sweep import parse_vary, run_sweep

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

    from .capacity import capacity_search, parse_precision, parse_range
    from .slo import RULE, parse_slos

    def body() -> None:
        slos, bounds, width, *_ = _checked(partial(parse_slos, list(slo)),
                                           lambda: parse_range(value_range) if value_range else None,
                                           lambda: parse_precision(precision) if precision else None,
                                           lambda: check_answer_file(output, force) if output is not None else None,
                                           partial(load_scenario, scenario_file, sets))  # all before the search
        counts = {"screened": 0, "proven": 0, "rejected": 0, "undecided": 0, "replications": 0}
        import time

        began = time.monotonic()

        def show(arch: str, e) -> None:
            from .slo import Status

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
                from .simulate import format_eta

                probed = sum(counts[k] for k in ("screened", "proven", "rejected", "undecided"))
                eta = format_eta((time.monotonic() - began) / probed * e.probes_left)  # at the pace so far
                _say(err, f"capacity: {counts['screened']} screened, {counts['proven']} proven, "
                          f"{counts['rejected']} rejected, {counts['undecided']} undecided; "
                          f"{counts['replications']} replications run, at most {e.probes_left} more value(s), "
                          f"ETA {eta} at most")

        with _executor(jobs, scheduler) as executor:
            from .sequential import executor_width

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
    from .optimize import answer_lines, check_metric, check_optimize_dir, optimize, plan
    from .slo import parse_slos

    def body() -> None:
        from .sweep import parse_vary

        slos, *_ = _checked(lambda: parse_slos(list(slo or [])), *[partial(parse_vary, text) for text in vary or []],
                            partial(check_metric, minimize, "--minimize"), partial(load_scenario, scenario_file, sets))
        base, _ = plan(scenario_file, list(vary or []), sets, minimize, slos)  # bad input: before anything runs
        target = output if output is not None else _default_target(base.name, "-optimize")
        check_optimize_dir(target)
        if not pareto:
            from .search import answer_lines as search_lines, search
            from .sequential import executor_width, tally_lines

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
            from .plots.pareto import save_pareto

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
    from .testbed import ServerError, run_testbed

    held = ExitStack()

    def measure_parts(scenario) -> None:
        from .outdir import check_output_file, write_text_atomic
        from .testbed.calibrate import calibrate as measure, is_fitted_file, parts_table

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
        from .testbed.predict import run_parts_table

        out.print(run_parts_table(results, str(target)))
        _say(out, f"wrote {target}/ (databases {results.manifest['testbed']['databases']}, dropped)")

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
        from .compare import PLOT_FILES, compare_results, compare_table, load_pair, pair_labels, scenario_difference

        a, b = load_pair(dir_a, dir_b)
        labels = pair_labels(a, dir_a, b, dir_b)
        if plots is not None:
            for directory, side in ((dir_a, a), (dir_b, b)):
                if side.manifest.get("kind") == "sweep point":
                    raise ScenarioError([Problem(str(directory), 0, 0, "(--plots)", "is a sweep point, which keeps "
                                                 "summaries only: the overlays need the requests of two run results")])
            check_plot_dir(plots, PLOT_FILES)
        difference = scenario_difference(a, b)
        judged = difference is None or difference.same_model or difference.calibrated
        table = compare_table(compare_results(a, b, targets=None if judged else {}), labels)
        if difference is not None:
            _warn(difference.message())
            table.caption = rich_text("A and B: " + (
                "the same model, other random numbers or runs" if difference.same_model else
                "a prediction from measured parts beside a measurement" if difference.calibrated else
                "different scenarios; agreement targets not judged"))
            table.caption_justify = "left"
        out.print(table)
        if plots is None:
            return
        from .plots.overlay import latency_cdf_overlay, visibility_overlay

        Path(os.path.abspath(plots)).parent.mkdir(parents=True, exist_ok=True)
        with Lock(plots):
            check_plot_dir(plots, PLOT_FILES)
            with staged_files(plots, notify=_note) as staging:
                latency_cdf_overlay(a, b, labels).savefig(staging / PLOT_FILES[0])
                visibility_overlay(a, b, labels).savefig(staging / PLOT_FILES[1])
        _say(out, f"wrote {plots}/{PLOT_FILES[0]} and {PLOT_FILES[1]}")

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
        _say(out, f"{len(checks) - len(failed)} passed, {len(failed)} failed")

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
    """Fit exponential, lognormal, gamma, Weibull and Pareto+exponential to measured times; print the best the data do
    not refute (or the measured values themselves) as scenario YAML."""

    def body() -> None:
        from .fitcheck import check_fits, fits_table, recommendation_lines, subsample, yaml_lines
        from .fitio import plot_target, read_measurements, save_fit_plot

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
    guard_standard_streams()
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
            typer.echo(printable(f"interrupted ({name}) after the results were saved: {_saved[0]}/ is complete, but its "
                                 f"plots or report may be missing or partial (draw them with `cqrs-sim plot {_saved[0]}`)"),
                       err=True)
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
