"""Bad input: each problem is one located line on stderr, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cqrs_sim.cli import app
from cqrs_sim.core.errors import ScenarioError

from .conftest import SCENARIOS

runner = CliRunner()

VALID = """\
duration: 10s
warmup: 1s
workload:
  reads:
    rate: 10/s
    query_time: 4ms
  writes:
    at: [5s]
    apply_time: 1s
cqrs:
  replicas: {count: 4}
  sync: {batch_size: 2}
"""


def run_bad(tmp_path, text, *extra):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text.encode("utf-8")) if isinstance(text, str) else None
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "-o", str(out), "--no-plots", *extra])
    return result, path, out


def assert_one_error(result, out, location: str, path: str, words: str):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("error: "), line
    assert f"{location}: {path}: " in line, line
    assert words in line, line
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "old, new, lineno, col, path, words",
    [
        ("  reads:\n", "  reads:\n    rat: 5/s\n", 5, 5, "workload.reads.rat", "unknown key 'rat'"),
        ("duration: 10s", "duration: [10s]", 1, 1, "duration", "expected a duration"),
        ("duration: 10s", "duration: -10s", 1, 11, "duration", "must not be negative"),
        ("duration: 10s", "duration: 0s", 1, 11, "duration", "greater than 0"),
        ("    query_time: 4ms", "    query_time: {dist: exponential, mean: 0s}", 6, 43, "workload.reads.query_time.mean", "greater than 0"),
        ("  replicas: {count: 4}", "  replicas: {count: 0}", 11, 21, "cqrs.replicas.count", "greater than or equal to 1"),
        ("  replicas: {count: 4}", "  replicas: {count: many}", 11, 21, "cqrs.replicas.count", "valid integer"),
        ("  sync: {batch_size: 2}", "  sync: {batch_size: 5}", 12, 22, "cqrs.sync.batch_size", "must not exceed cqrs.replicas.count (4)"),
        ("warmup: 1s", "warmup: 10s", 2, 9, "warmup", "must be shorter than duration"),
        ("    query_time: 4ms", "    query_time: {dist: cauchy, mean: 4ms}", 6, 5, "workload.reads.query_time", "unknown distribution 'cauchy'"),
        ("    rate: 10/s", "    rate: 10/s\n    process: bursty", 6, 14, "workload.reads.process", "'poisson' or 'uniform'"),
        ("    rate: 10/s", "    rate: 10/fortnight", 5, 11, "workload.reads.rate", "unknown time unit 'fortnight'"),
        ("    at: [5s]", "    at: [5s]\n    rate: 1/s", 7, 3, "workload.writes", "exactly one of interval, rate, at"),
        ("cqrs:", "crud: {max_lag: 2s}\ncqrs:", 10, 17, "crud.max_lag", "needs read replicas"),
        ("cqrs:", "crud:\n  replicas: 2\n  replication_stalls: {every: 0s, duration: 1s}\ncqrs:", 12, 31,
         "crud.replication_stalls.every", "must have a positive mean"),
        ("  sync: {batch_size: 2}", "  sync: {batch_size: 2}\n  write_server_failures: {mtbf: 1h}", 13, 26,
         "cqrs.write_server_failures.mttr", "required key is missing"),
    ],
)
def test_bad_value_is_located(tmp_path, old, new, lineno, col, path, words):
    assert old in VALID
    result, file, out = run_bad(tmp_path, VALID.replace(old, new, 1))
    assert_one_error(result, out, f"{file}:{lineno}:{col}", path, words)


def test_several_problems_one_line_each(tmp_path):
    text = VALID.replace("duration: 10s", "duration: soon").replace("  replicas: {count: 4}", "  replicas: {count: 4, colour: red}")
    result, file, out = run_bad(tmp_path, text)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {file}:1:11: duration: ")
    assert lines[1].startswith(f"error: {file}:11:24: cqrs.replicas.colour: unknown key 'colour'")
    assert not out.exists()


@pytest.mark.parametrize(
    "text, words",
    [
        ("duration: 10s\nworkload: {reads: [1, 2\n", "malformed YAML"),
        ("duration: 10s\n\tworkload: {}\n", "malformed YAML"),
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- duration: 10s\n", "must be a mapping"),
        ("just a string\n", "must be a mapping"),
    ],
)
def test_unreadable_files(tmp_path, text, words):
    result, file, out = run_bad(tmp_path, text)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {file}:")
    assert words in lines[0]
    assert not out.exists()


def test_duplicate_key_is_located(tmp_path):
    result, file, out = run_bad(tmp_path, VALID + "duration: 20s\n")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {file}:13:1: ")
    assert "duplicate" in result.stderr


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml"), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.yaml'}: (file): no such file"
    assert not out.exists()


def test_missing_required_key(tmp_path):
    result, file, out = run_bad(tmp_path, VALID.replace("    query_time: 4ms\n", ""))
    assert_one_error(result, out, f"{file}:5:5", "workload.reads.query_time", "required key is missing")


@pytest.mark.parametrize(
    "assignment, path, words",
    [
        ("cqrs.replicas.count=abc", "cqrs.replicas.count", "valid integer"),
        ("cqrs.replicas.cont=3", "cqrs.replicas.cont", "unknown key 'cont' (did you mean 'count'?)"),
        ("duration.x=1", "duration", "is not a mapping"),
        ("cqrs.sync.batch_size=9", "cqrs.sync.batch_size", "must not exceed"),
        ("novalue", "(--set)", "expected PATH=VALUE"),
        ("workload.reads.query_time={dist: exponential}", "workload.reads.query_time.mean", "required key is missing"),
        ("cost.instance_hour=true", "cost.instance_hour", "expected a number, not true/false"),
        ("cqrs.replicas.cold_factor=true", "cqrs.replicas.cold_factor", "expected a number, not true/false"),
        ("workload.reads.clients=1000000000000", "workload.reads.clients", "exceeds limits.max_clients"),
        ("workload.keys={count: 10, popularity: {zipf: true}}", "workload.keys.popularity.zipf", "not true/false"),
    ],
)
def test_bad_set(tmp_path, assignment, path, words):
    result, file, out = run_bad(tmp_path, VALID, "--set", assignment)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: --set {assignment}: {path}: "), lines[0]
    assert words in lines[0]
    assert not out.exists()


def test_check_reports_the_same_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("warmup: 1s", "warmup: 1h"))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:2:9: warmup: must be shorter than duration")


def test_existing_output_survives_bad_input(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    path = tmp_path / "bad.yaml"
    path.write_text("duration: 1x\n")
    for extra in ([], ["--force"]):
        result = runner.invoke(app, ["run", str(path), "-o", str(out), *extra])
        assert result.exit_code == 2
        assert (out / "keep.txt").read_text() == "precious"


def test_real_process_prints_no_traceback(tmp_path):
    """The installed entry point, in its own process: exit 2 and only error lines."""
    path = tmp_path / "bad.yaml"
    path.write_text("duration: 10s\nworkload: {reads: {rate: 5/s, query_time: 4ms, oops: 1}}\n")
    proc = subprocess.run([sys.executable, "-m", "cqrs_sim", "run", str(path), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path}:2:48: workload.reads.oops: unknown key 'oops'"
    assert proc.stdout == ""
    assert not (tmp_path / "o").exists()


def test_shipped_scenarios_are_valid():
    for path in sorted(SCENARIOS.glob("*.yaml")):
        result = runner.invoke(app, ["check", str(path)])
        assert result.exit_code == 0, (path, result.output)


def test_steps_and_writes_after_duration_are_ignored_with_a_warning(tmp_path):
    path = tmp_path / "late.yaml"
    path.write_text(VALID.replace("    rate: 10/s", "    rate: [[0s, 10/s], [1h, 20/s]]").replace("at: [5s]", "at: [5s, 20s]"))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0
    assert "warning: workload.reads.rate.1: the step at 3600s starts after duration (10s) and is ignored" in result.stderr
    assert "warning: workload.writes.at.1: the write at 20s comes after duration (10s) and is ignored" in result.stderr


def test_a_design_apply_time_needs_writes(tmp_path):
    """``crud.apply_time`` on a workload without writes is a mistake, located at the key."""
    text = VALID.replace("  writes:\n    at: [5s]\n    apply_time: 1s\n", "").replace("cqrs:\n", "crud:\n  apply_time: 2s\ncqrs:\n")
    result, _, out = run_bad(tmp_path, text)
    assert_one_error(result, out, f"{tmp_path / 'bad.yaml'}:8:15", "crud.apply_time", "the workload has no writes")


def test_a_write_cannot_write_more_keys_than_exist(tmp_path):
    text = VALID.replace("  writes:\n", "  keys: {count: 10}\n  writes:\n    keys: {count: 20, choose: uniform}\n")
    result, _, out = run_bad(tmp_path, text)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1 and ": workload.writes.keys.count: a write cannot write 20 different keys of the 10" in lines[0]
    assert not out.exists()


def test_a_lag_limit_shorter_than_a_rollout_is_warned_about(scenario_from):
    """A max_lag below the rollout's length empties the pool during every rollout: valid, but said."""
    from cqrs_sim.config.warnings import scenario_warnings

    scenario = scenario_from(VALID, overrides={"cqrs.replicas.max_lag": "5s", "cqrs.sync.replace_time": "20s"})
    (warning,) = [w for w in scenario_warnings(scenario) if w.startswith("cqrs.replicas.max_lag")]
    assert "a rollout takes about 40s, longer than max_lag (5s)" in warning
    scenario = scenario_from(VALID, overrides={"cqrs.replicas.max_lag": "1m", "cqrs.sync.replace_time": "20s"})
    assert not [w for w in scenario_warnings(scenario) if w.startswith("cqrs.replicas.max_lag")]


