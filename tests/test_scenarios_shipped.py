"""Every shipped scenario runs (shortened where needed), and shows what its comments promise."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.analysis.analytic import offered_loads
from cqrs_sim.cli import app

from .conftest import SCENARIOS

SHORTEN = {
    "netflix.yaml": {"duration": "5m", "warmup": "30s", "replications": 1,
                     "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"}},
    "flash_crowd.yaml": {"replications": 1, "workload.writes.at": ["4m"],
                         "workload.reads.rate": [["0s", "300/s"], ["3m", "3000/s"], ["5m", "300/s"]], "duration": "6m"},
    "write_heavy.yaml": {"duration": "12m", "replications": 1},
    "mmc.yaml": {"duration": "1m", "replications": 1},
    "diurnal.yaml": {"duration": "20m", "replications": 1, "workload.reads.rate.diurnal.period": "10m",
                     "workload.writes.interval": "4m", "warmup": "1m"},
    "alternatives.yaml": {"duration": "8m", "replications": 1, "warmup": "30s",
                          "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"}},
    "fresh_reads.yaml": {"duration": "16m", "replications": 1, "workload.writes.interval": "5m", "warmup": "30s",
                         "workload.writes.apply_time": "20s"},
    "replica_failure.yaml": {"replications": 1, "duration": "14m", "workload.writes.at": ["11m", "13m"],
                             "workload.reads.rate": [["0s", "30/s"], ["10m", "300/s"]]},
    "testbed_crud.yaml": {},  # made to run in real time: short already
    "testbed_cqrs.yaml": {},
    "testbed_replicas.yaml": {},
    "priced.yaml": {"duration": "6m", "replications": 1, "warmup": "30s"},
    "projections.yaml": {"duration": "6m", "replications": 1, "warmup": "30s"},
    # a 16-minute cycle at half the rate with twice the query time: the same busy connections, half the reads
    "autoscale.yaml": {"duration": "16m", "warmup": "1m", "replications": 1, "workload.reads.rate.diurnal.period": "16m",
                       "workload.reads.rate.diurnal.peak": "8m", "workload.reads.rate.diurnal.mean": "750/s",
                       "workload.reads.query_time": {"dist": "lognormal", "mean": "12ms", "cv": 1.0},
                       "workload.writes.interval": "4m", "crud.replica_autoscale.provision_time": "1m",
                       "crud.replica_autoscale.scale_in_cooldown": "2m", "cqrs.autoscale.scale_in_cooldown": "2m"},
    "sessions.yaml": {"duration": "10m", "replications": 1, "warmup": "1m"},
    "catalogue.yaml": {"duration": "8m", "warmup": "30s", "replications": 2,
                       "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"}},
    "when_to_avoid.yaml": {"duration": "4m", "warmup": "30s", "replications": 2},
    "failure_at_peak.yaml": {"replications": 1},
}


def test_every_shipped_scenario_is_covered():
    assert {p.name for p in SCENARIOS.glob("*.yaml")} == set(SHORTEN)


@pytest.mark.parametrize("name", sorted(SHORTEN))
def test_shipped_scenario_runs(name):
    scenario = cqrs_sim.load_scenario(SCENARIOS / name, SHORTEN[name])
    results = cqrs_sim.simulate(scenario)
    summary = results.summary().set_index(["architecture", "metric"])["mean"]
    for arch in scenario.architectures:
        assert summary[(arch, "reads_completed")] > 0
        assert summary[(arch, "read_latency_p50")] > 0


def test_netflix_crud_is_blocked_by_uploads_and_cqrs_is_not():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", SHORTEN["netflix.yaml"])
    s = cqrs_sim.simulate(scenario).summary().set_index(["architecture", "metric"])["mean"]
    assert s[("crud", "read_latency_p99")] > 10  # a read behind a minutes-long upload waits seconds
    assert s[("cqrs", "read_latency_p99")] < 0.1
    assert s[("cqrs", "stale_read_fraction")] > 0 and s[("crud", "stale_read_fraction")] == 0


def test_write_heavy_check_warns_and_rollouts_never_rest():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "write_heavy.yaml", SHORTEN["write_heavy.yaml"])
    warnings = [t.warning for t in offered_loads(scenario) if t.warning]
    assert any("rollouts" in w and "duty cycle" in w for w in warnings)
    result = CliRunner().invoke(app, ["check", str(SCENARIOS / "write_heavy.yaml")])
    assert result.exit_code == 0 and "duty cycle" in result.stderr

    results = cqrs_sim.simulate(scenario)
    swaps = results.replicas.sort_values("out")
    # back to back: each swap after the first starts the instant the previous one ends
    gaps = swaps.out.to_numpy()[1:] - swaps.back.to_numpy()[:-1]
    assert (abs(gaps) < 1.0).mean() > 0.95
    s = results.summary().set_index(["architecture", "metric"])["mean"]
    assert s[("cqrs", "stale_read_fraction")] > 0.5
    assert s[("cqrs", "visibility_window_mean")] > 160  # longer than one whole rollout
    # the visibility window does not run away: writes ship in batches, bounded by about two rollouts
    assert s[("cqrs", "visibility_window_max")] < 3 * 8 * 20 + 60


def test_flash_crowd_steps_reach_the_arrivals():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "flash_crowd.yaml", SHORTEN["flash_crowd.yaml"])
    results = cqrs_sim.simulate(scenario)
    ts = results.timeseries[results.timeseries.architecture == "cqrs"]
    width = scenario.bin_width
    before = ts[ts.t < 170].reads_completed.mean() / width
    during = ts[(ts.t > 190) & (ts.t < 290)].reads_completed.mean() / width
    assert before == pytest.approx(300, rel=0.1)
    assert during == pytest.approx(3000, rel=0.1)


def test_fresh_reads_confines_staleness_to_before_first_visible():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "fresh_reads.yaml", SHORTEN["fresh_reads.yaml"])
    fresh = cqrs_sim.simulate(scenario).summary().set_index("metric")["mean"]
    plain = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "fresh_reads.yaml", {
        **SHORTEN["fresh_reads.yaml"], "cqrs.replicas.routing": "least_outstanding"})).summary().set_index("metric")["mean"]
    assert fresh["stale_read_fraction"] < plain["stale_read_fraction"] / 3
    assert fresh["staleness_max"] < fresh["first_visible_mean"] * 3
    warnings = [t.tier for t in offered_loads(scenario)]
    assert "fresh replicas early in a rollout" in warnings


def test_replica_failure_strikes_at_the_peak_during_a_rollout():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "replica_failure.yaml", SHORTEN["replica_failure.yaml"])
    results = cqrs_sim.simulate(scenario)
    out = results.replicas
    cqrs, crud = out[out.architecture == "cqrs"], out[out.architecture == "crud"]
    down = cqrs.back - cqrs.out
    failures, swaps = cqrs[down > 100], cqrs[down < 100]  # a failure: down 2m, then 15 s to load a snapshot
    at_peak = failures[failures.out >= 600]
    assert len(at_peak) == 1
    failed_at = at_peak.out.iloc[0]
    assert ((swaps.out < failed_at) & (swaps.back > failed_at)).sum() == 1  # another replica was out for its swap
    assert ((crud.out >= 600) & (abs(crud.back - crud.out - 120) < 1e-9)).sum() == 1  # the database, at the peak
    s = results.summary().set_index(["architecture", "metric"])["mean"]
    assert s[("crud", "read_availability")] < 0.95 < s[("cqrs", "read_availability")]
    assert s[("cqrs", "replica_availability")] < 1


def test_autoscale_follows_the_cycle_and_pays_for_what_it_runs():
    """Both pools grow from 2 replicas towards the peak's 6 (1200/s × 12 ms = 14.4 busy connections; 4 per
    replica at 60%) and shrink again after it; replica_seconds counts at least the replicas in the pool, and
    cost_per_hour prices every one of its instance-seconds."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "autoscale.yaml", SHORTEN["autoscale.yaml"])
    results = cqrs_sim.simulate(scenario)
    s = results.summary().set_index(["architecture", "metric"])["mean"]
    window = scenario.duration - scenario.warmup
    for arch in ("crud", "cqrs"):
        decisions = results.autoscale[results.autoscale.architecture == arch]
        assert (decisions.change > 0).any() and (decisions.change < 0).any()
        assert decisions.replicas_in_pool.max() >= 5 and decisions.replicas_in_pool.iloc[0] == 2
        ts = results.timeseries[results.timeseries.architecture == arch]
        replicas = float((ts.replicas_in_pool * scenario.bin_width)[ts.t >= scenario.warmup].sum())
        # in-pool replica-seconds ≤ instance-seconds (which add provisioning, and for cqrs swaps and surges)
        assert replicas <= s[(arch, "replica_seconds")] - window + 1e-6
        assert 2 * window < s[(arch, "replica_seconds")] - window < 6 * window
        # the price: the write instance at 1.00/h, every replica instance-second (autoscaled ones too) at 0.50/h
        replica_hours_per_hour = (s[(arch, "replica_seconds")] - window) / window
        assert s[(arch, "cost_per_hour")] == pytest.approx(1.0 + 0.5 * replica_hours_per_hour, rel=1e-12)


