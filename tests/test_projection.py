"""Projections (``cqrs.sync.strategy: projection``): keys, warnings, the ``check`` estimate, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.analysis.analytic import offered_loads, projection_lag
from cqrs_sim.cli import app
from cqrs_sim.config.warnings import scenario_warnings

runner = CliRunner()

TEXT = """
duration: 120s
replications: 1
workload:
  reads:
    rate: 50/s
    query_time: {{dist: exponential, mean: 5ms}}
  writes:
    rate: {w}/s
    apply_time: {{dist: exponential, mean: 50ms}}
cqrs:
  replicas: {{count: 3}}
  sync: {sync}
"""


def make(scenario_from, sync="{strategy: projection, projection_time: {dist: exponential, mean: 0.5s}}", w=1):
    return scenario_from(TEXT.format(sync=sync, w=w))


def test_projection_time_defaults_to_a_constant_10ms(scenario_from):
    s = make(scenario_from, sync="{strategy: projection}")
    assert s.cqrs.sync.projection_time.mean == pytest.approx(0.01)
    assert s.cqrs.sync.projection_time.variance == 0


def test_projection_time_with_a_snapshot_strategy_is_ignored_with_a_warning(scenario_from):
    s = make(scenario_from, sync="{strategy: rolling, projection_time: 20ms}")
    assert scenario_warnings(s) == [
        "cqrs.sync.projection_time: only used with strategy: projection (strategy is rolling); ignored"]


def test_snapshot_keys_with_projection_are_ignored_with_a_warning(write_yaml):
    path = write_yaml(TEXT.format(w=1, sync="{strategy: projection, replace_time: 30s, batch_size: 2}"))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0
    assert "cqrs.sync.batch_size: only used by snapshot rollouts; ignored with strategy: projection" in result.stderr
    assert "cqrs.sync.replace_time: only used by snapshot rollouts; ignored with strategy: projection" in result.stderr


def test_no_warning_when_cqrs_is_not_simulated(scenario_from):
    s = scenario_from(TEXT.format(w=1, sync="{strategy: rolling, projection_time: 20ms}") + "architectures: [crud]\n")
    assert scenario_warnings(s) == []


def test_unknown_strategy_names_the_choices(write_yaml):
    path = write_yaml(TEXT.format(w=1, sync="{strategy: projections}"))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert "cqrs.sync.strategy" in result.stderr and "'projection'" in result.stderr
    assert "Traceback" not in result.output


def test_check_gives_the_mm1_lag_and_no_rollout_tiers(scenario_from):
    """Poisson writes at 1/s, exponential projection of mean 0.5 s: M/M/1 with μ − w = 1/s,
    mean lag 1 s and p99 ln(100) s; trigger_delay adds to both. A rebuild replaying H events
    while events keep arriving at w takes T = (H + w T) m, so T = H m / (1 − w m)."""
    s = make(scenario_from)
    mean, p99, how = projection_lag(s)
    assert mean == pytest.approx(1.0) and p99 == pytest.approx(math.log(100)) and "M/M/1" in how
    tiers = {t.tier: t for t in offered_loads(s) if t.architecture == "cqrs"}
    assert "rollouts" not in tiers and "replica pool in rollout" not in tiers
    projector = tiers["projector (each replica)"]
    assert projector.utilization == pytest.approx(0.5) and projector.warning is None
    assert "4.61s" in projector.estimate
    # a rebuild at the end replays H = 120 events while more arrive: H m / (1 − w m) = 120 s
    assert "replays about 120 writes in about 2min" in projector.estimate
    delayed = make(scenario_from, sync="{strategy: projection, trigger_delay: 2s, "
                                       "projection_time: {dist: exponential, mean: 0.5s}}")
    assert projection_lag(delayed)[:2] == pytest.approx((3.0, 2 + math.log(100)))


def test_check_warns_that_prefer_fresh_sends_reads_to_the_freshest_replica(scenario_from):
    """50 reads/s × 5 ms on one replica's 4 connections: utilisation 0.0625 while one replica is the freshest."""
    text = TEXT.format(w=1, sync="{strategy: projection}")
    s = scenario_from(text.replace("{count: 3}", "{count: 3, routing: prefer_fresh}"))
    (fresh,) = [t for t in offered_loads(s) if t.tier == "freshest replica"]
    assert fresh.capacity == 4 and fresh.utilization == pytest.approx(50 * 0.005 / 4)


