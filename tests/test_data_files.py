"""Data files read as what they hold, under the rules inline values obey, with located errors.

One reader serves scenario files, traces, ``empirical`` files and ``fit``: a
file that cannot be read (a symlink loop, a directory) is one located line;
a time read from a file obeys the range rule of a time written in the
scenario; Parquet timestamps and durations are read as times, not as
nanosecond counts; timestamps and ``start`` agree on having a time zone; and
a run never gives a verdict from no reads.
"""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.core.errors import ScenarioError
from cqrs_sim.experiments.fitio import read_measurements
from cqrs_sim.config.loader import load_scenario
from cqrs_sim.config.units import SMALLEST, parse_duration

runner = CliRunner()

EMPIRICAL = """\
duration: 10s
workload:
  reads:
    rate: 5/s
    query_time: {{dist: empirical, file: {file}, column: q, unit: {unit}}}
"""

TRACED = """\
duration: 10s
workload:
  reads:
    trace: {{file: {file}{extra}}}
    query_time: 1ms
"""


def _scenario(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _one_error(tmp_path, path, *args) -> str:
    """`check` of ``path``: exit 2, exactly one line on stderr (no traceback, no numpy warning); that line."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would reach the user's terminal
        result = runner.invoke(app, ["check", str(path), *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    assert "Traceback" not in result.output and "internal error" not in result.output
    return lines[0]


def _loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


# --- one reader: paths and special files ---

@pytest.mark.parametrize("where", ["trace", "empirical"])
def test_a_symlink_loop_as_a_data_file_is_one_located_line(tmp_path, where):
    loop = _loop(tmp_path)
    text = TRACED.format(file=loop.name, extra="") if where == "trace" else EMPIRICAL.format(file=loop.name, unit="s")
    line = _one_error(tmp_path, _scenario(tmp_path, text))
    key = "workload.reads.trace.file" if where == "trace" else "workload.reads.query_time.file"
    assert f": {key}: " in line and "symlink loop" in line, line


def test_a_symlink_loop_as_the_scenario_or_fit_file_is_one_located_line(tmp_path):
    loop = _loop(tmp_path)
    assert "symlink loop" in _one_error(tmp_path, loop)
    result = runner.invoke(app, ["fit", str(loop), "-o", str(tmp_path / "f.png")])
    assert result.exit_code == 2 and "symlink loop" in result.stderr, result.output


def test_a_directory_or_fifo_as_a_data_file_is_refused_by_the_same_reader(tmp_path):
    (tmp_path / "d").mkdir()
    assert "is a directory, not a data file" in _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="d", extra="")))
    import os

    os.mkfifo(tmp_path / "p")
    assert "is not a regular file" in _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="p", extra="")))


# --- values in files obey the inline rules ---

def test_the_range_mask_is_the_range_rule():
    """out_of_range (used on whole columns) flags exactly the values range_problem (used on inline values) refuses."""
    from cqrs_sim.config.units import out_of_range, range_problem

    values = np.array([0.0, -0.0, SMALLEST, SMALLEST / 2, 1e-13, 1.0, 1e9, 1e9 * (1 + 1e-15), 1e9 + 1, 2e9, 1e300,
                       -1.0, -1e-20, np.inf, -np.inf, np.nan, 5e-324])
    for signed in (False, True):
        mask = out_of_range(values, signed)
        expected = [range_problem(float(v), v, signed=signed) is not None for v in values]
        assert mask.tolist() == expected


@pytest.mark.parametrize("cell, unit", [("1e300", "s"), ("1e300", "ms"), ("2e12", "ms"), ("2e9", "s"), ("1e-20", "s"),
                                        ("1e-10", "ms"), ("-1", "ms"), ("5", "ms"), ("0", "s"), ("1e9", "s")])
def test_a_value_in_a_file_is_judged_as_the_same_value_written_inline(tmp_path, cell, unit):
    """``samples: ["2e12ms"]`` and a file holding 2e12 in ms are refused alike (or accepted alike), the file's error
    naming its line; a huge value never overflows into a crash or a numpy warning."""
    (tmp_path / "q.csv").write_text(f"q\n1\n{cell}\n", encoding="utf-8")
    try:
        parse_duration(f"{cell}{unit}")
        inline_ok = True
    except ValueError as exc:
        inline_ok, inline_message = False, str(exc)
    path = _scenario(tmp_path, EMPIRICAL.format(file="q.csv", unit=unit))
    if inline_ok:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            query = load_scenario(path).workload.reads.query_time
            assert query.values[1] == pytest.approx(float(cell) * {"s": 1, "ms": 1e-3}[unit])
            assert np.isfinite(query.variance)
        return
    line = _one_error(tmp_path, path)
    assert "q.csv:3: " in line and ": workload.reads.query_time.column: " in line, line
    assert line.endswith(inline_message), (line, inline_message)


def test_trace_times_and_query_times_obey_the_duration_rule(tmp_path):
    (tmp_path / "t.csv").write_text("time\n1\n2000000000000\n", encoding="utf-8")  # 2e12 ms: 63 years
    line = _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="t.csv", extra=", unit: ms")))
    assert "t.csv:3: " in line and "is too large: at most 1e+09s" in line, line
    (tmp_path / "q.csv").write_text("time,q\n1,2\n2,1e300\n", encoding="utf-8")
    text = "duration: 10s\nworkload:\n  reads:\n    trace: {file: q.csv, query_time: q}\n"
    line = _one_error(tmp_path, _scenario(tmp_path, text))
    assert "workload.reads.trace.query_time: " in line and "q.csv:3: duration '1e300s' is too large" in line, line


def test_fit_refuses_an_out_of_range_value_at_its_line(tmp_path):
    (tmp_path / "d.csv").write_text("a\n" + "1\n" * 20 + "1e300\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        read_measurements(str(tmp_path / "d.csv"), unit="ms")
    line = str(caught.value.problems[0])
    assert line.startswith(f"{tmp_path / 'd.csv'}:22:1: a: duration ") and "1e+300ms" in line and "is too large" in line


# --- Parquet types read as what they are ---

def _parquet(tmp_path, name: str, **columns):
    path = tmp_path / name
    pd.DataFrame(columns).to_parquet(path)
    return path


STAMPS = ["2026-01-05T09:00:01", "2026-01-05T09:00:02.5", "2026-01-05T09:00:04"]


def test_a_parquet_timestamp_column_needs_start(tmp_path):
    _parquet(tmp_path, "t.parquet", time=pd.to_datetime(STAMPS, format="ISO8601"))
    line = _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="t.parquet", extra="")))
    assert ": workload.reads.trace.column: " in line and "row 1: a timestamp: give start" in line, line
    traced = load_scenario(_scenario(tmp_path, TRACED.format(file="t.parquet", extra=", start: 2026-01-05T09:00:00")))
    assert traced.workload.reads.trace.times.tolist() == [1.0, 2.5, 4.0]


def test_a_parquet_duration_column_is_seconds_wherever_it_is_read(tmp_path):
    """Arrival times, trace query times, empirical values and fit: a duration is its seconds, whatever its unit
    (the scenario's unit applies to plain numbers only)."""
    _parquet(tmp_path, "t.parquet", time=pd.to_timedelta([0.5, 1.0, 7.25], unit="s"),
             q=pd.to_timedelta([3, 1, 4], unit="ms"))
    traced = load_scenario(_scenario(tmp_path, TRACED.format(file="t.parquet", extra=", unit: ms")))
    assert traced.workload.reads.trace.times.tolist() == [0.5, 1.0, 7.25]
    text = "duration: 10s\nworkload:\n  reads:\n    trace: {file: t.parquet, query_time: q, unit: us}\n"
    assert load_scenario(_scenario(tmp_path, text)).workload.reads.trace.query_times.tolist() == \
        pytest.approx([0.003, 0.001, 0.004])
    empirical = load_scenario(_scenario(tmp_path, EMPIRICAL.format(file="t.parquet", unit="ms")))
    assert empirical.workload.reads.query_time.values.tolist() == pytest.approx([0.003, 0.001, 0.004])
    _parquet(tmp_path, "f.parquet", d=pd.to_timedelta(np.arange(1, 21), unit="ms"))
    assert read_measurements(str(tmp_path / "f.parquet"), unit="s").values.tolist() == pytest.approx(np.arange(1, 21) / 1000)


def test_a_parquet_duration_column_with_start_is_refused(tmp_path):
    _parquet(tmp_path, "t.parquet", time=pd.to_timedelta([0.5, 1.0], unit="s"))
    line = _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="t.parquet", extra=", start: 5")))
    assert ": workload.reads.trace.start: " in line and "durations, which count from 0s themselves" in line, line


