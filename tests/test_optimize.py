"""cqrs-sim optimize: judging each design's replications, the Pareto front, the cheapest design on a grid, bad input.

SLO parsing and the judging rule itself are tested in test_slo.py."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from cqrs_sim.cli import app
from cqrs_sim.experiments.optimize import Design, _designs, answer_lines, choose, pareto_front
from cqrs_sim.analysis.slo import Status, judge, parse_slos

runner = CliRunner()

#: Reads every 10 ms (uniform arrivals), each query exactly 25 ms, no writes: 2.5 connections are busy on average.
#: With 2 connections the queue grows by 20 reads a second and the last reads of the 10 s wait about 2.5 s; with
#: 4 connections (2 replicas × 2) a read always finds one free and takes exactly 25 ms. Both replications are
#: identical (nothing is random), so every interval has zero width.
TINY = """\
name: tiny
duration: 10s
replications: 2
workload:
  reads: {rate: 100/s, process: uniform, query_time: 25ms}
handlers: {count: 1, concurrency: 1000}
crud: {connections: 2, replica_connections: 2}
cqrs:
  replicas: {count: 1, connections: 2}
cost: {instance_hour: 0.5, write_instance_hour: 2.0}
"""
GRID = ["--vary", "crud.replicas=0,2", "--vary", "cqrs.replicas.count=1,2"]


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_pareto_front_keeps_exactly_the_undominated_points():
    """(cost, latency): (1, 9) cheapest; (2, 5) and (4, 1) trade; (3, 6) is beaten by (2, 5); (2, 7) by (2, 5);
    (4, 1) twice: equal points are both kept; NaN is left out."""
    points = [(3, 6), (1, 9), (2, 5), (4, 1), (2, 7), (4, 1), (math.nan, 0)]
    assert pareto_front(points) == [1, 2, 3, 5]
    assert pareto_front([]) == [] and pareto_front([(5, 5)]) == [0]


def _design(arch: str, cost: float, p99: float, incomplete: bool = False) -> Design:
    """A design whose 3 replications all gave the same cost and p99 (intervals of zero width)."""
    stats = lambda v: {"mean": v, "ci_low": v, "ci_high": v, "n": 3}  # noqa: E731
    return Design(arch, {"x": cost}, f"{arch}{cost}", {"cost_per_hour": stats(cost), "read_latency_p99": stats(p99)},
                  incomplete, n=3)


def _judged(design: Design, slos) -> Design:
    design.checks = [judge(slo, [design.metrics[slo.metric]["mean"]] * 3, design.incomplete) for slo in slos]
    return design


def test_choose_the_cheapest_meeting_every_slo_ties_by_grid_order_and_skips_stopped_designs(tmp_path):
    slos = parse_slos(["read_latency_p99<50ms"])
    designs = [_design("crud", 1.0, 0.020, incomplete=True), _design("crud", 2.0, 0.100), _design("crud", 3.0, 0.030),
               _design("cqrs", 3.0, 0.010), _design("cqrs", 4.0, 0.005)]
    for d in designs:
        _judged(d, slos)
    optimum = choose(tmp_path, "s", "cost_per_hour", slos, designs, [])
    assert optimum.best is designs[2] and optimum.ties == [designs[3]]
    # the stopped design is cheapest and fastest, but neither an answer nor on the front
    assert optimum.fronts["read_latency_p99"] == [designs[1], designs[3], designs[4]]
    none = choose(tmp_path, "s", "cost_per_hour", slos, designs[:2], [])
    assert none.best is None and none.ties == []


def test_an_slo_on_the_minimised_metric_has_no_front_and_the_answer_says_so(tmp_path):
    slos = parse_slos(["cost_per_hour<3.5", "read_latency_p99<50ms"])
    designs = [_design("crud", 2.0, 0.100), _design("crud", 3.0, 0.030), _design("cqrs", 4.0, 0.005)]
    for d in designs:
        _judged(d, slos)
    optimum = choose(tmp_path, "s", "cost_per_hour", slos, designs, [])
    assert list(optimum.fronts) == ["read_latency_p99"] and optimum.best is designs[1]
    text = "\n".join(answer_lines(optimum))
    assert "against cost_per_hour" not in text
    assert "No Pareto front for the SLO on cost_per_hour: it is the minimised metric itself." in text
    assert "Pareto front of cost_per_hour against read_latency_p99:" in text


def test_optimize_pareto_simulates_the_whole_grid_and_finds_the_cheapest_design(tiny, tmp_path):
    """Hand-checked (see TINY): prices 2.0 per hour for the write instance and 0.5 per replica give crud with 0 / 2
    replicas 2.00 / 3.00 per hour and cqrs with 1 / 2 replicas 2.50 / 3.00. Only 4 connections meet p99 < 50 ms:
    crud with 2 replicas and cqrs with 2, both 3.00 per hour; the tie goes to crud (first in grid order). The
    front of cost against p99: crud 0 replicas (cheapest), then the two at 3.00 with 25 ms; cqrs with 1 replica
    (2.50, as slow as crud's 2.00 design) is dominated."""
    out = tmp_path / "opt"
    result = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<50ms", "-o", str(out), "-j", "1",
                                 "--pareto"])
    assert result.exit_code == 0, result.output
    answer = json.loads((out / "optimize.json").read_text())
    labels = [d["label"] for d in answer["designs"]]
    assert labels == ["crud crud.replicas=0", "crud crud.replicas=2", "cqrs cqrs.replicas.count=1",
                      "cqrs cqrs.replicas.count=2"]
    costs = [d["metrics"]["cost_per_hour"]["mean"] for d in answer["designs"]]
    assert costs == pytest.approx([2.0, 3.0, 2.5, 3.0], abs=1e-12)
    p99 = [d["metrics"]["read_latency_p99"]["mean"] for d in answer["designs"]]
    assert p99[1] == pytest.approx(0.025, abs=1e-9) and p99[3] == pytest.approx(0.025, abs=1e-9)
    assert p99[0] > 2.0 and p99[2] > 2.0
    assert [d["meets"] for d in answer["designs"]] == [False, True, False, True]
    assert answer["answer"] == 1 and answer["ties"] == [3]
    assert answer["pareto"]["read_latency_p99"] == [0, 1, 3]
    assert "Cheapest design meeting every SLO: crud crud.replicas=2: cost_per_hour 3.00/h" in result.output
    # the answer says what it rests on: n, the interval end compared, and the rule
    assert "read_latency_p99<50ms met (n=2): upper end of the 95% CI 25ms < 50ms" in result.output
    assert "Judged: each SLO is judged on the two-sided 95% Student-t interval" in result.output
    assert [d["n"] for d in answer["designs"]] == [2, 2, 2, 2]
    assert answer["designs"][1]["checks"][0]["status"] == "met" and answer["designs"][0]["checks"][0]["status"] == "missed"
    table = pd.read_csv(out / "designs.csv")
    assert list(table["answer"]) == [False, True, False, False] and len(table) == 4
    assert list(table["n"]) == [2, 2, 2, 2]
    assert list(table["slo read_latency_p99<50ms"]) == ["missed", "met", "missed", "met"]
    assert (out / "plots" / "pareto.png").stat().st_size > 10_000
    assert (out / "crud" / "sweep.parquet").exists() and (out / "cqrs" / "sweep.parquet").exists()
    (out / "plots" / "pareto.png").unlink()
    redrawn = runner.invoke(app, ["plot", str(out)])  # from optimize.json, without simulating
    assert redrawn.exit_code == 0 and (out / "plots" / "pareto.png").exists(), redrawn.output
    # another SLO: every point is already done, nothing is simulated again
    again = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<10ms", "-o", str(out), "-j", "1",
                                "--no-plots", "--pareto"])
    assert again.exit_code == 0, again.output
    assert "0 point(s) simulated, 4 already done" in again.output and "No design meets every SLO" in again.output
    assert json.loads((out / "optimize.json").read_text())["answer"] is None


