"""The output directory and the Python API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.analysis.definitions import CONDITIONAL, METRICS
from cqrs_sim.io.resultdir import OPTIONAL_TABLES, TABLES

from .conftest import SCENARIOS

COLUMNS = {
    "requests": ["architecture", "replication", "kind", "id", "arrival", "start", "finish", "latency", "handler",
                 "replica", "version_seen", "version_latest", "stale", "staleness"],
    "writes": ["architecture", "replication", "version", "arrival", "commit", "first_visible", "all_visible"],
    "replicas": ["architecture", "replication", "replica", "out", "back", "version"],
    "timeseries": ["architecture", "replication", "t", "reads_completed", "read_latency_p50", "read_latency_p99",
                   "stale_fraction", "replicas_in_pool"],
}

SHORT = {"duration": "6m", "warmup": "30s", "replications": 2,
         "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"}}


@pytest.fixture(scope="module")
def results():
    return cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", SHORT))


def test_tables_have_the_spec_columns(results):
    for name, columns in COLUMNS.items():
        frame = getattr(results, name)
        missing = set(columns) - set(frame.columns)
        assert not missing, (name, missing)
    req = results.requests
    assert set(req.kind.unique()) == {"read", "write"}
    assert (req[(req.architecture == "crud")].replica == -1).all()
    assert (req[(req.architecture == "cqrs") & (req.kind == "read")].replica >= 0).all()
    np.testing.assert_allclose(req.latency, req.finish - req.arrival)
    assert (req.start >= req.arrival - 1e-12).all() and (req.finish >= req.start).all()


def test_timeseries_bins(results):
    ts = results.timeseries
    per_run = ts.groupby(["architecture", "replication"], observed=True).size()
    assert (per_run == 200).all()  # default bin = duration / 200
    crud = ts[ts.architecture == "crud"]
    assert (crud.replicas_in_pool == 1).all() and (crud.stale_fraction == 0).all()
    cqrs = ts[ts.architecture == "cqrs"]
    assert cqrs.replicas_in_pool.min() < 8 and cqrs.replicas_in_pool.max() == 8
    reads = results.requests[results.requests.kind == "read"]
    counted = ts.groupby(["architecture", "replication"], observed=True).reads_completed.sum()
    finished = reads[reads.finish < results.scenario.duration].groupby(["architecture", "replication"], observed=True).size()
    pd.testing.assert_series_equal(counted, finished, check_names=False)


def test_summary_shape(results):
    summary = results.summary()
    assert list(summary.columns) == ["architecture", "metric", "mean", "ci_low", "ci_high", "n"]
    assert len(summary) == 2 * len(set(METRICS) - set(CONDITIONAL))  # the fixture sets no cost: block
    # visibility_t* is null in a replication whose last rollouts outlast its reads (censored), so n may be 1
    # read_your_writes_violations is null without workload.writes.read_back
    # monotonic_read_violations is null without workload.reads.clients, read_failure_time_mean when no read failed
    normal = (~summary.metric.str.startswith("visibility_t")
              & ~summary.metric.isin(["read_your_writes_violations", "monotonic_read_violations",
                                      "read_failure_time_mean"]))
    assert (summary[normal].n == 2).all()
    assert (summary[summary.metric.str.startswith("visibility_t")].n >= 1).all()
    assert (summary[summary.metric == "read_your_writes_violations"].n == 0).all()
    ok = summary.dropna(subset=["ci_low"])
    assert (ok.ci_low <= ok["mean"] + 1e-12).all() and (ok["mean"] <= ok.ci_high + 1e-12).all()


def test_save_and_load_round_trip(results, tmp_path):
    out = results.save(tmp_path / "out")
    names = {p.name for p in out.iterdir()}
    assert {"scenario.yaml", "manifest.json", "summary.json", "summary.csv", "requests.parquet", "writes.parquet",
            "replicas.parquet", "timeseries.parquet"} <= names
    loaded = cqrs_sim.load_results(out)
    for name in COLUMNS:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(results, name))
    pd.testing.assert_frame_equal(loaded.summary(), results.summary())
    assert loaded.scenario == results.scenario  # the resolved scenario reloads to an equal one
    data = json.loads((out / "summary.json").read_text())
    assert data["scenario"] == "netflix-catalog"
    entry = data["architectures"]["cqrs"]["read_latency_p99"]
    assert set(entry) == {"mean", "ci_low", "ci_high", "n"} and entry["n"] == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["replications"] == 2
    assert {"simpy", "numpy", "pandas", "python"} <= set(manifest["packages"])
    assert manifest["wall_time_s"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging left behind


def test_summary_json_uses_null_not_nan(tmp_path):
    scenario = cqrs_sim.load_scenario(SCENARIOS / "mmc.yaml", {"duration": "20s", "warmup": "2s", "replications": 1})
    out = cqrs_sim.simulate(scenario).save(tmp_path / "o")
    text = (out / "summary.json").read_text()
    assert "NaN" not in text
    data = json.loads(text)
    assert data["architectures"]["crud"]["read_latency_mean"]["ci_low"] is None  # n < 2
    assert data["architectures"]["cqrs"]["write_latency_mean"]["mean"] is None  # read-only workload


def test_cli_run_writes_directory_and_table(tmp_path):
    out = tmp_path / "res"
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "--no-plots",
                                      "--seed", "5", "--replications", "2", "--set", "duration=3m", "--set", "warmup=20s"])
    assert result.exit_code == 0, result.output
    for metric in ("read_latency_p999", "stale_read_fraction", "visibility_window_mean"):
        assert metric in result.stdout
    assert "cqrs − crud" in result.stdout
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary.architecture) == {"crud", "cqrs"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["replications"] == 2
    resolved = cqrs_sim.load_scenario(out / "scenario.yaml")
    assert resolved.duration == 180 and resolved.seed == 5


def test_cli_replaces_an_existing_result_directory(tmp_path):
    out = tmp_path / "res"
    args = ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(out), "--set", "duration=10s", "--set", "warmup=1s", "--replications", "1"]
    assert CliRunner().invoke(app, args).exit_code == 0
    (out / "report.html").write_text("old")  # a file of its own that the new run does not write
    refused = CliRunner().invoke(app, args + ["--seed", "9"])
    assert refused.exit_code == 2 and "already exists; pass --force" in refused.stderr
    assert (out / "report.html").exists()
    assert CliRunner().invoke(app, args + ["--seed", "9", "--force"]).exit_code == 0
    assert not (out / "report.html").exists()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9


@pytest.mark.parametrize("missing", [f"{name}.parquet" for name in TABLES if name not in OPTIONAL_TABLES])
def test_plot_and_report_refuse_a_result_missing_a_table(results, tmp_path, missing):
    """A result directory without one of its tables is not a result: exit 2 with one line, not a crash."""
    out = results.save(tmp_path / "out")
    (out / missing).unlink()
    with pytest.raises(cqrs_sim.ScenarioError, match=f"is not a complete cqrs-sim result: {missing}: missing"):
        cqrs_sim.load_results(out)
    for command in ("plot", "report"):
        result = CliRunner().invoke(app, [command, str(out)])
        assert result.exit_code == 2, result.output
        assert f"is not a complete cqrs-sim result: {missing}: missing" in result.stderr
    assert not (out / "plots").exists() and not (out / "report.html").exists()


def test_a_result_from_before_the_autoscale_table_still_loads(results, tmp_path):
    """A result directory written before autoscale.parquet existed loads, with that table empty."""
    out = results.save(tmp_path / "old")
    for name in OPTIONAL_TABLES:
        (out / f"{name}.parquet").unlink()
    loaded = cqrs_sim.load_results(out)
    assert loaded.autoscale.empty
    assert len(loaded.requests) == len(results.requests)
