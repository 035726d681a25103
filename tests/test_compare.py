"""`cqrs-sim compare`: two result directories side by side, differences, intervals, agreement targets, overlays."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.experiments.compare import agreement_failures, compare_results, load_pair

runner = CliRunner()

SCENARIO = """\
    duration: 60s
    seed: 5
    replications: 3
    workload:
      reads: {rate: 50/s, clients: 20, query_time: {dist: exponential, mean: 10ms}}
      writes: {interval: 10s, apply_time: 200ms}
    handlers: {count: 1, concurrency: 50}
    crud: {connections: 4}
    cost: {instance_hour: 0.5}
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


def test_every_metric_both_summaries_hold_is_compared_in_summary_order(two_dirs):
    a, b = load_pair(*two_dirs)
    table = compare_results(a, b)
    held = list(dict.fromkeys(a.summary()["metric"]))
    compared = list(dict.fromkeys(table["metric"]))
    for metric in ("cost_per_hour", "replica_seconds", "stale_version_fraction", "monotonic_read_violations",
                   "read_availability"):
        assert metric in compared
    assert compared == [m for m in held if m in compared]
    # cqrs and crud differ in cost: the per-architecture rows carry each side's own value
    cost = table.set_index(["architecture", "metric"])["a"]
    assert cost[("crud", "cost_per_hour")] != cost[("cqrs", "cost_per_hour")]


def _tree(path):
    return sorted((p.relative_to(path).as_posix(), p.stat().st_mtime_ns) for p in path.rglob("*"))


def test_cli_prints_the_table_and_draws_the_overlays_only_where_asked(two_dirs, tmp_path):
    a, b = two_dirs
    before = (_tree(a), _tree(b))
    result = runner.invoke(app, ["compare", str(a), str(b), "--plots", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert f"A: {a} (simulation)" in result.output.replace("\n", "")
    assert "read_latency_mean" in result.output
    # B is another scenario (longer queries): said, and no agreement target is judged as if the model disagreed
    assert "A and B were made from different scenarios" in result.stderr and "MISSED" not in result.output
    assert "A: simulation" not in result.output
    for name in ("latency_cdf.png", "visibility_curve.png"):
        assert (tmp_path / "p" / name).stat().st_size > 10_000
    assert (_tree(a), _tree(b)) == before  # the inputs are never written
    again = runner.invoke(app, ["compare", str(a), str(b), "--plots", str(tmp_path / "p")])
    assert again.exit_code == 0, again.output  # earlier overlays are replaced


def test_without_plots_nothing_is_written_and_the_input_stays_replaceable(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(__import__("textwrap").dedent(SCENARIO), encoding="utf-8")
    short = ["--set", "duration=5s", "--set", "replications=1", "-j", "1", "--no-plots"]
    for name in ("a", "b"):
        done = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / name), *short])
        assert done.exit_code == 0, done.output
    before = _tree(tmp_path)
    result = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "wrote" not in result.output and _tree(tmp_path) == before
    rerun = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "b"), "--force", *short])
    assert rerun.exit_code == 0, rerun.output


@pytest.mark.parametrize("where", ["b/compare", "b", "b/plots", "other"])
def test_plots_into_a_result_or_a_foreign_directory_are_refused(two_dirs, tmp_path, where):
    a, b = two_dirs
    target = b.parent / where if where != "other" else tmp_path / "other"
    if where == "other":
        target.mkdir()
        (target / "notes.txt").write_text("mine", encoding="utf-8")
    before = _tree(b)
    result = runner.invoke(app, ["compare", str(a), str(b), "--plots", str(target)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {target}"), lines
    assert _tree(b) == before
    if where == "other":
        assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_a_directory_that_is_not_a_result_is_one_line_and_exit_2(two_dirs, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["compare", str(two_dirs[0]), str(tmp_path / "empty")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'empty'}") and "not a complete cqrs-sim result" in lines[0]