def test_priced_scenario_costs_what_its_prices_say():
    """CRUD: the database alone, 2.00 per hour. CQRS: write image 2.00 + 3 replicas × 0.50 + a 200 GB snapshot at
    0.0001 per GB-hour = 3.52 per hour (rolling without surge builds nothing beside the replicas)."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "priced.yaml", SHORTEN["priced.yaml"])
    s = cqrs_sim.simulate(scenario).summary().set_index(["architecture", "metric"])["mean"]
    assert s[("crud", "cost_per_hour")] == pytest.approx(2.0, abs=1e-12)
    assert s[("cqrs", "cost_per_hour")] == pytest.approx(3.52, abs=1e-12)
    assert s[("crud", "read_latency_p99")] > 1  # a read behind a 20 s update waits seconds


def test_projections_keep_every_replica_in_the_pool_a_second_behind():
    """The file's promises: replicas never leave the pool; each projector is busy 60% of the time, so about 60%
    of reads find their replica still projecting, stale by about a second; check gives the M/M/1 lag."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "projections.yaml", SHORTEN["projections.yaml"])
    (projector,) = [t for t in offered_loads(scenario) if t.tier == "projector (each replica)"]
    assert projector.utilization == pytest.approx(0.6)
    assert "750ms after its commit" in projector.estimate and "3.45s" in projector.estimate
    s = cqrs_sim.simulate(scenario).summary().set_index(["architecture", "metric"])["mean"]
    assert s[("cqrs", "replica_availability")] == 1
    assert 0.45 < s[("cqrs", "stale_read_fraction")] < 0.75
    assert s[("cqrs", "staleness_mean")] < 1.5 and s[("cqrs", "visibility_t99")] < 8
    assert s[("crud", "stale_read_fraction")] == 0
    assert s[("cqrs", "read_latency_p99")] < s[("crud", "read_latency_p99")]


