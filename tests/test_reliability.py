"""Reliability: reproducibility across processes, the runaway guard, crash reports, the built-in self-check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app

from .conftest import ROOT, SCENARIOS

TABLES = ("requests", "writes", "replicas", "timeseries", "visibility")


def test_two_processes_write_identical_tables(tmp_path):
    """The same scenario and seed in two separate processes (one parallel, one serial): every table equal."""
    dirs = []
    for k, jobs in enumerate(("2", "1")):
        out = tmp_path / f"run{k}"
        cmd = [sys.executable, "-m", "cqrs_sim", "run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "-j", jobs,
               "--no-plots", "--set", "duration=4m", "--set", "warmup=20s", "--set", "workload.writes.interval=90s"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        dirs.append(out)
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(dirs[0] / f"{name}.parquet"), pd.read_parquet(dirs[1] / f"{name}.parquet"))
    assert (dirs[0] / "summary.csv").read_text() == (dirs[1] / "summary.csv").read_text()
    manifests = [json.loads((d / "manifest.json").read_text()) for d in dirs]
    assert manifests[0]["scenario_sha256"] == manifests[1]["scenario_sha256"]
    assert {"seed", "replications", "packages", "platform", "seed_derivation"} <= set(manifests[0])
    reloaded = cqrs_sim.load_results(dirs[0])
    assert reloaded.manifest == manifests[0]
    assert CliRunner().invoke(app, ["plot", str(dirs[0])]).exit_code == 0


def test_runaway_is_stopped_and_marked_incomplete(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(out), "--no-plots", "-j", "1", "--replications", "1",
            "--set", "workload.reads.rate=1200/s", "--set", "limits.max_in_system=5000", "--set", "duration=1h"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3
    assert "warning: crud database: utilisation 1.20 >= 1" in result.stderr  # check's warning, before the run
    assert "incomplete: crud replication 1 was stopped" in result.stderr and "max_in_system = 5,000" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    manifest = json.loads((out / "manifest.json").read_text())
    assert {run["architecture"] for run in manifest["incomplete"]} == {"crud", "cqrs"}
    stopped = manifest["incomplete"][0]["stopped_at"]
    assert 0 < stopped < 60  # 400 excess reads a second reach 5,000 in about 12 s, long before the hour ends


def test_default_limit_does_not_bind_a_stable_scenario():
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "flash_crowd.yaml", {
        "replications": 1, "duration": "6m", "workload.writes.at": ["4m"],
        "workload.reads.rate": [["0s", "300/s"], ["3m", "3000/s"], ["5m", "300/s"]]}))
    assert results.incomplete == []
    assert results.summary_json()["complete"] is True


def test_a_bug_prints_one_line_and_saves_the_traceback(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr("cqrs_sim.cli.run.simulate", broken)
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: internal error (ZeroDivisionError: simulated bug)")
    saved = Path(lines[0].rsplit("traceback saved to ", 1)[1])
    assert "Traceback" in saved.read_text() and "ZeroDivisionError" in saved.read_text()
    assert list(tmp_path.iterdir()) == []  # neither the output nor its staging directory or lock file


@pytest.mark.validation
def test_validate_command_passes():
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "10 passed, 0 failed" in result.stdout
    assert "FAIL" not in result.stdout
