"""Sweeps and capacity search: results, resumption, failing points, equality with single runs, a real Dask cluster."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cqrs_sim.analysis.queueing import mmc_wait
from cqrs_sim.experiments.capacity import capacity_search
from cqrs_sim.cli import app
from cqrs_sim.experiments.executors import LocalPool
from cqrs_sim.experiments.sweep import parse_vary, range_values, run_sweep
from cqrs_sim.config.scenario import SweepRange
from cqrs_sim.analysis.slo import parse_slo

from .conftest import SCENARIOS

SETS = ["duration=3m", "warmup=20s", "replications=2", "workload.writes.interval=60s", "workload.writes.apply_time=10s"]


def test_vary_and_range_parsing():
    assert parse_vary("cqrs.replicas.count=4,8,16").values == [4, 8, 16]
    assert parse_vary("workload.reads.rate=100/s,2/m").values == ["100/s", "2/m"]
    assert parse_vary("architectures=[crud],[crud, cqrs]").values == [["crud"], ["crud", "cqrs"]]
    assert range_values(SweepRange.model_validate({"from": 1, "to": 16, "steps": 5, "scale": "log"})) == [1, 2, 4, 8, 16]
    assert range_values(SweepRange.model_validate({"from": 0.5, "to": 1.5, "steps": 3})) == [0.5, 1.0, 1.5]


def test_sweep_results_resume_and_failures(tmp_path):
    out = tmp_path / "sweep"
    with ThreadPoolExecutor(2) as pool:
        first = run_sweep(SCENARIOS / "netflix.yaml", ["cqrs.replicas.count=2,4,0"], out, pool, SETS)
    assert first.ran == 2 and first.skipped == 0
    assert len(first.failures) == 1 and "cqrs.replicas.count" in first.failures[0]["error"]
    table = pd.read_parquet(out / "sweep.parquet")
    assert {"point", "architecture", "metric", "mean", "ci_low", "ci_high", "n", "cqrs.replicas.count"} <= set(table.columns)
    assert sorted(table["cqrs.replicas.count"].unique()) == [2, 4]
    assert len(table) == 2 * 2 * table.metric.nunique()
    assert json.loads((out / "failures.json").read_text())[0]["point"] == {"cqrs.replicas.count": 0}
    # more replicas, longer rollouts: more stale reads (paired: same seeds at both points)
    stale = table[(table.metric == "stale_read_fraction") & (table.architecture == "cqrs")].set_index("cqrs.replicas.count")["mean"]
    assert stale[4] > stale[2]
    # rerun into the same directory: finished points are skipped, a new one is run
    stamp = (out / "points" / table.point.iloc[0] / "summary.csv").stat().st_mtime_ns
    with ThreadPoolExecutor(2) as pool:
        second = run_sweep(SCENARIOS / "netflix.yaml", ["cqrs.replicas.count=2,4,6"], out, pool, SETS)
    assert second.skipped == 2 and second.ran == 1 and not second.failures
    assert (out / "points" / table.point.iloc[0] / "summary.csv").stat().st_mtime_ns == stamp
    assert sorted(pd.read_parquet(out / "sweep.parquet")["cqrs.replicas.count"].unique()) == [2, 4, 6]


def test_sweep_point_equals_a_single_run(tmp_path):
    """A sweep point's summary is exactly what `cqrs-sim run` gives for the same overrides."""
    pool = LocalPool(2)
    try:
        result = run_sweep(SCENARIOS / "netflix.yaml", ["cqrs.sync.batch_size=1,2"], tmp_path / "s", pool, SETS)
    finally:
        pool.shutdown()
    args = ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(tmp_path / "single"), "--no-plots", "-j", "1",
            "--set", "cqrs.sync.batch_size=2"] + [x for s in SETS for x in ("--set", s)]
    assert CliRunner().invoke(app, args).exit_code == 0
    single = pd.read_csv(tmp_path / "single" / "summary.csv")
    point = result.table[result.table["cqrs.sync.batch_size"] == 2].drop(columns=["point", "cqrs.sync.batch_size"])
    merged = single.merge(point, on=["architecture", "metric"], suffixes=("", "_sweep"))
    assert len(merged) == len(single)
    np.testing.assert_allclose(merged["mean"], merged["mean_sweep"], rtol=1e-12, equal_nan=True)