def test_verdict_thresholds_read_shares_and_amounts(scenario_from):
    """verdict.min_difference: "N%" is a share of the larger value, anything else an amount in the kind's unit;
    the resolved scenario writes them back as they load."""
    from cqrs_sim.config.loader import dump_yaml, parse_scenario
    from cqrs_sim.config.resolved import resolved_dict
    from cqrs_sim.config.paths import with_units

    text = """
    duration: 10s
    workload: {reads: {rate: 1/s, query_time: 1ms}}
    verdict: {min_difference: {time: 2ms, fraction: 1%, rate: 10/s, count: 3}}
    """
    scenario = scenario_from(text)
    m = scenario.verdict.min_difference
    assert (m.time, m.fraction, m.rate, m.count, m.cost) == (0.002, "1%", 10.0, 3.0, "5%")
    again = parse_scenario(dump_yaml(with_units(resolved_dict(scenario))))
    assert again.verdict == scenario.verdict
    for bad, message in (("fast", "cannot read duration 'fast'"), ("-5%", "a share must be 0% or more"),
                         ("x%", "expected a share such as 5% or an amount"), ("-1ms", "duration must not be negative")):
        with pytest.raises(ScenarioError, match=f"verdict.min_difference.time: {message}"):
            scenario_from(text.replace("time: 2ms", f"time: {bad}"))
