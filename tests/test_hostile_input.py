"""Hostile scenario input: nothing hangs, overflows or silently does nothing.

Each test feeds the input that once hung, overflowed or did nothing, under a
deadline (a child process with a time and memory cap where the input could
block in C code or exhaust memory), and asserts on the one error line, exit
code 2, or on the warning or value that replaces the silence.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from rich.console import Console
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.experiments import capacity as capacity_module
from cqrs_sim.analysis.analytic import offered_loads
from cqrs_sim.experiments.capacity import capacity_search
from cqrs_sim.cli.sweep import _sweep_summary
from cqrs_sim.cli import app
from cqrs_sim.core.errors import ScenarioError
from cqrs_sim.config.loader import resolved_yaml
from cqrs_sim.present.report import estimate_lines
from cqrs_sim.analysis.slo import parse_slo
from cqrs_sim.experiments.sweep import run_sweep
from cqrs_sim.config.units import parse_duration

from .conftest import ROOT

runner = CliRunner()

BASE = """\
duration: 30s
replications: 1
workload:
  reads:
    rate: 100/s
    query_time: 4ms
  writes:
    interval: 10s
    apply_time: 1s
"""

TINY = """\
duration: 2s
replications: 1
architectures: [crud]
workload:
  reads:
    rate: 20/s
    query_time: 4ms