def test_a_parquet_file_without_the_column_names_the_columns_it_has(tmp_path):
    """Only the columns asked for are read from a Parquet file; a missing one is named with those the file has."""
    _parquet(tmp_path, "t.parquet", when=[1.0, 2.0], other=[0, 1])
    line = _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="t.parquet", extra="")))
    assert ": workload.reads.trace.column: " in line and "has no column 'time' (columns: when, other)" in line, line


def test_true_false_values_are_not_numbers(tmp_path):
    _parquet(tmp_path, "t.parquet", q=[True, False, True])
    line = _one_error(tmp_path, _scenario(tmp_path, EMPIRICAL.format(file="t.parquet", unit="s")))
    assert "holds true/false values, not numbers" in line, line


# --- time zones: both or neither ---

AWARE = [s + "+02:00" for s in STAMPS]


@pytest.mark.parametrize("form", ["csv", "parquet"])
@pytest.mark.parametrize("stamps, start", [(STAMPS, "2026-01-05T09:00:00+02:00"), (AWARE, "2026-01-05T09:00:00")])
def test_timestamps_and_start_must_agree_on_a_time_zone(tmp_path, form, stamps, start):
    if form == "csv":
        (tmp_path / "t.csv").write_text("time\n" + "\n".join(stamps) + "\n", encoding="utf-8")
    else:
        _parquet(tmp_path, "t.parquet", time=pd.to_datetime(stamps, format="ISO8601"))
    line = _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file=f"t.{form}", extra=f", start: '{start}'")))
    assert ": workload.reads.trace.start: " in line and "give both with a time zone or both without" in line, line


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_zoned_timestamps_count_from_a_zoned_start_across_zones(tmp_path, form):
    """09:00:01+02:00 is 07:00:01Z: one second after a start of 07:00:00Z."""
    if form == "csv":
        (tmp_path / "t.csv").write_text("time\n" + "\n".join(AWARE) + "\n", encoding="utf-8")
    else:
        _parquet(tmp_path, "t.parquet", time=pd.to_datetime(AWARE, format="ISO8601"))
    traced = load_scenario(_scenario(tmp_path, TRACED.format(file=f"t.{form}", extra=", start: '2026-01-05T07:00:00Z'")))
    assert traced.workload.reads.trace.times.tolist() == [1.0, 2.5, 4.0]


