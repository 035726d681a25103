"""`cqrs-sim compare`: two result directories side by side, differences, intervals, agreement targets, overlays."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.compare import agreement_failures, compare_results, load_pair

runner = CliRunner()

SCENARIO = """\
    duration: 60s
    seed: 5
    replications: 3
    workload:
      reads: {rate: 50/s, query_time: {dist: exponential, mean: 10ms}}
      writes: {interval: 10s, apply_time: 200ms}
    handlers: {count: 1, concurrency: 50}
    crud: {connections: 4}
    cqrs:
      replicas: {count: 2, connections: 2}
      sync: {replace_time: 1s}
    """


@pytest.fixture(scope="module")
def two_dirs(tmp_path_factory):
    """A: the scenario; B: the same workload with queries 30% longer (so latencies differ and the rest does not)."""
    base = tmp_path_factory.mktemp("compare")
    path = base / "s.yaml"
    path.write_text(__import__("textwrap").dedent(SCENARIO), encoding="utf-8")
    a = cqrs_sim.simulate(cqrs_sim.load_scenario(path))
    b = cqrs_sim.simulate(cqrs_sim.load_scenario(path, {"workload.reads.query_time": {"dist": "exponential", "mean": "13ms"}}))
    a.save(base / "a")
    b.save(base / "b")
    return base / "a", base / "b"


def test_table_holds_each_side_the_difference_and_the_intervals(two_dirs):
    a, b = load_pair(*two_dirs)
    table = compare_results(a, b)
    sa = a.summary().set_index(["architecture", "metric"])
    sb = b.summary().set_index(["architecture", "metric"])
    assert set(table["architecture"]) == {"crud", "cqrs"}
    for row in table.itertuples(index=False):
        left, right = sa.loc[(row.architecture, row.metric)], sb.loc[(row.architecture, row.metric)]
        assert row.a == pytest.approx(left["mean"]) and row.b == pytest.approx(right["mean"])
        assert row.difference == pytest.approx(right["mean"] - left["mean"])
        if left["mean"]:
            assert row.relative == pytest.approx(row.difference / left["mean"])
        assert row.b_in_a == (left["ci_low"] <= right["mean"] <= left["ci_high"])
        assert row.a_in_b == (right["ci_low"] <= left["mean"] <= right["ci_high"])
    latency = table.set_index(["architecture", "metric"]).loc[("crud", "read_latency_mean")]
    assert latency["relative"] > 0.25 and not latency["b_in_a"] and latency["within"] is False
    # the same arrivals in both: read counts are identical, and inside each other's intervals
    reads = table.set_index(["architecture", "metric"]).loc[("cqrs", "reads_completed")]
    assert reads["difference"] == 0 and reads["b_in_a"] and reads["a_in_b"]


def test_agreement_failures_name_the_missed_targets(two_dirs):
    a, b = load_pair(*two_dirs)
    missed = agreement_failures(compare_results(a, b))
    assert any(line.startswith("crud read_latency_mean:") and "target ±10%" in line for line in missed)
    assert not any("stale_read_fraction" in line for line in missed)  # the freshness of the data did not change much
    same = compare_results(a, a)
    assert agreement_failures(same) == []
    assert (same["difference"].abs() < 1e-12).all()
    assert all(v is True or (isinstance(v, float) and math.isnan(v)) or v is None for v in same["within"])


def test_cli_prints_the_table_and_draws_the_overlays(two_dirs, tmp_path):
    a, b = two_dirs
    result = runner.invoke(app, ["compare", str(a), str(b), "--plots", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "A: simulation" in result.output and "read_latency_mean" in result.output and "MISSED" in result.output
    for name in ("latency_cdf.png", "visibility_curve.png"):
        assert (tmp_path / "p" / name).stat().st_size > 10_000


def test_a_directory_that_is_not_a_result_is_one_line_and_exit_2(two_dirs, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["compare", str(two_dirs[0]), str(tmp_path / "empty")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'empty'}") and "not a complete cqrs-sim result" in lines[0]
