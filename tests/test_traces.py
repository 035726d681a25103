"""Traces replay measured arrivals exactly; data files named in a scenario give located errors."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.config.loader import load_scenario, resolved_yaml

runner = CliRunner()

READ_TIMES = [0.0, 0.25, 0.25, 1.5, 2.125, 7.0, 9.999]
QUERY_MS = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]
WRITE_TIMES = [1.0, 4.5]


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def traced(tmp_path):
    """A scenario replaying READ_TIMES (in ms, with QUERY_MS) and WRITE_TIMES (as timestamps), files beside it."""
    pd.DataFrame({"ms": np.array(READ_TIMES + [12.0]) * 1000, "query_ms": QUERY_MS + [1.0]}).to_csv(
        tmp_path / "reads.csv", index=False)
    stamps = [f"2026-01-05T09:00:{t:06.3f}" for t in WRITE_TIMES]
    pd.DataFrame({"at": pd.to_datetime(stamps)}).to_parquet(tmp_path / "writes.parquet")
    return _write(tmp_path, "traced.yaml", """\
        duration: 10s
        replications: 1
        record: full
        workload:
          reads:
            trace: {file: reads.csv, column: ms, query_time: query_ms, unit: ms}
          writes:
            trace: {file: writes.parquet, column: at, start: "2026-01-05T09:00:00"}
            apply_time: 100ms
        cqrs:
          replicas: {count: 2}
          sync: {replace_time: 1s}
        """)


def test_a_trace_of_known_times_gives_exactly_those_arrivals(traced):
    """Every recorded read and write arrives at a trace time (the one at 12s, after duration, is left out)."""
    results = cqrs_sim.simulate(load_scenario(traced))
    requests = results.requests
    for arch in ("crud", "cqrs"):
        mine = requests[requests["architecture"] == arch]
        reads = np.sort(mine.loc[mine["kind"] == "read", "arrival"].to_numpy())
        writes = np.sort(mine.loc[mine["kind"] == "write", "arrival"].to_numpy())
        assert reads.tolist() == READ_TIMES, arch
        assert writes.tolist() == pytest.approx(WRITE_TIMES, abs=1e-9), arch


def test_trace_query_times_are_replayed_in_order(tmp_path):
    """With no waiting (few reads, many connections, no writes), each read's service is its trace query time."""
    pd.DataFrame({"time": READ_TIMES, "query": np.array(QUERY_MS) / 1000}).to_csv(tmp_path / "reads.csv", index=False)
    path = _write(tmp_path, "q.yaml", """\
        duration: 10s
        replications: 1
        record: full
        architectures: [crud]
        workload:
          reads:
            trace: {file: reads.csv, query_time: query}
        """)
    requests = cqrs_sim.simulate(load_scenario(path)).requests
    reads = requests[requests["kind"] == "read"].sort_values(["arrival", "id"])
    assert (reads["latency"].to_numpy() * 1000) == pytest.approx(QUERY_MS)


def test_trace_scenario_resolves_to_a_file_that_loads_again(traced, tmp_path):
    """The resolved scenario names the trace by an absolute path and leaves out what the trace gives."""
    scenario = load_scenario(traced)
    text = resolved_yaml(scenario)
    assert str(tmp_path / "reads.csv") in text and "rate:" not in text.split("writes:")[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "again.yaml").write_text(text, encoding="utf-8")
    again = load_scenario(elsewhere / "again.yaml")
    assert again.workload.reads.trace.times.tolist() == pytest.approx(READ_TIMES + [12.0])
    assert again.workload.reads.query_time.mean == pytest.approx(np.mean(QUERY_MS + [1.0]) / 1000)


def test_trace_derives_the_offered_rate_per_bin(traced):
    scenario = load_scenario(traced, {"bin": "1s"})
    steps = scenario.workload.reads.rate
    assert [start for start, _ in steps] == list(np.arange(10.0))
    assert [rate for _, rate in steps] == [3, 1, 1, 0, 0, 0, 0, 1, 0, 1]


def test_a_trace_after_duration_is_reported(traced):
    result = runner.invoke(app, ["check", str(traced)])
    assert result.exit_code == 0, result.output
    assert "workload.reads.trace: 1 of 8 reads come at or after duration (10s) and are ignored" in result.stderr


