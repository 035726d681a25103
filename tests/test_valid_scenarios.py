"""Every valid scenario runs: it loads, passes `check`, pickles, and runs on two worker processes.

The scenarios are drawn by :mod:`tests.scenario_strategies`, which covers every
section of the schema (every distribution family, every arrival kind × sync
strategy × routing policy, failures, stalls, autoscaling, keys, clients,
traces and empirical files). Each runs a few simulated seconds on a shared pool of two
processes, as `run -j 2` does (so the scenario and every distribution cross a
process boundary by pickle), then goes through what `run` does after the
simulation: the output files, the table and the verdict; and it runs again in
this process, where a numpy warning is an error, to the same numbers. An
internal error anywhere is a failure; a scenario stopped by its runaway guard
is not (it is a valid outcome, marked incomplete).

The examples are derandomized and no example database is kept, so CI sees the
same draws every time; ``CQRS_SIM_VALID_EXAMPLES=500`` runs a longer hunt, and
``CQRS_SIM_VALID_RANDOM=1`` draws new examples.
Below the property test, one regression test per crash it (or a user) found.
"""

from __future__ import annotations

import io
import os
import pickle
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from rich.console import Console
from ruamel.yaml import YAML
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.experiments.executors import LocalPool
from cqrs_sim.analysis.verdict import format_headline
from cqrs_sim.config.loader import load_scenario, parse_scenario, resolved_yaml
from cqrs_sim.present.report import comparison_table

from .scenario_strategies import scenarios

runner = CliRunner()

#: examples of the property; CQRS_SIM_VALID_EXAMPLES=500 for a long hunt
EXAMPLES = int(os.environ.get("CQRS_SIM_VALID_EXAMPLES", "30"))
#: fixed draws unless CQRS_SIM_VALID_RANDOM is set (a hunt for new cases; a failure prints its reproduction blob)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("CQRS_SIM_VALID_RANDOM"),
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def pool():
    """Two worker processes for the whole module, as `run -j 2` would start for one run."""
    workers = LocalPool(2)
    yield workers
    workers.shutdown()


def materialise(directory, data: dict, files: dict[str, str]):
    """The scenario file and its data files, written into ``directory``; the scenario's path."""
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, stream)
    path = directory / "drawn.yaml"
    path.write_text(stream.getvalue(), encoding="utf-8")
    return path


def runs_like_run(scenario, pool, directory) -> cqrs_sim.Results:
    """What `run -j 2 --no-plots` does with a loaded scenario: simulate on two processes, write, tabulate, judge."""
    results = cqrs_sim.simulate(scenario, executor=pool)
    out = directory / "out"
    out.mkdir()
    results.write_into(out)
    table = comparison_table(results.summary(), results.differences(), scenario.name, results.incomplete)
    Console(file=io.StringIO(), width=120).print(table)
    assert format_headline(results)[0]
    return results


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a numpy warning would reach the user's terminal
@SETTINGS
@given(scenarios())
def test_every_valid_scenario_loads_checks_pickles_and_runs(pool, tmp_path_factory, drawn):
    data, files = drawn
    directory = tmp_path_factory.mktemp("valid")
    path = materialise(directory, data, files)
    scenario = load_scenario(path)
    assert parse_scenario(resolved_yaml(scenario), "resolved.yaml") == scenario
    check = runner.invoke(app, ["check", str(path)])
    assert check.exit_code == 0, check.output
    assert pickle.loads(pickle.dumps(scenario)) == scenario
    results = runs_like_run(scenario, pool, directory)
    assert len(results.per_replication) == scenario.replications * len(scenario.architectures)
    serial = cqrs_sim.simulate(scenario)  # in this process, where a numpy warning is an error
    pd.testing.assert_frame_equal(serial.per_replication, results.per_replication)


PLOTTED = settings(SETTINGS, max_examples=max(1, EXAMPLES // 4))


@pytest.mark.filterwarnings("error::RuntimeWarning")
@PLOTTED
@given(scenarios())
def test_every_valid_scenario_draws_every_plot(tmp_path_factory, drawn):
    """What `run` draws after the tables (a quarter as many examples: drawing costs a second each)."""
    from cqrs_sim.plots import save_all

    data, files = drawn
    directory = tmp_path_factory.mktemp("plotted")
    scenario = load_scenario(materialise(directory, data, files))
    drawn_plots = save_all(cqrs_sim.simulate(scenario), directory, "png")
    assert drawn_plots and all(path.stat().st_size > 0 for path in drawn_plots)


# --- one regression test per crash found ---

def _scenario(tmp_path, text: str, files: dict[str, str] | None = None):
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


MIXTURE = """\
duration: 3s
replications: 1
workload:
  reads:
    rate: 20/s
    query_time: {dist: mixture, components: [{dist: uniform, low: 1ms, high: 2ms, weight: 0.5},
                                             {dist: pareto, scale: 1ms, shape: 2.5, weight: 0.3},
                                             {dist: empirical, samples: [3ms], weight: 0.2}]}
"""


def test_a_mixture_pickles_and_runs_on_two_processes(tmp_path, pool):
    """Each mixture component's class (UniformPart, ...) is found by its name, as pickle looks it up."""
    scenario = load_scenario(_scenario(tmp_path, MIXTURE))
    query = scenario.workload.reads.query_time
    assert pickle.loads(pickle.dumps(query)) == query
    assert runs_like_run(scenario, pool, tmp_path).summary() is not None


def test_the_yaml_fit_prints_runs_in_parallel(tmp_path):
    """`fit` prints a mixture as ready to use: pasted into a scenario, it runs with -j 2."""
    from cqrs_sim.experiments.fit import fit_family

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.lognormal(np.log(0.003), 0.4, 900), rng.pareto(2.5, 100) * 0.01 + 0.01])
    snippet = fit_family(values, "mixture").yaml
    path = _scenario(tmp_path, f"duration: 3s\nreplications: 1\nworkload:\n  reads:\n    rate: 20/s\n"
                               f"    query_time: {snippet}\n")
    result = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "out"), "-j", "2", "--no-plots"])
    assert result.exit_code == 0, result.output