def test_a_csv_mixing_zoned_and_unzoned_timestamps_names_the_row(tmp_path):
    (tmp_path / "t.csv").write_text("time\n" + "\n".join([AWARE[0], STAMPS[1], AWARE[2]]) + "\n", encoding="utf-8")
    line = _one_error(tmp_path, _scenario(tmp_path, TRACED.format(file="t.csv", extra=", start: '2026-01-05T09:00:00Z'")))
    assert "t.csv:3: has no time zone where the first timestamp" in line, line


def test_timestamps_across_a_change_of_offset_are_read(tmp_path):
    """A log across a daylight-saving change holds two offsets: both are times with a zone, read as such."""
    (tmp_path / "t.csv").write_text("time\n2026-03-29T01:59:59+01:00\n2026-03-29T03:00:01+02:00\n", encoding="utf-8")
    traced = load_scenario(_scenario(tmp_path, TRACED.format(file="t.csv", extra=", start: '2026-03-29T00:59:00Z'").replace("10s", "100s")))
    assert traced.workload.reads.trace.times.tolist() == [59.0, 61.0]


# --- no verdict from no reads ---

@pytest.mark.parametrize("times", ["25\n30", "1\n3\n4.5"])  # every read after duration; before the warmup ends
def test_a_trace_whose_reads_miss_the_measured_window_is_refused(tmp_path, times):
    (tmp_path / "t.csv").write_text(f"time\n{times}\n", encoding="utf-8")
    text = "duration: 20s\nwarmup: 5s\nworkload:\n  reads:\n    trace: {file: t.csv}\n    query_time: 1ms\n"
    line = _one_error(tmp_path, _scenario(tmp_path, text))
    assert ": workload.reads.trace: " in line and "arrives in the measured window [5s, 20s)" in line, line