"""


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging) when the body runs longer than ``seconds``."""

    def fire(_signum, _frame):
        raise TimeoutError(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cli(*args: str, seconds: int = 30):
    """The command in-process, under a deadline."""
    with deadline(seconds):
        return runner.invoke(app, [str(a) for a in args])


def child(*args: str, seconds: int = 120) -> subprocess.CompletedProcess:
    """The command in its own process, capped in time and address space (for input that blocks or eats memory)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        return subprocess.run([sys.executable, "-m", "cqrs_sim", *map(str, args)], capture_output=True, text=True,
                              timeout=seconds, preexec_fn=cap, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cqrs-sim {' '.join(map(str, args))} still running after {seconds}s")


def one_error(result, start: str, *words: str) -> str:
    """Exit 2 and exactly one error line, starting with ``start`` and holding ``words``."""
    stderr = result.stderr
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code == 2, (code, stderr, getattr(result, "stdout", ""))
    lines = [line for line in stderr.splitlines() if line]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {start}"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in stderr
    return lines[0]


def scenario_file(tmp_path, text: str, name: str = "s"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- 5: files that are too big, not files, not UTF-8, or alias bombs ------------------------------------------


def test_alias_bomb_is_refused_at_once(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1024
    proc = child("check", path, seconds=120)
    one_error(proc, f"{path}:6:1: f: ", "expands to 1,111,111 values through anchors and aliases, more than 1,000,000")


def test_a_50_mb_file_is_refused_without_parsing_it(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text('duration: "' + "x" * (50 << 20) + '"\n')
    result = cli("check", path, seconds=30)
    assert one_error(result, f"{path}: (file): ", "is larger than 1,048,576 bytes (1 MiB)")


def test_a_device_is_refused_not_read():
    proc = child("check", "/dev/urandom", seconds=120)
    one_error(proc, "/dev/urandom: (file): ", "is not a regular file")


def test_a_named_pipe_without_a_writer_is_refused_not_waited_for(tmp_path):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    result = cli("check", path, seconds=20)
    one_error(result, f"{path}: (file): ", "is not a regular file")


def test_non_utf8_is_located(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"duration: 10s\nname: \"caf\xe9\"\n")
    result = cli("check", path)
    one_error(result, f"{path}:2:11: (file): ", "is not UTF-8 text: byte 0xe9")


# --- 7: sizes that cannot be simulated are refused up front, naming the limit --------------------------------


@pytest.mark.parametrize("assignment, path, estimate, limit", [
    ("bin=1us", "bin", "gives 30,000,000 timeseries bins", "max_bins (100,000)"),
    ("crud.connections=1000000000", "crud.connections", "crud.connections is 1,000,000,000", "max_servers (1,000,000)"),
    ("workload.writes.interval=1e-12", "workload.writes.interval", "gives about 30,000,000,000,000 writes per run",
     "max_events (1,000,000,000)"),
    ("workload.reads.rate=1e8", "workload.reads.rate", "gives about 3,000,000,000 reads per run", "max_reads (100,000,000)"),
])
def test_sizes_past_a_limit_are_refused_with_the_estimate(tmp_path, assignment, path, estimate, limit):
    result = cli("check", scenario_file(tmp_path, BASE), "--set", assignment)
    name = limit.split()[0]
    one_error(result, f"--set {assignment}: {path}: ", estimate, f"exceeds limits.{limit}; raise it with --set limits.{name}=N")


def test_raising_the_limit_lets_check_through(tmp_path):
    result = cli("check", scenario_file(tmp_path, BASE), "--set", "bin=1us", "--set", "limits.max_bins=100000000")
    assert result.exit_code == 0, result.output


def test_a_huge_all_at_once_swarm_is_refused_not_estimated(tmp_path):
    path = scenario_file(tmp_path, BASE + "cqrs:\n  sync: {strategy: all_at_once, replace_time: {dist: exponential, mean: 60s}}\n")
    proc = child("check", path, "--set", "cqrs.replicas.count=100000", seconds=120)
    one_error(proc, "--set cqrs.replicas.count=100000: cqrs.replicas.count: ",
              "cqrs.replicas.count is 100,000, which exceeds limits.max_replicas (10,000); raise it with --set limits.max_replicas=N")


def test_a_huge_replication_count_is_refused_before_any_run(tmp_path):
    """`--replications 1000000000` used to start and grow memory without a word; now one located line, exit 2."""
    path = scenario_file(tmp_path, BASE)
    proc = child("run", path, "--replications", "1000000000", "-o", str(tmp_path / "out"), seconds=120)
    one_error(proc, "--set replications=1000000000: replications: ",
              "replications is 1,000,000,000, which exceeds limits.max_replications (10,000); raise it with --set limits.max_replications=N")
    assert not (tmp_path / "out").exists()


@pytest.mark.validation
def test_the_rollout_estimate_of_a_large_batch_stays_small_and_right(scenario_from):
    """E[max of n exponential(1)] = H_n (the n-th harmonic number): the order-statistics estimate used for large
    batches matches it to 1%."""
    from cqrs_sim.config.expected import expected_rollout_length

    n = 2000
    scenario = scenario_from(BASE + f"""\
cqrs:
  replicas: {{count: {n}}}
  sync: {{strategy: all_at_once, drain: false, replace_time: {{dist: exponential, mean: 1s}}}}
""")
    harmonic = sum(1 / k for k in range(1, n + 1))
    with deadline(30):
        assert expected_rollout_length(scenario) == pytest.approx(harmonic, rel=0.01)


# --- 9: extreme values are refused by the schema ------------------------------------------------------------


@pytest.mark.parametrize("assignment, path, words", [
    ("workload.reads.query_time={dist: gamma, mean: 4ms, cv: 1e-200}", "workload.reads.query_time.cv",
     "give 0 (a constant) or at least 1e-06, got 1e-200"),
    ("workload.reads.query_time={dist: lognormal, mean: 4ms, cv: 1e200}", "workload.reads.query_time.cv",
     "less than or equal to 100"),
    ("workload.reads.query_time={dist: exponential, mean: 1e200}", "workload.reads.query_time.mean",
     "is too large: at most 1e+09s"),
    ("workload.reads.retries=100000", "workload.reads.retries", "less than or equal to 100"),
    ("duration=1e12", "duration", "is too large: at most 1e+09s (about 31.7 years)"),
    ("duration=1e308", "duration", "is too large: at most 1e+09s"),
    ("sweep={workload.reads.rate: {from: 0, to: 100, scale: log}}", "sweep.workload.reads.rate",
     "a log-scale range needs from and to above 0"),
    ("workload.reads.rate={diurnal: {mean: 100/s, amplitude: 0.5, phase: 1e308}}", "workload.reads.rate.diurnal.phase",
     "is too large"),
])
def test_extreme_values_are_refused(tmp_path, assignment, path, words):
    result = cli("check", scenario_file(tmp_path, BASE), "--set", assignment)
    one_error(result, f"--set {assignment}: {path}: ", words)


def test_a_path_varied_twice_is_refused(tmp_path):
    result = cli("sweep", scenario_file(tmp_path, TINY), "-j", "1", "--no-plots", "-o", tmp_path / "out",
                 "--vary", "crud.connections=1,2", "--vary", "crud.connections=3")
    one_error(result, "--vary crud.connections=3: crud.connections: ", "is varied twice")
    assert not (tmp_path / "out").exists()


# --- 13: a sweep point is its resolved value, not its mean ---------------------------------------------------


def test_distributions_with_one_mean_stay_two_points(tmp_path):
    path = scenario_file(tmp_path, TINY)
    vary = ["workload.reads.query_time={dist: exponential, mean: 4ms},{dist: lognormal, mean: 4ms, cv: 2}"]
    with deadline(120), ThreadPoolExecutor(1) as pool:
        result = run_sweep(path, vary, tmp_path / "out", pool)
    values = result.table["workload.reads.query_time"]
    assert sorted(set(values)) == ["exponential(mean=0.004)", "lognormal(mean=0.004, cv=2)"]
    p99 = result.table[result.table.metric == "read_latency_p99"]
    assert len(p99) == 2 and p99["mean"].nunique() == 2


# --- 14: capacity never silently replaces a pattern or a distribution with a constant -----------------------


DIURNAL = """\
duration: 2s
replications: 2
architectures: [crud]
workload:
  reads:
    rate: {diurnal: {mean: 20/s, amplitude: 0.5, period: 1s, phase: 0.25s}}
    query_time: 4ms
"""


def test_capacity_on_a_daily_pattern_scales_it_and_says_so(tmp_path, monkeypatch):
    evaluated = []
    real = capacity_module.load_scenario

    def spy(*args, **kwargs):
        scenario = real(*args, **kwargs)
        evaluated.append(scenario)
        return scenario

    monkeypatch.setattr(capacity_module, "load_scenario", spy)
    with deadline(120):
        (result,) = capacity_search(scenario_file(tmp_path, DIURNAL), "workload.reads.rate", [parse_slo("read_latency_p99<1s")],
                                    value_range=(10, 40), max_steps=0)
    assert result.note.startswith("scaled the daily pattern: searched workload.reads.rate.diurnal.mean")
    runs = evaluated[1:]  # the first load is the base scenario
    assert runs
    for scenario in runs:
        shape = scenario.workload.reads.rate.diurnal
        assert (shape.amplitude, shape.period, shape.phase) == (0.5, 1.0, 0.25)
    assert sorted(s.workload.reads.rate.diurnal.mean for s in runs) == [10, 40]


def test_capacity_on_a_distribution_is_refused(tmp_path):
    path = scenario_file(tmp_path, TINY.replace("query_time: 4ms", "query_time: {dist: exponential, mean: 4ms}"))
    with deadline(60), pytest.raises(ScenarioError) as caught:
        capacity_search(path, "workload.reads.query_time", [parse_slo("read_latency_p99<1s")], value_range=(0.001, 0.01),
                        max_steps=0)
    (problem,) = caught.value.problems
    assert str(problem) == ("--search workload.reads.query_time: workload.reads.query_time: is an exponential distribution, "
                            "and searching it would replace it with a constant: search one of its parameters instead, "
                            "such as --search workload.reads.query_time.mean")


# --- 15: no silent zero-work -----------------------------------------------------------------------------------


def test_vary_with_no_values_is_an_error(tmp_path):
    result = cli("sweep", scenario_file(tmp_path, TINY), "-j", "1", "--no-plots", "-o", tmp_path / "out", "--vary", "x=,,,")
    one_error(result, "--vary x=,,,: x: ", "gives no values")


def test_a_sweep_where_every_point_fails_is_an_error(tmp_path):
    result = cli("sweep", scenario_file(tmp_path, TINY), "-j", "1", "--no-plots", "-o", tmp_path / "out",
                 "--vary", "workload.reads.nope=1,2")
    one_error(result, "--vary workload.reads.nope=1,2: workload.reads.nope: ",
              "unknown key 'nope' (at every point of the sweep, so none can run)")
    assert not (tmp_path / "out").exists()


def test_a_10000_point_sweep_is_refused_at_once(tmp_path):
    hundred = ",".join(str(i) for i in range(1, 101))
    result = cli("sweep", scenario_file(tmp_path, TINY), "-j", "1", "--no-plots", "-o", tmp_path / "out",
                 "--vary", f"handlers.count={hundred}", "--vary", f"handlers.concurrency={hundred}", seconds=20)
    one_error(result, f"--vary handlers.count={hundred}: (sweep): ",
              "100 × 100 values give 10,000 points, which exceeds limits.max_sweep_points (1,000); "
              "raise it with --set limits.max_sweep_points=N")


@pytest.mark.parametrize("text", ["stale_read_fraction<nan%", "stale_read_fraction<inf%", "stale_read_fraction<nan"])
def test_a_non_finite_slo_is_refused(text):
    with pytest.raises(ScenarioError) as caught:
        parse_slo(text)
    assert "finite" in str(caught.value)


def test_an_empty_sweep_list_is_an_error(tmp_path):
    result = cli("check", scenario_file(tmp_path, TINY + "sweep:\n  crud.connections: []\n"))
    one_error(result, f"{tmp_path / 's.yaml'}:9:3: sweep.crud.connections: ", "gives no values to sweep")


# --- durations and the daily shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [("1h30m", 5400), ("18h45m", 67500), ("2m30s", 150), ("1d2h", 93600),
                                           ("1m 30s", 90), ("1e-12", 1e-12)])
def test_compound_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, words", [("30m1h", "largest unit first"), ("1h1h", "each unit once"),
                                         ("1h30", "write it like"), ("1e-13", "too small")])
def test_bad_compound_durations(text, words):
    with pytest.raises(ValueError, match=words):
        parse_duration(text)


def diurnal(scenario_from, shape: str):
    return scenario_from(TINY.replace("rate: 20/s", f"rate: {{diurnal: {{{shape}}}}}"))


def test_peak_places_the_maximum(scenario_from):
    shape = diurnal(scenario_from, "mean: 100/s, amplitude: 0.5, period: 1d, peak: 18h45m").workload.reads.rate.diurnal
    assert shape.rate(67500.0) == pytest.approx(150.0)
    assert shape.rate(67500.0 - 43200) == pytest.approx(50.0)  # the minimum, half a day earlier
    assert shape.phase == pytest.approx(67500.0 - 21600)  # the rising midpoint comes a quarter period before


def test_negative_and_large_phases_wrap(scenario_from):
    a = diurnal(scenario_from, "mean: 100/s, amplitude: 0.5, period: 1h, phase: -15m").workload.reads.rate.diurnal
    b = diurnal(scenario_from, "mean: 100/s, amplitude: 0.5, period: 1h, phase: 45m").workload.reads.rate.diurnal
    c = diurnal(scenario_from, "mean: 100/s, amplitude: 0.5, period: 1h, phase: 10h45m").workload.reads.rate.diurnal
    assert a.phase == b.phase == c.phase == 2700.0


def test_phase_and_peak_together_are_refused(tmp_path):
    path = scenario_file(tmp_path, TINY.replace("rate: 20/s", "rate: {diurnal: {mean: 20/s, amplitude: 0.5, phase: 1h, peak: 2h}}"))
    result = cli("check", path)
    one_error(result, f"{path}:6:12: workload.reads.rate.diurnal: ", "give phase (a rising midpoint) or peak (the maximum), not both")


def test_a_peak_round_trips(scenario_from, tmp_path):
    scenario = diurnal(scenario_from, "mean: 100/s, amplitude: 0.5, period: 1d, peak: 18h45m")
    text = resolved_yaml(scenario)
    assert "peak: 67500.0" in text and "phase" not in text
    again = cqrs_sim.load_scenario(scenario_file(tmp_path, text, "again"))
    assert again == scenario


# --- the sweep summary and check's estimates -------------------------------------------------------------------


def test_sweep_summary_headers_show_the_distinguishing_tail():
    import pandas as pd

    rows = [{"point": f"p{i}", "architecture": arch, "metric": metric, "mean": 0.004, "ci_low": None, "ci_high": None,
             "n": 1, "cqrs.sync.batch_size": b, "cqrs.sync.replace_time": r}
            for i, (b, r) in enumerate([(1, 1.0), (1, 2.0), (2, 1.0), (2, 2.0)])
            for arch in ("crud", "cqrs") for metric in ("read_latency_p99", "stale_read_fraction", "visibility_window_mean")]
    with open(os.devnull, "w") as sink:
        console = Console(width=100, record=True, file=sink)
        console.print(_sweep_summary(pd.DataFrame(rows), ["cqrs.sync.batch_size", "cqrs.sync.replace_time"]))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "cqrs p99" in line)
    assert "batch_size" in header and "replace_time" in header, text
    assert "…" not in text
    assert all(len(line.rstrip()) <= 100 for line in text.splitlines()), text
    assert "batch_size = cqrs.sync.batch_size" in text  # the full paths, under the table


def test_check_names_allen_cunneen_for_non_exponential_service(scenario_from):
    scenario = scenario_from(TINY.replace("query_time: 4ms", "query_time: {dist: lognormal, mean: 4ms, cv: 2}"))
    (line,) = [x for x in estimate_lines(offered_loads(scenario)) if x.startswith("crud database")]
    assert "Allen–Cunneen approximation (M/G/32)" in line and "Erlang C" not in line


@pytest.mark.validation
def test_check_accounts_for_binding_handler_slots(scenario_from):
    """Validation against theory: two handler slots in front of 32 connections form an M/M/2 queue for the slots;
    Erlang C gives C(2, 1.5) = 9/14, so the mean wait is (9/14) / (2 × 200/s − 300/s) = 6.43 ms."""
    scenario = scenario_from(TINY.replace("query_time: 4ms", "query_time: {dist: exponential, mean: 5ms}")
                             .replace("rate: 20/s", "rate: 300/s") + "handlers: {count: 1, concurrency: 2}\n")
    lines = estimate_lines(offered_loads(scenario))
    handlers = next(x for x in lines if x.startswith("crud handlers"))
    assert "Erlang C (M/M/2) wait for a slot 6.43ms" in handlers
    assert "the handler slots (2) bind before the connections below them" in handlers
    database = next(x for x in lines if x.startswith("crud database"))
    assert re.search(r"no wait: the 2 handler slots bind first", database)


@pytest.mark.parametrize("values, message", [("2,2,2.0", "gives the value 2 more than once"),
                                             ("1,,2", "has an empty value between commas")])
def test_vary_refuses_repeated_and_empty_values(values, message):
    """`--vary x=2,2,2.0` used to report three points simulated for one; `1,,2` silently dropped a value."""
    from cqrs_sim.experiments.sweep import parse_vary

    with pytest.raises(ScenarioError) as caught:
        parse_vary(f"handlers.count={values}")
    assert len(caught.value.problems) == 1 and message in str(caught.value.problems[0])
