"""The elastic read pool: its keys and their errors, a pool that cannot change, the autoscale table and its plot.

The autoscaler's decisions themselves are validated against hand-derived
timelines in tests/validation/test_autoscale.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim import plots
from cqrs_sim.cli import app

from .conftest import SCENARIOS

STEP = """\
duration: 8m
warmup: 0s
replications: 1
record: full
workload:
  reads:
    rate: [[0s, 200/s], [150s, 350/s]]
    process: uniform
    query_time: 20ms
handlers: {count: 1, concurrency: 10000}
crud:
  replicas: 2
  replica_connections: 4
  replica_routing: round_robin
  replica_autoscale: {min: 1, max: 6, target_utilization: 0.5, tolerance: 0, provision_time: 30s}
cqrs:
  replicas: {count: 2, connections: 4, routing: round_robin}
  autoscale: {min: 1, max: 6, target_utilization: 0.5, tolerance: 0, provision_time: 30s}
"""


@pytest.fixture(scope="module")
def step(tmp_path_factory):
    path = tmp_path_factory.mktemp("step") / "step.yaml"
    path.write_text(STEP, encoding="utf-8")
    return cqrs_sim.simulate(cqrs_sim.load_scenario(path))


@pytest.mark.parametrize("set_, path, words", [
    ("cqrs.autoscale={min: 5, max: 3}", "cqrs.autoscale", "min (5) must not exceed max (3)"),
    ("cqrs.autoscale={min: 1, max: 4}", "cqrs.autoscale", "cqrs.replicas.count (8), the count it starts with, must lie in [min, max] = [1, 4]"),
    ("crud.replica_autoscale={max: 4}", "crud.replica_autoscale", "crud.replicas (0), the count it starts with"),
    ("cqrs.autoscale={max: 20, target_utilization: 1.5}", "cqrs.autoscale.target_utilization", "less than or equal to 1"),
    ("cqrs.autoscale={max: 20, interval: 0s}", "cqrs.autoscale.interval", "greater than 0"),
    ("cqrs.autoscale={min: 1}", "cqrs.autoscale.max", "required key is missing"),
    ("cqrs.autoscale={max: 20000}", "cqrs.autoscale.max", "exceeds limits.max_replicas"),
])
def test_bad_autoscale_settings_are_one_located_line(set_, path, words, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "--no-plots",
                                      "--set", set_])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: --set {set_}: {path}: ") and words in lines[0], lines[0]
    assert "Traceback" not in result.output and not out.exists()


def test_a_pool_that_cannot_change_serves_every_read_as_the_fixed_pool():
    """min = max = count: the autoscaler measures but can never act, so CQRS (whose routing already reads the
    live pool) serves every read exactly as with a fixed pool, rollouts included, at the same instance cost."""
    overrides = {"duration": "4m", "warmup": "20s", "replications": 1, "record": "full", "architectures": ["cqrs"],
                 "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"},
                 "workload.writes.apply_time": "20s", "cqrs.sync.replace_time": "20s"}
    fixed = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", overrides))
    frozen = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {
        **overrides, "cqrs.autoscale": {"min": 8, "max": 8, "interval": "30s"}}))
    assert len(fixed.replicas) > 0  # rollouts ran
    pd.testing.assert_frame_equal(fixed.requests, frozen.requests)
    pd.testing.assert_frame_equal(fixed.replicas, frozen.replicas)
    a, b = fixed.summary().set_index("metric")["mean"], frozen.summary().set_index("metric")["mean"]
    for name in ("replica_seconds", "replica_availability", "db_utilization", "read_latency_p99", "stale_read_fraction"):
        assert b[name] == pytest.approx(a[name], rel=1e-12), name
    assert fixed.autoscale.empty and len(frozen.autoscale) == 8 and (frozen.autoscale.change == 0).all()


def test_the_autoscale_table_is_saved_and_loaded(step, tmp_path):
    out = step.save(tmp_path / "out")
    loaded = cqrs_sim.load_results(out)
    pd.testing.assert_frame_equal(loaded.autoscale, step.autoscale)
    assert list(step.autoscale.columns) == ["architecture", "replication", "t", "replicas_in_pool", "provisioning",
                                            "utilization", "desired", "change"]
    assert set(step.autoscale.architecture) == {"crud", "cqrs"}


def test_the_autoscaling_plot_draws_the_decisions_and_utilization(step):
    assert "autoscaling" in plots.available(step)
    fig = plots.autoscaling(step)
    assert isinstance(fig, Figure) and fig._suptitle.get_text().startswith("step: elastic read pool")
    pool, util = fig.axes[0], fig.axes[1]
    ups = [line for line in pool.lines if line.get_marker() == "^"]
    cqrs = step.autoscale[step.autoscale.architecture == "cqrs"]
    moved = cqrs[cqrs.change > 0]
    assert len(ups) == 2  # one marker series per architecture
    for line in ups:
        np.testing.assert_allclose(line.get_xdata(), moved.t / 60)  # minutes: the run is 8 min long
        np.testing.assert_array_equal(line.get_ydata(), moved.desired)
    labels = [t.get_text() for t in pool.texts]
    assert labels.count("+1") == 4
    steps = [line for line in util.lines if len(line.get_xdata()) == len(cqrs) + 1]
    assert steps and np.allclose(steps[-1].get_ydata()[1:], cqrs.utilization)
    targets = [line for line in util.lines if list(line.get_ydata()) == [0.5, 0.5]]
    assert len(targets) == 2


def test_no_autoscaler_no_autoscaling_plot_but_it_says_why(tmp_path):
    scenario = cqrs_sim.load_scenario(SCENARIOS / "mmc.yaml", {"duration": "20s", "warmup": "2s", "replications": 1})
    results = cqrs_sim.simulate(scenario)
    assert results.autoscale.empty and "autoscaling" not in plots.available(results)
    fig = plots.autoscaling(results)
    assert "no autoscaler in this scenario" in " ".join(t.get_text() for t in fig.axes[0].texts)


def test_the_rule_and_what_check_shows(step):
    """desired = ceil(busy / (connections × target)) clamped to [min, max], exact at the target; check shows an
    autoscaled pool at that count for the mean rate: (150 s × 200/s + 330 s × 350/s) / 480 s = 303.125/s,
    × 20 ms = 6.0625 busy connections, ceil(6.0625 / 2) = 4 replicas of 4 connections."""
    from cqrs_sim.analysis.analytic import offered_loads

    auto = step.scenario.cqrs.autoscale
    assert [auto.desired(busy, 4) for busy in (0.0, 2.0, 2.0 * (1 + 1e-12), 2.01, 4.0, 100.0)] == [1, 1, 1, 2, 2, 6]
    pools = {(t.architecture, t.tier): t for t in offered_loads(step.scenario)}
    assert pools[("cqrs", "replica pool")].capacity == 16 and pools[("crud", "read replicas")].capacity == 16
    assert "4 replicas, the autoscaler's count at the mean rate" in pools[("cqrs", "replica pool")].estimate


def test_autoscale_with_projections_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["check", str(SCENARIOS / "netflix.yaml"), "--set", "cqrs.autoscale={max: 12}",
                                      "--set", "cqrs.sync.strategy=projection"])
    assert result.exit_code == 2, result.output
    assert "cqrs.autoscale: works with snapshot rollouts only" in result.stderr