def test_a_read_rate_of_zero_over_the_window_runs_and_says_there_is_no_verdict(tmp_path):
    """A write-only study is valid: check and run warn that no read will be measured, and the verdict says so."""
    text = ("duration: 20s\nwarmup: 5s\nreplications: 2\nworkload:\n  reads:\n    rate: [[0s, 5/s], [2s, 0/s]]\n"
            "    query_time: 1ms\n  writes: {interval: 5s, apply_time: 10ms}\n")
    path = _scenario(tmp_path, text)
    check = runner.invoke(app, ["check", str(path)])
    assert check.exit_code == 0 and "warning: workload.reads.rate: no read arrives in the measured window" in check.stderr
    result = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "o"), "-j", "1", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "Verdict: No verdict: no read arrived in the measured window" in " ".join(result.stdout.split())


def test_a_run_whose_replications_measured_no_read_gives_no_verdict(tmp_path):
    """Reads drawn so rarely that none arrives: the table shows no numbers, and the answer says why instead of
    declaring a winner on cost."""
    from cqrs_sim.analysis.verdict import format_headline

    path = _scenario(tmp_path, "duration: 2s\nreplications: 2\nworkload:\n  reads:\n    rate: 1e-9/s\n"
                               "    query_time: 1ms\n")
    results = cqrs_sim.simulate(load_scenario(path))
    headline = format_headline(results)
    assert headline[0].startswith("No verdict: no read arrived in the measured window"), headline
    assert len(headline) == 1 and "wins" not in headline[0]


# --- a trace's start ---

@pytest.mark.parametrize("start, words", [
    (".inf", "workload.reads.trace.start: a number start must be finite, got inf"),
    (".nan", "workload.reads.trace.start: a number start must be finite, got nan"),
    ("true", "workload.reads.trace.start: expected a timestamp such as 2026-01-05T09:00:00, or a number, got True"),
    ("2026-13-45", "workload.reads.trace.start: cannot read the value as YAML: month must be in 1..12 (quote a text value)"),
])
def test_a_start_that_is_no_instant_is_one_error_at_start(tmp_path, start, words):
    """true was read as the number 1 and a date past December was an internal error (ruamel's ValueError)."""
    (tmp_path / "t.csv").write_text("time\n1\n2\n", encoding="utf-8")
    path = _scenario(tmp_path, TRACED.format(file="t.csv", extra=""))
    line = _one_error(tmp_path, path, "--set", f"workload.reads.trace.start={start}")
    assert line == f"error: --set workload.reads.trace.start={start}: {words}", line


def test_a_numeric_start_counts_in_the_trace_unit(tmp_path):
    (tmp_path / "t.csv").write_text("time\n1500\n2000\n", encoding="utf-8")
    traced = load_scenario(_scenario(tmp_path, TRACED.format(file="t.csv", extra=", unit: ms, start: 1000")))
    assert traced.workload.reads.trace.times.tolist() == [0.5, 1.0]
