"""Running on several processes, or on a caller's executor, gives exactly the serial results."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app

from .conftest import SCENARIOS

TABLES = ("requests", "writes", "replicas", "timeseries", "per_replication")
SHORT = {"duration": "3m", "warmup": "20s", "replications": 3,
         "workload.writes.interval": {"dist": "uniform", "low": "40s", "high": "80s"}}


def assert_same(a, b):
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_process_pool_equals_serial():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", SHORT)
    serial = cqrs_sim.simulate(scenario)
    seen = []
    parallel = cqrs_sim.simulate(scenario, jobs=2, progress=lambda done, total, label: seen.append((done, total)))
    assert_same(serial, parallel)
    assert seen[-1] == (6, 6) and all(0 <= d <= t for d, t in seen)


def test_callers_executor_equals_serial():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**SHORT, "record": "summary", "record_sample": 500})
    serial = cqrs_sim.simulate(scenario)
    with ThreadPoolExecutor(2) as pool:
        threaded = cqrs_sim.simulate(scenario, executor=pool)
    assert_same(serial, threaded)


def test_cli_jobs_and_record(tmp_path):
    args = ["run", str(SCENARIOS / "netflix.yaml"), "--set", "duration=2m", "--set", "warmup=10s", "--replications", "2"]
    one = CliRunner().invoke(app, args + ["-o", str(tmp_path / "one"), "-j", "1"])
    two = CliRunner().invoke(app, args + ["-o", str(tmp_path / "two"), "-j", "2", "--record", "summary"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    a = pd.read_csv(tmp_path / "one" / "summary.csv").set_index(["architecture", "metric"])["mean"]
    b = pd.read_csv(tmp_path / "two" / "summary.csv").set_index(["architecture", "metric"])["mean"]
    assert a[("cqrs", "reads_completed")] == b[("cqrs", "reads_completed")]
    assert b[("cqrs", "read_latency_p99")] == __import__("pytest").approx(a[("cqrs", "read_latency_p99")], rel=0.02)
    assert cqrs_sim.load_scenario(tmp_path / "two" / "scenario.yaml").record == "summary"
