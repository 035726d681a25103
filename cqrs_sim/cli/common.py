"""What every command shares: the application, its consoles and options, one-line errors and notes, the checks that gather every problem, and the executor a command runs on."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from enum import Enum
import tempfile
import traceback
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console

from ..analysis.analytic import offered_loads
from ..analysis.failure_load import failure_warnings
from ..core.errors import Problem, ScenarioError
from ..io.outdir import safe_dirname
from ..core.redact import command_line, redact
from ..config.warnings import scenario_warnings
from ..core.safetext import printable, rich_text
from ..experiments.executors import WorkerDied, default_jobs
from .signals import _received


def _on_first_call(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called: `--help`, `schema` and `check` never load what only `run` needs."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module, __package__), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


load_plot_results = _on_first_call("..io.plotdata", "load_plot_results")


write_report = _on_first_call("..io.plotdata", "write_report")


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
    return (scenario_warnings(scenario) + [load.warning for load in offered_loads(scenario) if load.warning]
            + failure_warnings(scenario))


def _default_target(name: str, suffix: str = "") -> Path:
    """results/<a directory name derived from the scenario's name>; says so when it differs from the name."""
    directory = safe_dirname(name) + suffix
    if directory != name + suffix:
        _note(f"the scenario name {name!r} is not a plain directory name; writing to results/{directory}")
    return Path("results") / directory


def _note(message: str) -> None:
    _say(err, f"note: {message}")


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


@contextmanager
def _executor(jobs: Optional[int], scheduler: Optional[str]):
    """A local process pool (all cores, or -j) or a Dask cluster (--scheduler), shut down on exit."""
    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..experiments.executors import LocalPool, dask_executor

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


@contextmanager
def _nothing():
    yield
