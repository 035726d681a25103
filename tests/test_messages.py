"""Messages for bad options: every problem in one command is reported (one line each, exit 2), each under the option
that caused it, in the tool's words (never a library's), before anything is simulated or written."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from cqrs_sim.cli import app

from .conftest import SCENARIOS

runner = CliRunner()
MMC = str(SCENARIOS / "mmc.yaml")
#: words of library messages that must never reach the user
LIBRARY_WORDS = ("utc=True", "DatetimeIndex", "Pass ", "dtype", "<unicode string>", "Traceback", "numpy", "pandas")


def _errors(result, count: int) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line]
    assert result.exit_code == 2, result.output
    assert len(lines) == count and all(line.startswith("error: ") for line in lines), lines
    for line in lines:
        assert not any(word in line for word in LIBRARY_WORDS), line
    return lines


def _reached(*_args, **_kwargs):
    raise AssertionError("a simulation started before the bad input was reported")


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fails the test if any simulation starts."""
    for target in ("cqrs_sim.experiments.sweep.run_task", "cqrs_sim.experiments.capacity.simulate", "cqrs_sim.cli.run.simulate"):
        monkeypatch.setattr(target, _reached)


def test_three_bad_slos_give_three_lines(tmp_path, nothing_runs):
    result = runner.invoke(app, ["optimize", MMC, "--vary", "cqrs.replicas.count=1,2", "--slo", "p99 << 5ms",
                                 "--slo", "<", "--slo", "x<nan", "-o", str(tmp_path / "o")])
    lines = _errors(result, 3)
    assert lines[0].startswith("error: --slo p99 << 5ms: ")
    assert lines[1].startswith("error: --slo <: (--slo): expected METRIC<VALUE")
    assert lines[2].startswith("error: --slo x<nan: x: unknown metric")
    assert not (tmp_path / "o").exists()


def test_bad_slos_varies_minimize_and_sets_are_reported_together(tmp_path, nothing_runs):
    result = runner.invoke(app, ["optimize", MMC, "--vary", "cqrs.replicas.count=1,[", "--vary", "bogus",
                                 "--slo", "read_latency_p99<fast", "--minimize", "speed", "--set", "seed=[",
                                 "-o", str(tmp_path / "o")])
    lines = _errors(result, 5)
    sources = [line.split(": ")[1] for line in lines]
    assert sources == ["--slo read_latency_p99<fast", "--vary cqrs.replicas.count=1,[", "--vary bogus",
                       "--minimize speed", "--set seed=["]
    assert not (tmp_path / "o").exists()


def test_capacity_reports_every_bad_option(nothing_runs):
    result = runner.invoke(app, ["capacity", MMC, "--search", "cqrs.replicas.count", "--slo", "read_latency_p99<",
                                 "--slo", "nope<1", "--range", "1-4"])
    lines = _errors(result, 3)
    assert [line.split(": ")[1] for line in lines] == ["--slo read_latency_p99<", "--slo nope<1", "--range 1-4"]


def test_every_unreadable_set_is_reported(nothing_runs):
    result = runner.invoke(app, ["run", MMC, "--set", "seed=[", "--set", "name={", "--set", "duration.x=1"])
    lines = _errors(result, 3)
    assert lines[0].startswith("error: --set seed=[: seed: cannot read the value as YAML: ")
    assert lines[1].startswith("error: --set name={: name: cannot read the value as YAML: ")
    assert lines[2].startswith("error: --set duration.x=1: duration: is not a mapping")


@pytest.mark.parametrize("values", ["abc,def", "1,[", "nan"])
def test_a_bad_vary_value_is_reported_as_vary(tmp_path, values, nothing_runs):
    result = runner.invoke(app, ["sweep", MMC, "--vary", f"cqrs.replicas.count={values}", "-o", str(tmp_path / "s")])
    lines = _errors(result, 1)
    assert lines[0].startswith(f"error: --vary cqrs.replicas.count={values}: cqrs.replicas.count: "), lines
    assert "--set" not in lines[0]


def test_a_bad_vary_value_among_good_ones_is_reported_as_vary(tmp_path):
    result = runner.invoke(app, ["sweep", MMC, "--vary", "cqrs.replicas.count=1,-3", "-o", str(tmp_path / "s"),
                                 "--set", "duration=3s", "--set", "warmup=1s", "--set", "replications=1", "-j", "1",
                                 "--no-plots"])
    assert result.exit_code == 0, result.output
    failed = " ".join(result.stderr.split())
    assert "--vary cqrs.replicas.count=1,-3" in failed and "--set cqrs.replicas.count" not in failed


@pytest.mark.parametrize("slos", [["read_latency_p99<50ms", "read_latency_p99>1s"],
                                  ["stale_read_fraction<=1%", "stale_read_fraction>1%"]])
