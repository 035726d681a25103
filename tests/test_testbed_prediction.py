"""Prediction against a real PostgreSQL: the model fed with measured parts predicts what the whole does.

Validation against a real database, not a pin. For each shipped testbed
scenario: measure its parts at low load (``calibrate``), play the workload
at full load with real service times and real copies (``run_testbed``: no
padding, no compensation), fit the parts again from what the run itself
measured (``from_run``, as PBS fed its model with each component's measured
latency), simulate both fitted scenarios, and put each prediction beside the
measurement. A prediction is the model's expectation over its own copy times
(``cqrs_sim.testbed.predict.expected``: the same arrivals, the copy times
drawn 8 times), not one draw of them. The prediction from the run's own
parts must meet the targets of ``cqrs_sim.experiments.compare.TARGETS``
(each time widened only by the client's timer lateness the run measured; a
staleness or visibility mean, which rests on a few dozen rollouts, may
instead lie inside the 95% interval of its paired differences:
``cqrs_sim.testbed.predict.paired_half_width``); the one from the low-load
calibration is reported beside it, with how far each part moved between low
and full load.
The negative controls (``cqrs_sim.testbed.predict.CONTROLS``: a lock the
testbed takes left out, a copy time halved, a rule the testbed does not
follow…) must each be rejected, and the smallest error the comparison
detects in each part is reported. Skipped only where PostgreSQL cannot
start at all.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.testbed import run_testbed
from cqrs_sim.testbed.calibrate import CALIBRATED_KEYS, calibrate, from_run, is_fitted_file
from cqrs_sim.testbed.predict import (CONTROLS, POWER_KEYS, design_of, disagreements, expected, negative_controls,
                                      prediction_table, smallest_detected)

from .conftest import SCENARIOS
from .test_testbed import postgres_available  # noqa: F401  (the fixture: PostgreSQL starts here, or skip)

pytestmark = pytest.mark.testbed
runner = CliRunner()
SHIPPED = sorted(path.name for path in SCENARIOS.glob("testbed_*.yaml"))
JUDGED = ["architecture", "metric", "a", "b", "relative", "target", "sampling", "within", "agrees"]
SESSIONS = ["stale_read_fraction", "stale_version_fraction", "read_your_writes_violations", "monotonic_read_violations"]


def _load() -> tuple[float, float, float]:
    import os

    return tuple(round(x, 2) for x in os.getloadavg())


@pytest.mark.parametrize("name", SHIPPED)
def test_measured_parts_predict_the_real_database(postgres_available, name):
    """Validation against PostgreSQL: the prediction from the parts the run measured meets the targets; every
    negative control of the scenario's designs is rejected; the low-load calibration's prediction is reported."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / name)
    load_before = _load()
    calibration = calibrate(scenario, source=str(SCENARIOS / name))
    measured = run_testbed(scenario, source=str(SCENARIOS / name))
    load_after = _load()
    in_run = from_run(measured)
    lateness = measured.manifest["testbed"]["timer_lateness_s"]
    tables = {label: prediction_table(expected(fitted), measured)
              for label, fitted in (("from the run's parts", in_run.fitted), ("from the calibration", calibration.fitted))}
    moved = {f"{p.architecture} {p.name}": (round(float(c.values.mean()), 4), round(float(p.values.mean()), 4))
             for c in calibration.parts for p in in_run.parts if (c.architecture, c.name) == (p.architecture, p.name)}
    print(f"\n{name}: load average {load_before} -> {load_after}; client timer lateness {lateness}\n"
          f"part means (s), calibration -> run: {moved}")
    for label, table in tables.items():
        print(f"prediction {label}:\n{table.loc[table['within'].notna(), JUDGED].to_string()}")
    sessions = _sessions(tables["from the run's parts"])
    print(f"sessions, prediction from the run's parts vs measured:\n{sessions.to_string()}")
    assert disagreements(tables["from the run's parts"]) == [], (name, lateness, moved)
    checked = set(tables["from the run's parts"].dropna(subset=["within"])["metric"])
    assert {"read_latency_mean", "read_latency_p99"} <= checked
    if "cqrs" in scenario.architectures or scenario.crud.replicas:
        assert {"stale_read_fraction", "first_visible_mean", "visibility_window_mean"} <= checked
        rows = tables["from the run's parts"].set_index("metric")
        assert rows.loc["stale_read_fraction", "b"] > 0.02  # replicas really served old versions
    assert {(p.architecture, p.name) for p in in_run.parts} == {(p.architecture, p.name) for p in calibration.parts}
    for metric, row in sessions.loc[["read_your_writes_violations", "monotonic_read_violations"]].iterrows():
        if np.isfinite(row["a"]) or np.isfinite(row["b"]):  # no agreement target: a few dozen read-backs; 10 points
            assert abs(row["a"] - row["b"]) <= 0.1, (metric, row.to_dict())
    assert all(len(p.values) >= 10 for p in calibration.parts)

    controls = negative_controls(in_run.fitted, measured)
    for control, failures in controls:
        print(f"negative control {control.label}: {len(failures)} target(s) missed: {failures}")
    assert len(controls) == sum(len(CONTROLS[design_of(scenario, arch)]) for arch in scenario.architectures) > 0
    assert all(failures for _, failures in controls), [c.label for c, f in controls if not f]
    for arch in scenario.architectures:
        for key in POWER_KEYS[design_of(scenario, arch)]:
            power = smallest_detected(in_run.fitted, measured, key)
            print(f"smallest error detected in {key}: x{power['above']} above, x{power['below']} below")
            assert power["above"] is not None or power["below"] is not None, key


