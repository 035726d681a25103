"""The cost block: its keys and errors, cost_per_hour only where prices are given, its format, table and verdict."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cqrs_sim.cli import app
from cqrs_sim.core.errors import ScenarioError
from cqrs_sim.config.loader import parse_scenario
from cqrs_sim.analysis.metrics import cost_per_hour
from cqrs_sim.present.report import shown_metrics
from cqrs_sim.analysis.values import format_interval, format_value
from cqrs_sim.analysis.verdict import decision, verdict

from .test_report import _summary as _frames

BASE = """\
duration: 20s
replications: 1
workload:
  reads: {rate: 20/s, query_time: 4ms}
"""


def test_cost_keys_default_and_validate():
    scenario = parse_scenario(BASE + "cost: {instance_hour: 0.5}\n")
    assert scenario.cost.instance_hour == 0.5 and scenario.cost.write_instance_hour is None
    assert scenario.cost.snapshot_gb == 0 and scenario.cost.snapshot_gb_hour == 0
    assert parse_scenario(BASE).cost is None


@pytest.mark.parametrize("block, path, words", [
    ("cost: {snapshot_gb_hour: 0.02}", "cost", "give snapshot_gb too"),
    ("cost: {snapshot_gb: 50}", "cost", "give snapshot_gb_hour too"),
    ("cost: {instance_hour: -1}", "cost.instance_hour", "price must not be negative, got -1"),
    ("cost: {instance_hours: 1}", "cost.instance_hours", "unknown key"),
    ("cost: {instance_hour: 1e308}", "cost.instance_hour", "price 1e+308 is too large: at most 1e+09/h"),
    ("cost: {write_instance_hour: 2e9}", "cost.write_instance_hour", "price 2000000000.0 is too large"),
    ("cost: {snapshot_gb: 1e300, snapshot_gb_hour: 1}", "cost.snapshot_gb", "size 1e+300 is too large: at most 1e+09 GB"),
    ("cost: {snapshot_gb: 1, snapshot_gb_hour: .inf}", "cost.snapshot_gb_hour", "price must be finite"),
    ("cost: {instance_hour: 1e-300}", "cost.instance_hour", "is too small: give 0 or at least 1e-12/h"),
    ("cost: {instance_hour: true}", "cost.instance_hour", "expected a number, not true/false"),
    ("cost: {instance_hour: [1]}", "cost.instance_hour", "expected a price such as 0.5, got [1]"),
    ("cost: {instance_hour: cheap}", "cost.instance_hour", "expected a number, got 'cheap'"),
])
def test_bad_cost_is_one_located_problem(block, path, words):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(BASE + block + "\n", "s.yaml")
    problems = info.value.problems
    assert len(problems) == 1 and problems[0].path == path and words in problems[0].message, problems
    assert problems[0].line == 5


def test_the_largest_prices_cannot_overflow_the_cost(recwarn):
    """Every price and size at its bound (1e9), the most replicas (limits.max_replicas, raised a thousandfold),
    plus as many built beside them, over the longest window: the cost is finite, with no overflow warning."""
    cost = parse_scenario(BASE + "cost: {instance_hour: 1e9, write_instance_hour: 1e9, snapshot_gb: 1e9, "
                                 "snapshot_gb_hour: 1e9}\n").cost
    window = 1e9
    replicas = 2 * 10_000 * 1000
    value = cost_per_hour(cost, True, (1 + replicas) * window, window)
    assert value == pytest.approx(1e9 + 1e9 * replicas + 1e18)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_an_overflowing_price_on_the_command_line_is_one_error_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--set", "cost.instance_hour=1e308", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == ("error: --set cost.instance_hour=1e308: cost.instance_hour: price 1e+308 is too "
                                     "large: at most 1e+09/h")
    assert not (tmp_path / "o").exists()


def test_cost_per_hour_formula():
    """Write instance at its own price, replica instance-hours per hour at instance_hour, a snapshot only where one is kept
    (CQRS refreshed by snapshots)."""
    cost = parse_scenario(BASE + "cost: {instance_hour: 0.25, write_instance_hour: 3, snapshot_gb: 10, "
                                 "snapshot_gb_hour: 0.01}\n").cost
    assert cost_per_hour(cost, True, 9 * 3600.0, 3600.0) == pytest.approx(3 + 8 * 0.25 + 0.1)
    assert cost_per_hour(cost, False, 3600.0, 3600.0) == pytest.approx(3.0)  # a single database: no replica
    same = parse_scenario(BASE + "cost: {instance_hour: 0.25}\n").cost
    assert cost_per_hour(same, False, 2 * 7200.0, 7200.0) == pytest.approx(0.5)  # the primary at instance_hour


def test_price_per_hour_format():
    assert format_value("cost_per_hour", 4.1) == "4.10/h"
    assert format_value("cost_per_hour", 0.0125) == "0.0125/h"
    assert format_value("cost_per_hour", 1250.0) == "1,250/h"
    assert format_interval("cost_per_hour", 4.1, 4.0, 4.2) == "4.10 ± 0.1/h"



def test_verdict_prices_the_cost_when_the_scenario_does():
    """With cost_per_hour the decision weighs the price, not the instance-hours; without, the instance-hours."""
    rows = {"read_latency_p99": (2.0, 0.02, 0.5), "replica_seconds": (3600.0, 9 * 3600.0, 10.0),
            "cost_per_hour": (4.0, 8.0, 0.1)}
    summary, diff = _frames(rows)
    text = decision(summary, diff)
    assert text.startswith("CQRS buys lower read latency and pays with 2.0× as much per hour.")
    assert "If cost matters most: CRUD (4.00/h vs 8.00/h)." in text and "instance-hours" not in text
    lines = {metric: (w, line) for metric, w, line in verdict(summary, diff)}
    assert lines["cost_per_hour"][0] == "crud" and "crud 4.00/h, cqrs 8.00/h" in lines["cost_per_hour"][1]
    del rows["cost_per_hour"]
    summary, diff = _frames(rows)
    assert "9.0× the instance-hours" in decision(summary, diff)
    assert "cost_per_hour" not in shown_metrics(summary)


def test_run_shows_cost_only_when_priced(tmp_path):
    runner = CliRunner()
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "cqrs: {replicas: {count: 2}}\n")
    plain = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "a"), "--no-plots", "-j", "1"])
    assert plain.exit_code == 0, plain.output
    assert "cost_per_hour" not in plain.output and "replica_seconds" in plain.output
    priced = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "b"), "--no-plots", "-j", "1",
                                 "--set", "cost.instance_hour=0.5", "--set", "cost.write_instance_hour=2"])
    assert priced.exit_code == 0, priced.output
    line = next(l for l in priced.output.splitlines() if "cost_per_hour" in l)
    assert "2.00/h" in line and "3.00/h" in line  # crud: the database alone; cqrs: 2.0 + 2 replicas × 0.5
    summary = pd.read_csv(tmp_path / "b" / "summary.csv").set_index(["architecture", "metric"])["mean"]
    assert summary["crud", "cost_per_hour"] == 2.0 and summary["cqrs", "cost_per_hour"] == 3.0
