"""Writes that vary over time (rate steps, a diurnal shape, bursts) and every way writes arrive with every
sync strategy: each runs and `check` estimates it."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.config.expected import peak_write_rate, write_rate
from cqrs_sim.cli import app
from cqrs_sim.workload.draws import write_workload

BASE = """
duration: 600s
warmup: 0s
replications: 1
workload:
  reads: {{rate: 5/s, query_time: 2ms}}
  writes:
    {arrivals}
    apply_time: 10ms
cqrs:
  replicas: {{count: 2}}
  sync: {{strategy: {strategy}, replace_time: 1s}}
"""

ARRIVALS = {
    "interval": "interval: 20s",
    "rate": "rate: 0.05/s",
    "steps": "rate: [[0s, 0.02/s], [5m, 0.2/s]]",
    "diurnal": "rate: {diurnal: {mean: 0.1/s, amplitude: 0.5, period: 10m}}",
    "at": "at: [10s, 20s, 5m]",
    "trace": "trace: {file: writes.csv}",
    "bursts": "rate: 0.01/s\n    bursts: [{at: 2m, duration: 1m, rate: 1/s}]",
}
STRATEGIES = ("rolling", "all_at_once", "blue_green", "projection")


def scenario_text(arrivals: str, strategy: str) -> str:
    return BASE.format(arrivals=ARRIVALS[arrivals], strategy=strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("arrivals", sorted(ARRIVALS))
def test_every_write_arrival_kind_runs_and_is_estimated_with_every_sync_strategy(tmp_path, arrivals, strategy):
    (tmp_path / "writes.csv").write_text("time\n1\n2.5\n40\n300\n", encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(arrivals, strategy), encoding="utf-8")
    checked = CliRunner().invoke(app, ["check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "Traceback" not in checked.output
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(path, {"duration": "5m"}))
    writes = results.writes
    assert len(writes) > 0 and writes.commit.notna().all()


def test_write_rate_steps_draw_each_steps_rate(scenario_from):
    """Steps 0.02/s for 5 minutes then 0.2/s: Poisson counts of mean 6 and 60 (over 20 replications: 120 and
    1,200, within 4 standard deviations); the estimate's mean rate is (6 + 60) / 600 = 0.11/s, its peak 0.2/s."""
    scenario = scenario_from(scenario_text("steps", "rolling"))
    first = sum(int((write_workload(scenario, r).arrival < 300).sum()) for r in range(20))
    second = sum(int((write_workload(scenario, r).arrival >= 300).sum()) for r in range(20))
    assert abs(first - 120) < 4 * np.sqrt(120) and abs(second - 1200) < 4 * np.sqrt(1200)
    assert write_rate(scenario) == pytest.approx(0.11, rel=1e-3)
    assert peak_write_rate(scenario) == pytest.approx(0.2)


def test_a_burst_adds_its_writes_in_its_window_only(scenario_from):
    """A burst of 1/s over [2m, 3m) on top of 0.01/s: 60 + 0.6 writes expected in the window, 5.4 outside, per
    replication (over 20: 1,212 and 108); the mean rate (6 + 60) / 600 = 0.11/s, the peak 1.01/s."""
    scenario = scenario_from(scenario_text("bursts", "rolling"))
    inside = outside = 0
    for r in range(20):
        arrival = write_workload(scenario, r).arrival
        assert (np.diff(arrival) >= 0).all()
        window = (arrival >= 120) & (arrival < 180)
        inside += int(window.sum())
        outside += int((~window).sum())
    assert abs(inside - 1212) < 4 * np.sqrt(1212) and abs(outside - 108) < 4 * np.sqrt(108)
    assert write_rate(scenario) == pytest.approx(0.11, rel=1e-3)
    assert peak_write_rate(scenario) == pytest.approx(1.01)


def test_a_burst_repeats_every_period(scenario_from):
    text = scenario_text("rate", "rolling").replace("rate: 0.05/s", "rate: 0.05/s\n    bursts: [{at: 1m, every: 4m, duration: 30s, rate: 2/s}]")
    from cqrs_sim.config.expected import burst_windows

    assert burst_windows(scenario_from(text)) == [(60.0, 90.0, 2.0), (300.0, 330.0, 2.0), (540.0, 570.0, 2.0)]


def test_check_warns_of_a_burst_that_overloads_the_write_servers(tmp_path):
    """A burst at 200/s of 10 ms writes keeps one write server 2× busy while it lasts, though the mean is low."""
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text("rate", "rolling").replace(
        "rate: 0.05/s", "rate: 0.05/s\n    bursts: [{at: 1m, duration: 10s, rate: 200/s}]"), encoding="utf-8")
    checked = CliRunner().invoke(app, ["check", str(path)])
    assert "write servers: utilisation 2.00 >= 1 during the busiest write rate" in checked.output, checked.output


def test_steps_with_a_burst_count_the_burst_once(scenario_from):
    """Steps of 0.01/s over the whole run and a burst of 1/s over [2m, 3m): 0.01 + 60 / 600 = 0.11/s, as the same
    rate written as one number gives (the burst counted once, not in the steps' average and again on top)."""
    plain = scenario_from(scenario_text("bursts", "rolling"))
    text = scenario_text("bursts", "rolling").replace("rate: 0.01/s", "rate: [[0s, 0.01/s]]")
    assert text != scenario_text("bursts", "rolling")
    steps = scenario_from(text)
    assert write_rate(plain) == pytest.approx(0.11, rel=1e-3)
    assert write_rate(steps) == pytest.approx(0.11, rel=1e-3)
    assert peak_write_rate(steps) == pytest.approx(1.01)