def _sessions(table):
    """Staleness by key and the session guarantees, predicted (a) against measured (b): reported beside the targets."""
    rows = table.set_index("metric").reindex(SESSIONS)
    return rows[["a", "b"]].astype(float)


def test_fitted_scenario_sets_only_the_calibrated_keys(postgres_available, tmp_path):
    """`testbed --calibrate` writes a scenario that differs from the given one only in the calibrated keys (and
    its name and description), which `run` reads back, and which `compare` judges against a testbed run."""
    from cqrs_sim.experiments.compare import scenario_difference

    scenario_file = str(SCENARIOS / "testbed_cqrs.yaml")
    sets = ["--set", "duration=4s", "--set", "replications=1", "--set", "workload.writes={at: [1s], apply_time: 100ms}"]
    fitted = tmp_path / "fitted.yaml"
    result = runner.invoke(app, ["testbed", scenario_file, "--calibrate", "-o", str(fitted), *sets])
    assert result.exit_code == 0, result.output
    assert is_fitted_file(fitted) and "cqrs.sync.replace_time" in result.output
    again = runner.invoke(app, ["testbed", scenario_file, "--calibrate", "-o", str(fitted), *sets])
    assert again.exit_code == 2 and "--force" in again.output  # never replaced without --force
    predicted = runner.invoke(app, ["run", str(fitted), "-o", str(tmp_path / "pred"), "--no-plots", "-j", "1"])
    assert predicted.exit_code == 0, predicted.output
    tb = runner.invoke(app, ["testbed", scenario_file, "-o", str(tmp_path / "tb"), "--no-plots", *sets])
    assert tb.exit_code == 0, tb.output
    a, b = cqrs_sim.load_results(tmp_path / "pred"), cqrs_sim.load_results(tmp_path / "tb")
    difference = scenario_difference(a, b)
    keys = {key for key, _, _ in difference.keys}
    assert difference.calibrated and not difference.same_model
    parts = set(CALIBRATED_KEYS.values())
    changed = keys - {"name", "description"}
    assert changed and all(any(k == p or k.startswith(p + ".") for p in parts) for k in changed), changed
    shown = runner.invoke(app, ["compare", str(tmp_path / "pred"), str(tmp_path / "tb")])
    assert shown.exit_code == 0, shown.output
    assert "prediction from measured parts" in shown.output and ("ok" in shown.output or "MISSED" in shown.output)