def test_empirical_distribution_from_a_file_resamples_its_values(tmp_path):
    """``{dist: empirical, file, column}`` draws only the column's values (relative to the scenario's directory)."""
    (tmp_path / "data").mkdir()
    pd.DataFrame({"ms": [2.0, 4.0, 4.0, 10.0], "other": [0, 0, 0, 0]}).to_csv(tmp_path / "data" / "q.csv", index=False)
    path = _write(tmp_path, "e.yaml", """\
        duration: 10s
        workload:
          reads:
            rate: 5/s
            query_time: {dist: empirical, file: data/q.csv, column: ms, unit: ms}
        """)
    query = load_scenario(path).workload.reads.query_time
    assert query.mean == pytest.approx(0.005)
    draws = query.sample(np.random.default_rng(1), 1000)
    assert set(np.round(draws * 1000, 9)) == {2.0, 4.0, 10.0}
    assert query.ppf(np.array([0.0, 0.25, 0.26, 0.75, 0.76, 1.0])).tolist() == pytest.approx(
        [0.002, 0.002, 0.004, 0.004, 0.01, 0.01])


BASE = """\
duration: 10s
workload:
  reads:
    {reads}
    query_time: 1ms
"""


@pytest.mark.parametrize("reads, files, location, path, words", [
    ("trace: {file: missing.csv}", {}, "4:19", "workload.reads.trace.file", "missing.csv: no such file"),
    ("trace: {file: t.csv, column: when}", {"t.csv": "time\n1\n"}, "4:34", "workload.reads.trace.column",
     "has no column 'when' (columns: time)"),
    ("trace: {file: t.csv}", {"t.csv": "x\n1\n"}, "4:12", "workload.reads.trace.column", "has no column 'time'"),
    ("trace: {file: t.csv}", {"t.csv": "time\n1\n3\n2\n"}, "4:12", "workload.reads.trace.column",
     "t.csv:4: times must not decrease"),
    ("trace: {file: t.csv}", {"t.csv": "time\n1\n-2\n"}, "4:12", "workload.reads.trace.column",
     "t.csv:3: a time before the start: -2s"),
    ("trace: {file: t.csv}", {"t.csv": "time\n1\nsoon\n"}, "4:12", "workload.reads.trace.column",
     "t.csv:3: not a finite number: 'soon'"),
    ("trace: {file: t.csv}", {"t.csv": "time\n2026-01-05T09:00:00\n"}, "4:12", "workload.reads.trace.column",
     "t.csv:2: a timestamp: give start"),
    ("trace: {file: t.csv, start: 2026-01-05T09:00:00}", {"t.csv": "time\n2026-01-05T08:59:00\n"}, "4:12",
     "workload.reads.trace.column", "t.csv:2: a time before the start: -60s"),
    ("rate: 5/s\n    trace: {file: t.csv}", {"t.csv": "time\n1\n"}, "4:11", "workload.reads.rate",
     "give rate (drawn arrivals) or trace (measured ones), not both"),
    ("trace: {file: t.csv, query_time: q}", {"t.csv": "time,q\n1,2\n"}, "5:17", "workload.reads.query_time",
     "give query_time or trace.query_time, not both"),
    ("rate: 5/s\n    handler_time: {dist: empirical, file: t.csv, column: h}", {"t.csv": "time\n1\n"}, "5:58",
     "workload.reads.handler_time.column", "has no column 'h'"),
    ("rate: 5/s\n    handler_time: {dist: empirical, file: t.csv, column: h}", {"t.csv": "h\n1\n-1\n"}, "5:58",
     "workload.reads.handler_time.column", "t.csv:3: duration must not be negative, got '-1s'"),
])
def test_bad_data_files_are_located(tmp_path, reads, files, location, path, words):
    """One line, at the key that names what is wrong, with the data file's own line where there is one; exit 2."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(BASE.format(reads=reads), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "-o", str(out), "--no-plots"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {scenario}:{location}: {path}: "), lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in result.output and not out.exists()


def test_a_write_trace_needs_no_other_arrival_process(tmp_path):
    (tmp_path / "w.csv").write_text("t\n1\n2\n", encoding="utf-8")
    path = _write(tmp_path, "w.yaml", """\
        duration: 10s
        workload:
          reads: {rate: 5/s, query_time: 1ms}
          writes: {trace: {file: w.csv, column: t}, rate: 1/s, apply_time: 1s}
        """)
    with pytest.raises(cqrs_sim.ScenarioError, match="give exactly one of interval, rate, at, trace"):
        load_scenario(path)


def test_a_trace_with_too_many_bins_is_refused_not_crashed(traced):
    with pytest.raises(cqrs_sim.ScenarioError, match="exceeds limits.max_bins"):
        load_scenario(traced, {"bin": "1us"})


def test_a_design_of_its_own_query_time_is_coupled_to_the_replayed_ones(tmp_path):
    """With trace query times and crud.query_time set, CRUD's reads are long where the trace's are (same order)."""
    pd.DataFrame({"time": READ_TIMES, "query": np.array(QUERY_MS) / 1000}).to_csv(tmp_path / "reads.csv", index=False)
    path = _write(tmp_path, "d.yaml", """\
        duration: 10s
        replications: 1
        record: full
        workload:
          reads:
            trace: {file: reads.csv, query_time: query}
        crud:
          query_time: {dist: exponential, mean: 50ms}
        """)
    requests = cqrs_sim.simulate(load_scenario(path), jobs=1).requests
    reads = requests[requests["kind"] == "read"].sort_values(["architecture", "arrival", "id"])
    cqrs = reads.loc[reads["architecture"] == "cqrs", "latency"].to_numpy()
    crud = reads.loc[reads["architecture"] == "crud", "latency"].to_numpy()
    assert cqrs * 1000 == pytest.approx(QUERY_MS)  # the trace's own, replayed
    assert not np.allclose(crud, cqrs)
    longer = np.array(QUERY_MS)[:, None] > np.array(QUERY_MS)[None, :]
    assert (crud[:, None] > crud[None, :])[longer].all()  # comonotone where the trace's differ


def test_traced_scenarios_compare_and_pickle(traced):
    """Scenarios holding measured values compare by content and survive pickling (to worker processes)."""
    import pickle

    a, b = load_scenario(traced), load_scenario(traced)
    assert a == b and pickle.loads(pickle.dumps(a)) == a
    assert a != load_scenario(traced, {"workload.reads.trace.query_time": None, "workload.reads.query_time": "1ms"})


KEYS = [4, 0, 2, 2, 1, 3, 0]
CLIENTS = [1, 1, 0, 2, 2, 0, 1]


def test_trace_keys_and_clients_are_replayed_in_order(tmp_path):
    """Each read reads the key and belongs to the client its trace row gives, in both designs."""
    pd.DataFrame({"time": READ_TIMES, "title": KEYS, "user": CLIENTS}).to_csv(tmp_path / "reads.csv", index=False)
    path = _write(tmp_path, "k.yaml", """\
        duration: 10s
        replications: 1
        record: full
        workload:
          keys: {count: 5}
          reads:
            trace: {file: reads.csv, key: title, client: user}
            query_time: 1ms
            clients: 3
        """)
    requests = cqrs_sim.simulate(load_scenario(path)).requests
    for arch in ("crud", "cqrs"):
        reads = requests[(requests["architecture"] == arch) & (requests["kind"] == "read")].sort_values("id")
        assert reads["key"].tolist() == KEYS, arch
        assert reads["client"].tolist() == CLIENTS, arch


@pytest.mark.parametrize("change, path, words", [
    ("    clients: 3\n", "workload.reads.trace.client", "reads.csv:5: 2 is not below workload.reads.clients (2)"),
    ("  keys: {count: 5}\n", "workload.reads.trace.key", "reads.csv:2: 4 is not below workload.keys.count (4)"),
])
def test_trace_ids_past_the_counts_are_located(tmp_path, change, path, words):
    pd.DataFrame({"time": READ_TIMES, "title": KEYS, "user": CLIENTS}).to_csv(tmp_path / "reads.csv", index=False)
    text = """\
duration: 10s
workload:
  keys: {count: 5}
  reads:
    trace: {file: reads.csv, key: title, client: user}
    query_time: 1ms
    clients: 3
"""
    text = text.replace(change, change.replace("3", "2").replace("5", "4"))
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1 and f": {path}: " in lines[0] and words in lines[0], lines


def test_an_edited_data_file_is_a_new_scenario(traced, tmp_path):
    """The scenario names its trace by path; the hash that keys saved results and sweep points also covers the
    file's contents, so a sweep does not reuse points simulated from the old file."""
    from cqrs_sim.io.results import scenario_hash
    from cqrs_sim.experiments.sweep import point_key

    before = load_scenario(traced)
    again = load_scenario(traced)
    assert scenario_hash(before) == scenario_hash(again) and point_key(before) == point_key(again)
    pd.DataFrame({"ms": np.array(READ_TIMES + [12.0]) * 1000, "query_ms": QUERY_MS[:-1] + [2.5, 1.0]}).to_csv(
        tmp_path / "reads.csv", index=False)
    after = load_scenario(traced)
    assert resolved_yaml(after) == resolved_yaml(before)  # the YAML names the same file
    assert scenario_hash(after) != scenario_hash(before) and point_key(after) != point_key(before)