@pytest.mark.parametrize("args, words", [
    (["--vary", "cqrs.replicas.count", "--slo", "read_latency_p99<50ms"], "expected PATH=V1,V2"),
    (["--vary", "cqrs.replicas.count=1,2", "--slo", "read_latency_p99<<50ms"], "cannot read duration"),
    (["--vary", "cqrs.replicas.count=1,2", "--slo", "p99 is low"], "METRIC<VALUE"),
    (["--vary", "cqrs.replicas.count=1,2", "--slo", "read_latency_p99<50 parsecs"], "read_latency_p99"),
    (["--vary", "cqrs.replicas.count=1,2"], "at least one SLO"),
    (["--vary", "cqrs.replicas.count=1,2", "--slo", "read_latency_p99<50ms", "--minimize", "price"], "unknown metric"),
    (["--vary", "architectures=[crud],[cqrs]", "--slo", "read_latency_p99<50ms"], "compares the architectures itself"),
    (["--vary", "cqrs.replicas.count=0,2", "--slo", "read_latency_p99<50ms", "--vary", "cqrs.replicas.count=3"],
     "varied twice"),
])
def test_bad_input_is_one_line_and_writes_nothing(tiny, tmp_path, args, words):
    out = tmp_path / "never"
    result = runner.invoke(app, ["optimize", str(tiny), *args, "-o", str(out), "-j", "1"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.output
    assert "Traceback" not in result.output and not out.exists()


def test_cost_needs_prices(tmp_path):
    path = tmp_path / "unpriced.yaml"
    path.write_text(TINY.replace("cost: {instance_hour: 0.5, write_instance_hour: 2.0}\n", ""))
    result = runner.invoke(app, ["optimize", str(path), *GRID, "--slo", "read_latency_p99<50ms", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "gives no prices" in result.output and "cost.instance_hour" in result.output
    assert not (tmp_path / "o").exists()


def test_refuses_a_directory_it_did_not_write(tiny, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<50ms", "-o", str(out)])
    assert result.exit_code == 2 and "not a cqrs-sim optimize directory" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_design_stopped_by_the_runaway_guard_meets_no_slo(tiny, tmp_path):
    """With at most 30 reads in the system, the 2-connection designs (the queue grows by 20 reads a second) are
    stopped: they are marked incomplete, meet no SLO and are left off the front, though they cost least."""
    out = tmp_path / "opt"
    result = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<50ms", "-o", str(out), "-j", "1",
                                 "--set", "limits.max_in_system=30", "--no-plots", "--pareto"])
    assert result.exit_code == 0, result.output
    answer = json.loads((out / "optimize.json").read_text())
    assert [d["incomplete"] for d in answer["designs"]] == [True, False, True, False]
    assert [d["meets"] for d in answer["designs"]] == [False, True, False, True]
    assert answer["answer"] == 1 and answer["pareto"]["read_latency_p99"] == [1, 3]
    assert "stopped" in result.output


def _point(directory, key: str, values: list[float]) -> pd.DataFrame:
    """A sweep point of one cqrs design whose replications gave ``values`` of visibility_t99 (NaN: no value),
    and the sweep table's rows for it, summarised as summary.csv does (over the values there are)."""
    point = directory / "points" / key
    point.mkdir(parents=True)
    pd.DataFrame({"architecture": "cqrs", "replication": range(len(values)),
                  "visibility_t99": values}).to_csv(point / "replications.csv", index=False)
    finite = [v for v in values if not math.isnan(v)]
    return pd.DataFrame([{"point": key, "architecture": "cqrs", "metric": "visibility_t99", "mean": sum(finite) / len(finite),
                          "ci_low": math.nan, "ci_high": math.nan, "n": len(finite), "cqrs.replicas.count": 2}])


def test_a_replication_without_a_value_misses_the_slo(tmp_path):
    """Replications giving visibility_t99 of 5 s, none, none (two runs never reached 99%): the summary keeps the
    one value, but each run without a value failed the SLO, so the design misses visibility_t99<10s."""
    slos = parse_slos(["visibility_t99<10s"])
    (design,) = _designs(_point(tmp_path, "p1", [5.0, math.nan, math.nan]), tmp_path, "cqrs", slos)
    (check,) = design.checks
    assert not design.meets and check.status is Status.MISSED and (check.n, check.missing) == (3, 2)
    assert "2 of 3 replications have no value of visibility_t99" in check.reason
    (design,) = _designs(_point(tmp_path, "p2", [5.0, 5.5, 6.0]), tmp_path, "cqrs", slos)
    assert design.meets and design.checks[0].end == "upper end" and design.n == 3


def test_contradicting_slos_are_refused_before_anything_runs(tiny, tmp_path):
    out = tmp_path / "never"
    result = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<50ms", "--slo",
                                 "read_latency_p99>1s", "-o", str(out), "-j", "1"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["error: --slo read_latency_p99>1s: read_latency_p99: contradicts --slo 'read_latency_p99<50ms': "
                     "no value is both > 1s and < 50ms"]
    assert not out.exists()


def test_one_replication_is_refused_before_anything_runs(tiny, tmp_path):
    """One replication gives no interval, so every SLO would be undecided: said at once, not after the grid."""
    out = tmp_path / "never"
    result = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<50ms", "--set",
                                 "replications=1", "-o", str(out), "-j", "1"])
    assert result.exit_code == 2 and "replications: is 1: an SLO is judged on the 95% interval" in result.output
    assert not out.exists()
