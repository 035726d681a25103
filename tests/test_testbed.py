"""The testbed: a scenario played on a real PostgreSQL writes a result directory; the server never outlives a run.

Whether a prediction agrees with the real database, and whether wrong
predictions are rejected, is tests/test_testbed_prediction.py. Every test
here is skipped only where PostgreSQL cannot start at all (no ``pgserver``
wheel for the platform).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.testbed import ServerError
from cqrs_sim.testbed.server import EmbeddedServer, server_version

from .conftest import ROOT, SCENARIOS
from .test_processes import DEADLINE, ENTRY, descendants, finish, wait_until

pytestmark = pytest.mark.testbed
runner = CliRunner()


@pytest.fixture(scope="module")
def postgres_available() -> str:
    try:
        with EmbeddedServer() as server:
            return server_version(server.dsn)
    except ServerError as exc:
        pytest.skip(f"PostgreSQL cannot start here: {exc}")


@pytest.fixture
def scratch():
    """A temporary directory the server's unprivileged account can enter (pytest's own is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="cqrs-testbed-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_targets_on_times_widen_by_the_measured_timer_lateness():
    """The allowance is the matching statistic of each testbed side's measured lateness; none for a simulation,
    a fraction, or a manifest without a measurement; a difference beyond target plus allowance is still missed."""
    from cqrs_sim.experiments.compare import _target_text, _within, lateness_allowance

    measured = {"source": "testbed", "testbed": {"timer_lateness_s": {"mean": 0.004, "p99": 0.030, "max": 0.2}}}
    simulated = {"source": "simulation"}
    assert lateness_allowance("read_latency_p99", simulated, measured) == pytest.approx(0.030)
    assert lateness_allowance("read_latency_mean", measured, simulated) == pytest.approx(0.004)
    assert lateness_allowance("read_latency_p99", measured, measured) == pytest.approx(0.060)  # both sides measured
    assert lateness_allowance("stale_read_fraction", simulated, measured) == 0
    assert lateness_allowance("read_latency_p99", simulated, {"testbed": {}}) == 0  # an older testbed result
    assert lateness_allowance("read_latency_p99", simulated, {"testbed": {"timer_lateness_s": {"p99": "x"}}}) == 0
    assert _within("relative", 0.10, 0.100, 0.135, 0.030) and not _within("relative", 0.10, 0.100, 0.135)
    assert not _within("relative", 0.10, 0.100, 0.145, 0.030)  # 45 ms off against 10 ms + 30 ms
    assert _target_text("relative", 0.10, 0.030) == "±(10% + 30 ms)" and _target_text("relative", 0.1, 0) == "±10%"


def test_cli_writes_a_result_directory_and_compare_reads_it(postgres_available, tmp_path):
    scenario = str(SCENARIOS / "testbed_cqrs.yaml")
    sets = ["--set", "duration=6s", "--set", "replications=1", "--set", "workload.writes={at: [1s], apply_time: 200ms}"]
    result = runner.invoke(app, ["testbed", scenario, "-o", str(tmp_path / "tb"), "--no-plots", *sets])
    assert result.exit_code == 0, result.output
    assert "cqrs_testbed_" in result.output  # the databases it used are named
    loaded = cqrs_sim.load_results(tmp_path / "tb")
    assert loaded.manifest["source"] == "testbed" and loaded.manifest["server"].startswith("PostgreSQL")
    assert len(loaded.replicas) == 3  # the one write was copied to each replica
    assert (loaded.writes["first_visible"] > loaded.writes["commit"]).all()
    result = runner.invoke(app, ["run", scenario, "-o", str(tmp_path / "sim"), "--no-plots", "-j", "1", *sets])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compare", str(tmp_path / "sim"), str(tmp_path / "tb"), "--plots", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "testbed on PostgreSQL" in result.output and "read_latency_p99" in result.output
    assert (tmp_path / "cmp" / "latency_cdf.png").stat().st_size > 0
    assert (tmp_path / "cmp" / "visibility_curve.png").stat().st_size > 0
    assert not (tmp_path / "tb" / "compare").exists()


