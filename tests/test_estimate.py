"""``check``'s run estimate: expected reads, run time, memory and output size, and its warning above 1 GB.

How close the time and memory come to measured runs is checked by hand in ``benchmarks/estimate.py check``
(no timed test here); these tests check what the estimate is made of.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.experiments import calibration, estimate
from cqrs_sim.cli import app
from cqrs_sim.experiments.estimate import (estimate_run, expected_reads, expected_writes, makespan, read_backlog,
                                           read_capacity, run_seconds)

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


def test_runs_are_spread_over_the_processes_longest_first(scenario_from):
    scenario = scenario_from(STEPS)  # 2 replications × 2 architectures = 4 runs
    tasks = [sum(run_seconds(scenario, arch).values()) for arch in scenario.architectures] * 2
    assert makespan([1.0, 1.0, 1.0, 1.0], 3) == 2.0 and makespan([3.0, 2.0, 2.0, 1.0], 2) == 4.0
    one, three, wide = (estimate_run(scenario, jobs=j) for j in (1, 3, 16))
    assert one.simulation_seconds == pytest.approx(sum(tasks))
    assert three.simulation_seconds == pytest.approx(makespan(tasks, 3))
    assert wide.simulation_seconds == pytest.approx(max(tasks)) and wide.jobs == 4
    # the command's own work comes on top: start-up and plots, and starting the workers when there are several
    start = (calibration.MICROSECONDS["start"] + calibration.MICROSECONDS["plots"]) * 1e-6
    assert one.seconds > one.simulation_seconds + start
    assert wide.seconds - wide.simulation_seconds > one.seconds - one.simulation_seconds


#: the quick start, 20 seconds long: reads only, 5,000 a run
SHORT = {"duration": "20s", "warmup": "0s", "replications": 2}


@pytest.mark.parametrize("feature", [
    {"workload.writes.interval": "1ms"},
    {"cqrs.sync.strategy": "projection", "workload.writes.interval": "10ms"},
    {"workload.keys": {"count": 1000}, "workload.reads.clients": 20000,
     "workload.writes.read_back": {"probability": 1.0}, "workload.writes.interval": "10ms"},
    {"cqrs.replicas.failures": {"mtbf": "10ms", "mttr": "10ms"}, "cqrs.sync.replace_time": "10ms"},
    {"crud.failures": {"mtbf": "1ms", "mttr": "1ms"}},
    {"cqrs.autoscale": {"max": 12, "interval": "1ms"}},
    {"crud.replicas": 4, "crud.replication_stalls": {"every": "10ms", "duration": "10ms"}},
    {"workload.reads.timeout": "1s"},
], ids=["writes", "projections", "keys+clients+read-backs", "cqrs failures", "crud failures", "autoscale", "stalls",
        "timeouts"])
def test_each_kind_of_event_adds_to_the_run_time(feature):
    """The estimate counts every kind of event, not the reads alone: each feature, at a rate that gives it
    thousands of events, makes the estimate at least 20% longer than the same scenario without it."""
    plain = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", SHORT), 1)
    more = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**SHORT, **feature}), 1)
    assert more.simulation_seconds > 1.2 * plain.simulation_seconds
    assert more.seconds > plain.seconds


def test_writes_every_millisecond_cost_far_more_than_every_half_hour():
    rare = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**SHORT, "workload.writes.interval": "30m"}), 1)
    often = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**SHORT, "workload.writes.interval": "1ms"}), 1)
    assert often.simulation_seconds > 10 * rare.simulation_seconds
    assert dict(often.shares)["writes"] > 0.1 > 0.01 > dict(rare.shares)["writes"]


def test_memory_grows_with_what_is_kept_and_what_waits():
    """Full recording keeps every request; an overloaded read path and projections far behind keep reads and
    events waiting: each raises the memory estimate."""
    plain = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {"duration": "10m"}), 1)
    full = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {"duration": "10m", "record": "full"}), 1)
    assert full.memory_bytes > plain.memory_bytes + 200_000 * calibration.BYTES["kept request"]  # 6 × 50,000 more
    busy = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {"duration": "10m",
                                                                            "workload.reads.rate": "20000/s"}), 1)
    assert busy.memory_bytes > plain.memory_bytes
    behind = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "projections.yaml", {"workload.writes.rate": "100/s"}), 1)
    level = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "projections.yaml"), 1)
    assert behind.memory_bytes > level.memory_bytes
    two = estimate_run(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {"duration": "10m"}), 2)
    assert two.memory_bytes > plain.memory_bytes + calibration.BYTES["worker"]


def test_backlog_of_an_overloaded_read_path(scenario_from):
    """Reads at 2,000/s for 100 s on a database serving 16 / 4 ms = 4,000/s, then 6,000/s for 50 s: 2,000/s pile
    up for 50 s (100,000 reads), and drain at 2,000/s in the last 50 s."""
    scenario = scenario_from("""
        duration: 200s
        architectures: [crud]
        workload:
          reads: {rate: [[0s, 2000/s], [100s, 6000/s], [150s, 2000/s]], query_time: 4ms}
        crud: {connections: 16}
        handlers: {count: 100, concurrency: 100}
    """)
    assert read_capacity(scenario, "crud") == pytest.approx(4000)
    assert read_backlog(scenario, "crud") == pytest.approx(100_000)


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