@pytest.mark.parametrize("command", ["optimize", "capacity"])
def test_contradicting_slos_are_refused_before_simulating(tmp_path, nothing_runs, slos, command):
    args = [a for slo in slos for a in ("--slo", slo)]
    if command == "optimize":
        args = ["optimize", MMC, "--vary", "cqrs.replicas.count=1,2", "--set", "cost.instance_hour=1", *args,
                "-o", str(tmp_path / "o")]
    else:
        args = ["capacity", MMC, "--search", "cqrs.replicas.count", *args]
    line = _errors(runner.invoke(app, args), 1)[0]
    metric = slos[0].split("<")[0]
    assert line.startswith(f"error: --slo {slos[1]}: {metric}: contradicts --slo ") and slos[0] in line, line
    assert not (tmp_path / "o").exists()


# data files: a literal nan, timestamps pandas cannot compare, trace ids located by line


SCENARIO = """\
    duration: 10s
    warmup: 0s
    replications: 1
    workload:
      keys: {{count: 5}}
      reads: {{trace: {{file: reads.csv{extra}}}, query_time: 1ms, clients: 3}}
    """


def _check(tmp_path, rows: str, extra: str = ""):
    (tmp_path / "reads.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SCENARIO.format(extra=extra)), encoding="utf-8")
    return runner.invoke(app, ["check", str(tmp_path / "s.yaml")])


def test_a_literal_nan_is_not_a_number_and_an_empty_cell_is_empty(tmp_path):
    line = _errors(_check(tmp_path, "time\n1\nnan\n3\n"), 1)[0]
    assert line.endswith(f"{tmp_path / 'reads.csv'}:3: not a number: 'nan'")
    line = _errors(_check(tmp_path, "time,other\n1,a\n,b\n3,c\n"), 1)[0]
    assert line.endswith(f"{tmp_path / 'reads.csv'}:3: empty value")


@pytest.mark.parametrize("rows, start", [
    ("time\n2026-01-05T09:00:01+01:00\n2026-01-05T09:00:02+02:00\n", "2026-01-05T09:00:00"),
    ("time\n2026-01-05T09:00:01+01:00\n2026-01-05T09:00:02\n", "2026-01-05T09:00:00"),
])
def test_timestamps_that_cannot_be_compared_are_said_in_our_words(tmp_path, rows, start):
    line = _errors(_check(tmp_path, rows, f", start: '{start}'"), 1)[0]
    assert f"{tmp_path / 'reads.csv'}" in line and "time zone" in line


@pytest.mark.parametrize("column, limit, row_line", [("key", "workload.keys.count (5)", 3),
                                                     ("client", "workload.reads.clients (3)", 4)])
def test_trace_ids_past_their_count_name_the_file_and_line(tmp_path, column, limit, row_line):
    rows = "time,key,client\n0.5,1,0\n1.0,7,1\n1.5,2,5\n"
    line = _errors(_check(tmp_path, rows, f", {column}: {column}"), 1)[0]
    assert f"workload.reads.trace.{column}: {tmp_path / 'reads.csv'}:{row_line}: " in line
    assert "row " not in line and f"not below {limit}" in line


@pytest.mark.parametrize("name, data, shown", [
    ("reads.csv", b"time\n1\n2,3\n", "reads.csv:3: cannot read as CSV: 2 fields, where the first line names 1 column(s)"),
    ("reads.csv", b"time\n\xff\xfe\n", "reads.csv:2: cannot read as CSV: byte 0xff is not UTF-8 text"),
    ("reads.csv", b"", "reads.csv: cannot read as CSV: the file is empty"),
    ("reads.csv", b'time\n1\n"2\n3\n', "reads.csv: cannot read as CSV: not comma-separated values"),
    ("reads.parquet", b"PAR1garbage", "reads.parquet: cannot read as Parquet: not a Parquet file, or a damaged one"),
])
def test_unreadable_data_files_are_said_in_our_words(tmp_path, name, data, shown):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SCENARIO.format(extra="")).replace("reads.csv", name),
                                     encoding="utf-8")
    line = _errors(runner.invoke(app, ["check", str(tmp_path / "s.yaml")]), 1)[0]
    assert f"{tmp_path / shown}" in line
    assert not any(word in line for word in ("tokenizing", "C error", "codec", "magic bytes", "Buffer", "parse from"))


@pytest.mark.parametrize("args, says", [
    (["run", "scenarios/mmc.yaml", "--slo", "read_latency_p99<50ms"], "cqrs_sim run: no such option: --slo"),
    (["runn"], "cqrs_sim: no such command 'runn'"),
    (["fit"], "cqrs_sim fit: missing argument 'FILE'"),
])
def test_a_usage_error_is_one_line_with_exit_2(args, says):
    """What the command line's parser refuses (an unknown option or command, a missing argument) is one
    ``error:`` line naming the command's --help, exit 2 — not a box of usage text."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-m", "cqrs_sim", *args], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: python -m {says}") and lines[0].endswith("--help')"), lines[0]