PROJECTED = """\
duration: 5s
replications: 1
workload:
  reads: {rate: 20/s, query_time: 1ms}
  writes:
    trace: {file: w.csv}
    apply_time: 10ms
cqrs:
  sync: {strategy: projection, projection_time: 20ms}
"""


def test_a_projection_fed_by_a_write_trace_checks_and_runs(tmp_path, pool):
    """The projector's estimate takes the write arrivals' variability from the trace's own gaps."""
    from cqrs_sim.analysis.analytic import projection_lag
    from cqrs_sim.config.expected import write_arrival_scv

    path = _scenario(tmp_path, PROJECTED, {"w.csv": "time\n1\n2\n3\n4\n"})
    check = runner.invoke(app, ["check", str(path)])
    assert check.exit_code == 0, check.output
    scenario = load_scenario(path)
    assert write_arrival_scv(scenario) == 0.0  # evenly spaced: deterministic arrivals
    mean, _, how = projection_lag(scenario)
    assert mean == pytest.approx(0.02) and "G/G/1" in how  # D/D/1 at utilisation 0.02: no wait
    runs_like_run(scenario, pool, tmp_path)


@pytest.mark.parametrize("duration", [2.33674, 240.0, 20.0, 3.0000000001, 0.7])
def test_time_bins_are_never_empty_nor_slivers(duration):
    """np.arange(0, 2.33674, 2.33674 / 200) ends at 2.33674 itself: appending duration made a bin of width 0,
    whose read rate (0 / 0) was NaN, and a scenario replaying a trace was refused for "nan reads/s"."""
    from cqrs_sim.core.timebins import bin_edges

    for width in (duration / 200, duration / 7, 1.0, duration * 3):
        edges = bin_edges(duration, width)
        widths = np.diff(edges)
        assert edges[0] == 0 and edges[-1] == duration and (widths > 0).all()
        assert widths[:-1] == pytest.approx(width) and widths[-1] <= width * (1 + 1e-9)


def test_a_trace_over_a_duration_that_rounds_into_an_empty_bin_loads_and_runs(tmp_path, pool):
    path = _scenario(tmp_path, "duration: 2.33674s\nreplications: 1\nworkload:\n  reads:\n    trace: {file: r.csv}\n"
                               "    query_time: 1ms\n", {"r.csv": "time\n0\n1\n2.3\n"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scenario = load_scenario(path)
    rates = np.array([rate for _, rate in scenario.workload.reads.rate])
    assert np.isfinite(rates).all() and len(rates) == 200
    results = runs_like_run(scenario, pool, tmp_path)
    assert len(results.timeseries) == 2 * 200 and results.timeseries["replicas_in_pool"].notna().all()


@pytest.mark.parametrize("name", ["$\\frac{1}$", "costs $5 and $6", "$x^$"])
def test_a_scenario_name_with_dollar_signs_draws_every_plot(tmp_path, name):
    """matplotlib reads text between two $ as TeX: a name holding bad TeX failed every plot of the run. The name is
    shown as written (matplotlib's own reading of the escaped title is the plain text)."""
    from matplotlib.text import Text

    from cqrs_sim.plots import save_all

    path = _scenario(tmp_path, "duration: 2s\nreplications: 1\nworkload:\n  reads: {rate: 20/s, query_time: 1ms}\n")
    scenario = load_scenario(path, {"name": name})
    assert save_all(cqrs_sim.simulate(scenario), tmp_path, "png")
    from cqrs_sim.core.safetext import plot_text

    assert Text(0, 0, "")._preprocess_math(plot_text(name)) == (name, False)


@pytest.mark.parametrize("name", ["[/bold]", "[red]x[/]", "a [link=x]b"])
def test_a_scenario_name_that_looks_like_markup_is_printed_as_written(tmp_path, name):
    """rich reads [...] in a table's title as markup: the name "[/bold]" crashed `run` after its results were
    written (MarkupError: closing tag doesn't match)."""
    path = _scenario(tmp_path, "duration: 2s\nreplications: 1\nworkload:\n  reads: {rate: 20/s, query_time: 1ms}\n")
    result = runner.invoke(app, ["run", str(path), "--set", f"name={name!r}", "-o", str(tmp_path / "o"), "-j", "1",
                                 "--no-plots"])
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().startswith(name), result.stdout[:200]
