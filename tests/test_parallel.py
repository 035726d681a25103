"""Running on several processes, or on a caller's executor, gives exactly the serial results."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.experiments.executors import LocalPool, WorkerDied

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


DEADLINE = 120.0  #: seconds; every wait below is for an event, bounded by this


def _kill_workers() -> None:
    """SIGTERM to every worker, as a signal to the whole process group does."""
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGTERM)


def _returns(call) -> bool:
    """Whether ``call()`` returns within the deadline (it runs in a thread, so a hang fails the test instead)."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    return not thread.is_alive()


def test_pool_killed_while_idle_shuts_down():
    """Workers killed while waiting for work do not leave shutdown waiting for them."""
    pool = LocalPool(2)
    assert pool.submit(os.getpid).result(timeout=DEADLINE) > 0  # the workers are up
    _kill_workers()
    assert _returns(lambda: pool.shutdown(cancel_futures=True))
    assert multiprocessing.active_children() == []


def test_worker_killed_while_running_fails_every_task():
    """A worker killed mid-task wakes the parent: every task fails with WorkerDied, and the other workers stop."""
    pool = LocalPool(2)
    futures = [pool.submit(time.sleep, 3600) for _ in range(3)]
    deadline = time.monotonic() + DEADLINE
    while sum(f.running() for f in futures) < 2:  # both workers busy
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGTERM)
    for future in futures:
        assert isinstance(future.exception(timeout=DEADLINE), WorkerDied)
    assert _returns(pool.shutdown)
    assert multiprocessing.active_children() == []