def test_a_server_that_cannot_start_leaves_nothing(postgres_available, scratch, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setitem(cqrs_sim.testbed.server.SERVER_SETTINGS, "shared_buffers", "1kB")  # below PostgreSQL's minimum
    with pytest.raises(ServerError) as caught:
        with EmbeddedServer():
            pass
    assert "\n" not in str(caught.value) and "PostgreSQL exited at start" in str(caught.value)
    assert not list(scratch.glob("cqrs-testbed-data-*"))  # no data directory left


def test_unreachable_dsn_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["testbed", str(SCENARIOS / "testbed_crud.yaml"), "-o", str(tmp_path / "o"),
                                 "--dsn", f"host={tmp_path} port=1 user=nobody dbname=x connect_timeout=2"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: testbed: cannot connect"), result.stderr
    assert not (tmp_path / "o").exists()


def test_settings_the_testbed_cannot_play_are_located_errors(write_yaml, tmp_path):
    path = write_yaml("""\
        duration: 5s
        workload:
          reads: {rate: 10/s, query_time: 5ms, timeout: 1s}
        cqrs:
          sync: {strategy: blue_green, on_write_during_rollout: restart}
        """)
    result = runner.invoke(app, ["testbed", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:3:40: workload.reads.timeout: not supported by the testbed: the testbed's clients do not time "
        "out or retry; remove it",
        f"error: {path}:5:32: cqrs.sync.on_write_during_rollout: not supported by the testbed: the testbed ships one "
        "snapshot per rollout; use queue",
    ]
    assert not (tmp_path / "o").exists()


def test_ctrl_c_stops_the_server_and_removes_its_data(postgres_available, scratch):
    out = scratch / "out"
    ready = scratch / "ready"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CQRS_SIM_READY_FILE": str(ready), "TMPDIR": str(scratch)}
    proc = subprocess.Popen(ENTRY + ["testbed", str(SCENARIOS / "testbed_cqrs.yaml"), "-o", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    wait_until(ready.exists, "readiness file", proc, DEADLINE)
    data = list(scratch.glob("cqrs-testbed-data-*"))
    assert len(data) == 1  # the server's directory, while it runs
    watched = descendants(proc.pid)
    assert any("postgres" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace") for pid in watched
               if Path(f"/proc/{pid}/cmdline").exists())
    proc.send_signal(signal.SIGINT)
    _, stderr = finish(proc, watched)  # also waits until every process it started is gone
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not data[0].exists() and not out.exists()


def test_with_dsn_it_drops_only_the_databases_it_created(postgres_available, tmp_path):
    import psycopg

    from cqrs_sim.testbed.server import Databases

    with EmbeddedServer() as server:
        def names() -> set[str]:
            with psycopg.connect(server.dsn, autocommit=True) as conn:
                return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE keep_me")
        before = names()
        result = runner.invoke(app, ["testbed", str(SCENARIOS / "testbed_crud.yaml"), "-o", str(tmp_path / "o"),
                                     "--no-plots", "--dsn", server.dsn, "--set", "duration=3s",
                                     "--set", "replications=1"])
        assert result.exit_code == 0, result.output
        assert names() == before and "keep_me" in before  # its own databases are gone, the others untouched
        theirs = Databases(server.dsn)
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{theirs.name("schema")}"')  # a database of the same name, not made by it
        with pytest.raises(ServerError, match="exists and was not created by this run"):
            theirs.create("schema")
        with pytest.raises(ServerError, match="this run did not create it"):
            theirs.drop("keep_me")
        assert theirs.name("schema") in names() and "keep_me" in names()


def test_replica_settings_the_standbys_do_not_play_are_located_errors(write_yaml, tmp_path):
    """CRUD with streaming replicas: what the testbed's hot standbys do not play is refused, one located line each,
    and so are replicas on a server given by --dsn (the testbed cannot build standbys of a server it does not run)."""
    path = write_yaml("""\
        duration: 5s
        architectures: [crud]
        crud:
          replicas: 2
          replica_routing: sticky
          read_your_writes_window: 2s
          max_lag: 1s
          replication_stalls: {every: 10s, duration: 1s}
          failures: {mtbf: 60s, mttr: 5s}
          replica_autoscale: {min: 1, max: 3}
        workload:
          reads: {rate: 10/s, query_time: 5ms, clients: 4}
        """)
    result = runner.invoke(app, ["testbed", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    located = {line.split(": ")[2]: line for line in lines}
    assert set(located) == {"crud.replica_routing", "crud.read_your_writes_window", "crud.max_lag",
                            "crud.replication_stalls", "crud.failures", "crud.replica_autoscale"}, lines
    assert located["crud.max_lag"] == (f"error: {path}:7:3: crud.max_lag: not supported by the testbed: the testbed's "
                                       "standbys stay in the pool however far behind; remove it")
    plain = write_yaml("""\
        duration: 5s
        architectures: [crud]
        crud:
          replicas: 2
        workload:
          reads: {rate: 10/s, query_time: 5ms}
        """)
    for command in (["testbed", str(plain)], ["testbed", str(plain), "--calibrate"]):
        result = runner.invoke(app, [*command, "-o", str(tmp_path / "o"), "--dsn", "host=/nowhere user=u dbname=d"])
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [
            f"error: {plain}:4:3: crud.replicas: not supported by the testbed: streaming replicas are built only beside "
            "the embedded server: drop --dsn, or use 0"]
    assert not (tmp_path / "o").exists()


def test_what_a_real_time_run_cannot_afford_is_refused_before_anything_starts(write_yaml, tmp_path):
    """More standbys than the testbed starts on one machine, a read-back due after the run has ended (the testbed
    would wait for it in real time), and real queries on CQRS (one line: the item count then does not matter) are
    each one located line, exit 2, before any server starts."""
    path = write_yaml("""\
        duration: 5s
        architectures: [crud]
        crud:
          replicas: 10
        workload:
          reads: {rate: 10/s, query_time: 5ms}
          writes: {rate: 1/s, apply_time: 5ms, read_back: {after: 1000s}}
        """)
    result = runner.invoke(app, ["testbed", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {path}:7:52: workload.writes.read_back.after: not supported by the testbed: is 16.7min, longer "
        "than the run (5s): the testbed plays in real time and would wait for it; use at most the duration",
        f"error: {path}:4:3: crud.replicas: not supported by the testbed: is 10: the testbed starts a PostgreSQL "
        "server of its own for each standby, on this machine; use at most 8"]
    cqrs = runner.invoke(app, ["testbed", str(SCENARIOS / "testbed_cqrs.yaml"), "--set", "testbed.work=queries",
                               "-o", str(tmp_path / "o")])
    assert cqrs.exit_code == 2 and len(cqrs.stderr.splitlines()) == 1 and "testbed.work" in cqrs.stderr, cqrs.output
    standbys = runner.invoke(app, ["testbed", str(SCENARIOS / "testbed_replicas.yaml"), "--set",
                                   "testbed.work=queries", "-o", str(tmp_path / "o")])
    assert standbys.exit_code == 2 and standbys.stderr.splitlines() == [
        f"error: {SCENARIOS / 'testbed_replicas.yaml'}: testbed.work: not supported by the testbed: real queries are "
        "played on the primary only, not on streaming replicas; use crud.replicas: 0 or work: sleep"], standbys.output
    assert not (tmp_path / "o").exists()