def test_sweep_block_in_the_scenario_file_and_cli(tmp_path):
    text = (SCENARIOS / "mmc.yaml").read_text() + "\nsweep:\n  workload.reads.rate: {from: 400, to: 800, steps: 3}\n"
    path = tmp_path / "mmc_sweep.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(path), "-o", str(out), "-j", "2", "--set", "duration=30s",
                                      "--set", "warmup=5s", "--set", "replications=2"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "sweep.parquet")
    assert sorted(table["workload.reads.rate"].unique()) == [400.0, 600.0, 800.0]
    assert (out / "plots" / "overview.png").exists()
    assert CliRunner().invoke(app, ["plot", str(out)]).exit_code == 0
    # run ignores the sweep block
    assert CliRunner().invoke(app, ["run", str(path), "-o", str(tmp_path / "r"), "--no-plots", "--set", "duration=10s",
                                    "--set", "warmup=1s", "--replications", "1"]).exit_code == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real dask scheduler and worker, started as processes on 127.0.0.1."""
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SCENARIOS.parent), os.environ.get("PYTHONPATH", "")])}
    scheduler = subprocess.Popen([os.path.join(bin_dir, "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = subprocess.Popen([os.path.join(bin_dir, "dask"), "worker", address, "--nthreads", "1", "--nworkers", "2",
                               "--no-dashboard", "--local-directory", str(tmp_path / "dask")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout="2s") as client:
                if len(client.scheduler_info()["workers"]) >= 2:
                    break
        except (OSError, TimeoutError):
            pass
        assert time.monotonic() < deadline, "dask cluster did not start"
        time.sleep(0.5)
    yield address
    worker.terminate()
    scheduler.terminate()
    worker.wait(20)
    scheduler.wait(20)


def test_sweep_on_a_real_dask_cluster_equals_local(tmp_path, dask_cluster):
    args = ["sweep", str(SCENARIOS / "netflix.yaml"), "--vary", "cqrs.replicas.count=2,4", "--no-plots"]
    args += [x for s in SETS for x in ("--set", s)]
    dask_run = CliRunner().invoke(app, args + ["-o", str(tmp_path / "on-dask"), "--scheduler", dask_cluster])
    assert dask_run.exit_code == 0, dask_run.output
    local_run = CliRunner().invoke(app, args + ["-o", str(tmp_path / "local"), "-j", "2"])
    assert local_run.exit_code == 0
    a = pd.read_parquet(tmp_path / "on-dask" / "sweep.parquet")
    b = pd.read_parquet(tmp_path / "local" / "sweep.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_missing_scheduler_is_a_clear_error(tmp_path):
    port = _free_port()
    result = CliRunner().invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "--vary", "seed=1,2", "-o", str(tmp_path / "x"),
                                      "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 2 and "cannot reach" in result.stderr


@pytest.mark.validation
def test_capacity_search_matches_erlang_c():
    """Largest Poisson rate with mean read latency < 10 ms through one replica of c = 4 exponential 4 ms connections.

    Theory: W(λ) = 1/μ + C(4, λ/μ)/(4μ − λ) (Erlang C) crosses 10 ms at λ* = 876.5/s. The bisection's error
    comes from the simulated W at the boundary: its 95% interval half-width h maps to a rate error of
    h / W'(λ*), and the SLO is judged on the interval's upper end (mean + h), which puts the answer about one
    more h / W'(λ*) below λ*. Allowed: 3 h / W'(λ*) plus the final bracket width.
    """
    target = 0.010
    lo, hi = 400.0, 990.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mmc_wait(mid, 0.004, 4) + 0.004 < target else (lo, mid)
    theory = lo
    assert theory == pytest.approx(876.5, abs=0.1)
    sets = ["duration=2m", "warmup=10s", "replications=4", "architectures=[cqrs]"]
    with ThreadPoolExecutor(2) as pool:
        (result,) = capacity_search(SCENARIOS / "mmc.yaml", "workload.reads.rate", [parse_slo("read_latency_mean<10ms")], pool,
                                    (400.0, 990.0), sets=sets, fixed=True)
    mean, low, high = result.at_answer.metrics["read_latency_mean"]
    h = (high - low) / 2
    slope = (mmc_wait(theory + 0.5, 0.004, 4) - mmc_wait(theory - 0.5, 0.004, 4)) / 1.0
    allowed = 3 * h / slope + abs(result.bracket[1] - result.bracket[0])
    print(f"capacity: simulated {result.answer:.1f}/s, theory {theory:.1f}/s, allowed ±{allowed:.1f}")
    assert abs(result.answer - theory) <= allowed
    assert mean < target


def test_capacity_minimize_integer_path():
    """Smallest connection count c for mean latency < 10 ms at 800/s, 4 ms exponential queries: c = 3 is unstable
    (ρ > 1: screened by the analytic twin without simulating, or, judged on fixed replications, stopped by the
    runaway guard and counted as failing), c = 4 gives 6.98 ms (Erlang C). Answer: 4, either way."""
    sets = ["duration=1m", "warmup=5s", "replications=2", "architectures=[cqrs]", "limits.max_in_system=3000"]
    (result,) = capacity_search(SCENARIOS / "mmc.yaml", "cqrs.replicas.connections", [parse_slo("read_latency_mean<10ms")],
                                None, (1, 8), minimize=True, sets=sets)
    assert result.answer == 4 and result.bracket == (4, 3)
    assert [e.value for e in result.evaluations if e.screened] == [3]  # bracketed analytically: 1 and 2 never probed
    assert result.note.startswith("bracketed by the analytic twin: screened from 3 (replica pool utilisation 1.07)")
    (fixed,) = capacity_search(SCENARIOS / "mmc.yaml", "cqrs.replicas.connections", [parse_slo("read_latency_mean<10ms")],
                               None, (1, 8), minimize=True, sets=sets, fixed=True)
    assert fixed.answer == 4 and fixed.bracket == (4, 3) and any(e.incomplete for e in fixed.evaluations)


def test_capacity_cli(tmp_path):
    out = tmp_path / "capacity.json"
    result = CliRunner().invoke(app, ["capacity", str(SCENARIOS / "mmc.yaml"), "--search", "cqrs.replicas.connections",
                                      "--range", "4..8", "--slo", "read_latency_p99<20ms", "--minimize", "-j", "1",
                                      "-o", str(out), "--set", "duration=30s", "--set", "warmup=5s",
                                      "--set", "architectures=[crud, cqrs]"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [d["architecture"] for d in data] == ["cqrs"]  # a cqrs.* path is searched for cqrs only
    assert data[0]["answer"] in range(4, 9)
    assert data[0]["evaluations"][0]["metrics"]["read_latency_p99"][0] > 0
    bad = CliRunner().invoke(app, ["capacity", str(SCENARIOS / "mmc.yaml"), "--search", "crud.locking",
                                   "--slo", "read_latency_p99<20ms"])
    assert bad.exit_code == 2 and "is not a number" in bad.stderr
    bad = CliRunner().invoke(app, ["capacity", str(SCENARIOS / "mmc.yaml"), "--search", "workload.reads.rate",
                                   "--slo", "latency<20ms"])
    assert bad.exit_code == 2 and "unknown metric" in bad.stderr