def test_sessions_stale_by_key_is_rarer_and_sticky_clients_never_go_back():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "sessions.yaml", SHORTEN["sessions.yaml"])
    s = cqrs_sim.simulate(scenario).summary().set_index(["architecture", "metric"])["mean"]
    for arch in ("crud", "cqrs"):  # a read of a replica one version behind is rarely stale for the title it reads
        assert 0 < s[(arch, "stale_read_fraction")] < s[(arch, "stale_version_fraction")] / 5
    assert s[("cqrs", "monotonic_read_violations")] == 0  # sticky routing, one replica swapped at a time
    assert s[("crud", "monotonic_read_violations")] > 0  # replicas drifting apart, reads to any of them


def _decided(name):
    from cqrs_sim.analysis.verdict import decision

    scenario = cqrs_sim.load_scenario(SCENARIOS / name, SHORTEN[name])
    results = cqrs_sim.simulate(scenario)
    summary = results.summary()
    return summary.set_index(["architecture", "metric"])["mean"], decision(summary, results.differences(), (), scenario)


def test_catalogue_is_where_cqrs_wins_and_says_why():
    """The file's promises: reads never wait for an upload and cost a sixth; a read is stale only when it asks for
    the newest title on a replica the rollout has not reached, far fewer than the reads of a replica that is behind."""
    s, text = _decided("catalogue.yaml")
    assert s[("cqrs", "read_latency_p99")] < 0.05 < 10 < s[("crud", "read_latency_p99")]
    assert s[("crud", "read_latency_p50")] > 4 * s[("cqrs", "read_latency_p50")]  # 12 ms joins against a 2 ms view
    assert 0 < s[("cqrs", "stale_read_fraction")] < s[("cqrs", "stale_version_fraction")] / 5
    assert text.startswith("CQRS buys lower read latency")
    assert "CQRS reads are 6.0× cheaper on the read model" in text
    assert "of CQRS reads were stale for the key they read" in text


def test_when_to_avoid_is_where_cqrs_loses():
    """The file's promises: writers miss their own writes and reads of a cart just changed come back old under
    CQRS, CRUD serves every read from the newest data, and CQRS reads are no faster."""
    s, text = _decided("when_to_avoid.yaml")
    assert s[("crud", "stale_read_fraction")] == 0 and s[("crud", "read_your_writes_violations")] == 0
    assert s[("cqrs", "read_your_writes_violations")] > 0.9
    assert s[("cqrs", "stale_read_fraction")] > 0.02
    assert abs(s[("cqrs", "read_latency_p99")] / s[("crud", "read_latency_p99")] - 1) < 0.1
    assert text.startswith("CRUD wins on everything that differs significantly")


def test_failure_at_peak_crud_stays_down_without_a_retry_budget_and_recovers_with_one():
    """The promise of failure_at_peak.yaml's comments: the scheduled replica failure leaves CRUD in a
    metastable state (still failing reads after the repair) and CQRS unaffected; with a retry budget of 10%
    CRUD is back to its pre-failure level within verdict.metastable_after (2 minutes) of the repair."""
    from cqrs_sim.analysis.outages import outage_lines

    for ratio, crud_metastable in ((None, True), (0.1, False)):
        overrides = dict(SHORTEN["failure_at_peak.yaml"])
        if ratio is not None:
            overrides["workload.reads.retry_budget.ratio"] = ratio
        results = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "failure_at_peak.yaml", overrides))
        outages = results.outages.set_index("architecture")
        assert bool(outages.loc["crud", "metastable"]) is crud_metastable
        assert not bool(outages.loc["cqrs", "metastable"]) and outages.loc["cqrs", "reads_failed"] == 0
        crud_line = [line for line in outage_lines(results) if line.startswith("crud.replicas.0 down 3min–4min")]
        assert len(crud_line) == 1 and ("metastable" in crud_line[0]) is crud_metastable
