"""``check``'s run estimate: expected reads, run time and output size, and its warning above 1 GB."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim import estimate
from cqrs_sim.cli import app
from cqrs_sim.estimate import estimate_run, expected_reads, expected_writes

from .conftest import SCENARIOS

STEPS = """
duration: 30s
replications: 2
workload:
  reads:
    rate: [[0s, 100/s], [10s, 300/s], [40s, 1000/s]]
    query_time: 1ms
  writes:
    at: [5s, 12s, 31s]
    apply_time: 1s
    read_back: {probability: 0.5}
"""


def test_expected_reads_integrate_the_rate_steps(scenario_from):
    scenario = scenario_from(STEPS)
    # 100/s × 10 s + 300/s × 20 s (the step at 40 s is after the end); two writes before 30 s, half read back
    assert expected_writes(scenario) == 2
    assert expected_reads(scenario) == pytest.approx(100 * 10 + 300 * 20 + 2 * 0.5)


def test_expected_reads_of_a_diurnal_rate_over_whole_periods(scenario_from):
    scenario = scenario_from("""
        duration: 2h
        workload:
          reads:
            rate: {diurnal: {mean: 50/s, amplitude: 0.8, period: 1h, phase: 10m}}
            query_time: 1ms
    """)
    assert expected_reads(scenario) == pytest.approx(50 * 7200, rel=1e-4)


def test_time_is_waves_of_runs_over_the_processes(scenario_from):
    scenario = scenario_from(STEPS)  # 2 replications × 2 architectures = 4 runs
    per_run = expected_reads(scenario) * estimate.MICROSECONDS_PER_READ * 1e-6
    assert estimate_run(scenario, jobs=1).seconds == pytest.approx(4 * per_run)
    assert estimate_run(scenario, jobs=3).seconds == pytest.approx(2 * per_run)  # 3 then 1
    wide = estimate_run(scenario, jobs=16)
    assert wide.seconds == pytest.approx(per_run) and wide.jobs == 4


def test_output_size_by_recording():
    overrides = {"duration": "30m", "workload.reads.rate": "2000/s"}
    full = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**overrides, "record": "full"}), 2)
    summary = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", overrides), 2)
    assert full.reads == pytest.approx(6 * 2000 * 1800)
    rows = full.reads + full.runs * full.writes_per_run
    assert full.output_bytes == pytest.approx(rows * estimate.FULL_BYTES_PER_REQUEST + estimate.FIXED_BYTES)
    # summary keeps record_sample reads per run, however many there are
    assert summary.output_bytes < 50e6 < full.output_bytes < 1e9  # 0.8 GB: no warning yet
    assert full.warning is None and summary.warning is None
    hour = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**overrides, "duration": "1h", "record": "full"}), 2)
    assert hour.output_bytes > 1e9 and "GB" in hour.warning and "record: summary" in hour.warning


def test_full_size_estimate_matches_a_saved_run(tmp_path):
    """The bytes-per-request constant, checked against requests.parquet of a real full-recorded run (±25%)."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {"duration": "4m", "replications": 1, "record": "full"})
    out = cqrs_sim.simulate(scenario).save(tmp_path / "r")
    guess = estimate_run(scenario, 1)
    rows = guess.runs * (guess.reads_per_run + guess.writes_per_run)
    size = (out / "requests.parquet").stat().st_size
    assert size == pytest.approx(rows * estimate.FULL_BYTES_PER_REQUEST, rel=0.25)


def test_check_prints_the_estimate_and_warns_above_a_gigabyte():
    args = ["check", str(SCENARIOS / "netflix.yaml"), "--set", "duration=1h", "--set", "workload.reads.rate=2000/s", "-j", "2"]
    full = CliRunner().invoke(app, args + ["--record", "full"])
    assert full.exit_code == 0, full.output
    assert "reads: about 7,200,000 per run × 6 run(s) = 43,200,000" in full.stdout
    assert "on 2 process(es)" in full.stdout and "with record: full (every request)" in full.stdout
    assert "warning: the results will take about" in full.stderr
    summary = CliRunner().invoke(app, args)
    assert summary.exit_code == 0, summary.output
    assert "with record: summary" in summary.stdout and "a sample of 100,000 reads per run" in summary.stdout
    assert "the results will take" not in summary.stderr