def test_only_differences_in_calibrated_parts_are_judged_as_a_prediction():
    """A difference in a calibrated part (beside noise keys) is a prediction; any other key, or a data file, is not."""
    from cqrs_sim.experiments.compare import ScenarioDifference

    hashes = ("a" * 64, "b" * 64)
    part = ("cqrs.sync.replace_time.mean", 0.2, 0.3)
    assert ScenarioDifference(hashes, [part, ("name", "x", "x_fitted")], []).calibrated
    assert ScenarioDifference(hashes, [("crud.query_time", None, {"dist": "gamma"})], []).calibrated
    assert not ScenarioDifference(hashes, [part, ("handlers.count", 2, 3)], []).calibrated
    assert not ScenarioDifference(hashes, [part], ["workload.reads.trace"]).calibrated
    assert not ScenarioDifference(hashes, [("seed", 1, 2)], []).calibrated  # the same model: noise, not a prediction
    assert not ScenarioDifference(hashes, [("cqrs.sync.replace_time_x", 1, 2)], []).calibrated


def test_calibration_sleeps_stand_for_the_distribution_without_sampling_error():
    """The calibration's sleeps are the distribution's quantiles at the middles of equal strata: their mean is the
    distribution's within the strata's own error, far inside a random sample's (5% at n = 100, cv 0.5)."""
    from cqrs_sim.config.parametric import Lognormal
    from cqrs_sim.workload.streams import stream
    from cqrs_sim.testbed.calibrate import strata

    dist = Lognormal.model_validate({"dist": "lognormal", "mean": 0.04, "cv": 0.5})
    sleeps = strata(dist, 100, stream(1, 0, "x"))
    assert len(sleeps) == 100 and abs(sleeps.mean() / 0.04 - 1) < 0.01
    assert not np.all(np.diff(sleeps) > 0)  # shuffled, so the order is no ramp
    assert np.allclose(np.sort(sleeps), dist.ppf((np.arange(100) + 0.5) / 100))


@pytest.mark.parametrize("name", SHIPPED)
def test_keys_and_clients_are_measured_from_what_real_reads_return(postgres_available, name):
    """With workload.keys and clients the table has a row per key, each write sets its keys' rows, and each read
    returns its key's version and the data's version in one snapshot. Every returned key version is the one the
    simulation's definition gives for the data version the read saw (``key_version_mismatches`` 0), so staleness by
    key counted from the returned versions is the stale-read fraction; monotonic reads are judged on the returned
    versions. Under CQRS (or on CRUD's streaming replicas) a replica serves old versions, so reads go stale by key
    less often than by version."""
    sets = ["duration=8s", "replications=1", "workload.keys={count: 40, popularity: {zipf: 1.0}}",
            "workload.writes.interval={dist: exponential, mean: 1s}", "workload.reads.clients=5"]
    scenario = cqrs_sim.load_scenario(SCENARIOS / name, sets)
    measured = run_testbed(scenario, source=str(SCENARIOS / name))
    runs = measured.manifest["testbed"]["runs"]
    assert measured.manifest["testbed"]["rows"] == 40
    assert all(run["key_version_mismatches"] == 0 for run in runs), runs
    reads = measured.requests[measured.requests["kind"] == "read"]
    assert set(reads["key"]) <= set(range(40)) and len(set(reads["key"])) > 10
    assert set(reads["client"]) == set(range(5))
    summary = measured.summary().set_index("metric")["mean"]
    assert summary["writes_committed"] > 3
    assert summary["stale_read_fraction"] == pytest.approx(runs[0]["stale_by_returned_version"], abs=1e-6)
    assert summary["monotonic_read_violations"] >= 0
    if "cqrs" in scenario.architectures or scenario.crud.replicas:  # replicas (copies or standbys) lag behind
        assert 0 < summary["stale_read_fraction"] < summary["stale_version_fraction"]
    else:
        assert summary["stale_read_fraction"] == 0  # one database: every read sees every commit