def test_check_gives_the_mg1_mean_lag_for_constant_projections(scenario_from):
    """Constant projection 0.5 s, Poisson writes 1/s: M/D/1 wait ρ m / (2 (1 − ρ)) = 0.25 s, lag 0.75 s."""
    mean, p99, how = projection_lag(make(scenario_from, sync="{strategy: projection, projection_time: 0.5s}"))
    assert mean == pytest.approx(0.75) and p99 is None and "M/G/1" in how


def test_check_warns_when_projections_fall_behind(write_yaml):
    path = write_yaml(TEXT.format(w=3, sync="{strategy: projection, projection_time: 0.5s}"))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0
    assert "cqrs projector (each replica): utilisation 1.50 >= 1: each replica applies writes slower" in result.stderr


def test_projection_runs_are_reproducible_and_replicas_stay_in_the_pool(scenario_from):
    s = make(scenario_from)
    a = cqrs_sim.simulate(s).per_replication
    b = cqrs_sim.simulate(s).per_replication
    assert a.equals(b)
    cq = a[a.architecture == "cqrs"].iloc[0]
    assert cq.replica_availability == 1 and 0 < cq.stale_read_fraction < 1
    assert np.isfinite(cq.visibility_window_mean) and cq.first_visible_mean <= cq.visibility_window_mean


def test_replica_versions_plot_says_projections_swap_nothing(scenario_from):
    from cqrs_sim import plots

    results = cqrs_sim.simulate(make(scenario_from))
    fig = plots.replica_versions(results)
    ax = fig.axes[0]
    text = "\n".join(t.get_text() for t in ax.texts)
    assert "every replica stays in the pool and applies each write itself" in text
    assert len(fig.axes) == 1  # no colour bar of versions: none is swapped in
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"replica {r}" for r in range(3)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_stops_and_rebuilds_keep_the_visibility_consistent(scenario_from, seed):
    """Replicas stopped and rebuilt at random times, rebuilds overlapping: each version is first visible no
    earlier than its commit and fully visible no earlier than first; both only grow with the version; no read
    sees a version newer than the newest commit; every swap ends after it starts; and at the end every replica
    holds every write."""
    import simpy

    from cqrs_sim.model.cqrs import CqrsModel
    from cqrs_sim.workload.draws import ReadSource, write_workload

    s = make(scenario_from, w=2)
    env = simpy.Environment()
    model = CqrsModel(env, s, ReadSource(s, 0), write_workload(s, 0), 0)
    model.start_arrivals()
    rng = np.random.default_rng(seed)

    def chaos():
        for _ in range(12):
            yield env.timeout(float(rng.exponential(8.0)))
            r = int(rng.integers(3))
            if rng.random() < 0.3:
                model.rollouts.stop(r)
            else:
                model.rollouts.rebuild(r)
        for r in range(3):
            model.rollouts.rebuild(r)

    env.process(chaos())
    env.run()
    record = model.record()
    commit, first, every = record.commit_time, record.first_visible, record.all_visible
    assert np.isfinite(every).all()
    assert (first >= commit - 1e-12).all() and (every >= first - 1e-12).all()
    assert (np.diff(first) >= 0).all() and (np.diff(every) >= 0).all()
    assert (record.reads["version_seen"] <= record.reads["version_latest"]).all()
    assert len(record.swaps["out"]) >= 3 and (record.swaps["back"] >= record.swaps["out"]).all()
    assert model.replicas.version == [model.commits] * 3 and sorted(model.replicas.pool) == [0, 1, 2]