def test_a_prediction_averages_the_model_over_its_copy_times_on_the_same_workload():
    """``expected`` keeps the workload as the seed draws it (each write arrives and commits at the same instant in
    every draw of the copy times, so it stays paired with the measured write) and averages what the copy times
    decide: each write's visibility, and every metric per replication. Draw 0 is the scenario's own simulation."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "testbed_cqrs.yaml", ["duration=20s", "replications=1"])
    draws = [cqrs_sim.simulate(scenario, copy_draw=k) for k in range(3)]
    plain = cqrs_sim.simulate(scenario)
    assert draws[0].writes["first_visible"].equals(plain.writes["first_visible"])
    for other in draws[1:]:
        assert np.array_equal(other.writes["commit"], plain.writes["commit"])
        assert not np.allclose(other.writes["first_visible"], plain.writes["first_visible"])
    mean = expected(scenario, draws=3)
    assert np.allclose(mean.writes["all_visible"], np.mean([d.writes["all_visible"] for d in draws], axis=0))
    window = [d.per_replication["visibility_window_mean"].iloc[0] for d in draws]
    assert mean.per_replication["visibility_window_mean"].iloc[0] == pytest.approx(np.mean(window))
    summary = mean.summary().set_index(["architecture", "metric"])["mean"]
    assert summary["cqrs", "first_visible_mean"] == pytest.approx(
        np.mean([d.per_replication["first_visible_mean"].iloc[0] for d in draws]))


def test_a_paired_interval_from_too_few_pairs_is_no_agreement():
    """A visibility mean off by 86% with one replication (fewer than two time batches with writes: no interval,
    ``sampling`` infinite) does not agree; inside a finite paired interval, inside the target, or inside a known
    gap it does; a metric without a target is not judged."""
    from types import SimpleNamespace as Row

    from cqrs_sim.testbed.predict import agrees

    missed = dict(architecture="cqrs", metric="visibility_window_mean", within=False, difference=-1.33, relative=-0.856)
    assert agrees(Row(**missed, sampling=float("inf"))) is False
    assert agrees(Row(**missed, sampling=1.5)) is True
    assert agrees(Row(**{**missed, "within": True}, sampling=float("inf"))) is True
    gap = dict(missed, metric="first_visible_mean", relative=-0.30, difference=-0.1)
    assert agrees(Row(**gap, sampling=float("inf"))) is True  # inside the 35% known gap
    assert agrees(Row(**dict(gap, relative=-0.5), sampling=float("inf"))) is False
    assert agrees(Row(**dict(missed, within=None), sampling=0.0)) is None


def test_parts_a_run_measured_too_rarely_are_named():
    """A run with too few copies to fit (a short blue-green run made six) says the prediction takes the copy time from
    the scenario as written, instead of judging a placeholder silently."""
    from types import SimpleNamespace

    from cqrs_sim.testbed.calibrate import Part
    from cqrs_sim.testbed.predict import unmeasured_parts

    scenario = cqrs_sim.load_scenario(SCENARIOS / "testbed_cqrs.yaml")
    read = Part("cqrs", "read", np.ones(20), None, {}, "gamma", ())
    write = Part("cqrs", "write", np.ones(20), None, {}, "gamma", ())
    assert unmeasured_parts(SimpleNamespace(scenario=scenario), [read, write]) == [
        "cqrs copy (cqrs.sync.replace_time)"]
    replicas = cqrs_sim.load_scenario(SCENARIOS / "testbed_replicas.yaml")
    assert unmeasured_parts(SimpleNamespace(scenario=replicas), []) == [
        "crud read (crud.query_time)", "crud write (crud.apply_time)", "crud lag (crud.replication_lag)"]
