"""cqrs-sim optimize: SLO parsing, conservative judging, the Pareto front, the cheapest design on a grid, bad input."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from cqrs_sim.cli import app
from cqrs_sim.errors import ScenarioError
from cqrs_sim.optimize import Design, answer_lines, choose, judge, pareto_front, parse_slos

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


def test_slos_are_read_with_their_units():
    slos = parse_slos(["read_latency_p99<50ms", "stale_read_fraction<1%", "read_throughput>=90/s", "cost_per_hour <= 4.5",
                       "cost_per_hour<3/h"])
    assert [(s.metric, s.op) for s in slos] == [("read_latency_p99", "<"), ("stale_read_fraction", "<"),
                                                ("read_throughput", ">="), ("cost_per_hour", "<="), ("cost_per_hour", "<")]
    assert [s.value for s in slos] == pytest.approx([0.05, 0.01, 90.0, 4.5, 3.0])
    for bad in (["p99 below 50ms"], ["read_latency_p99<fast"], ["latency<50ms"]):
        with pytest.raises(ScenarioError) as info:
            parse_slos(bad)
        assert len(info.value.problems) == 1
    with pytest.raises(ScenarioError, match="at least one SLO"):
        parse_slos([])


@pytest.mark.parametrize("text, words", [
    ("stale_read_fraction<abc", "cannot read the bound 'abc': write a fraction, such as 0.01 or 1%"),
    ("stale_read_fraction<2x%", "cannot read the bound '2x%': write a fraction, such as 0.01 or 1%"),
    ("cost_per_hour<cheap", "cannot read the bound 'cheap': write a price per hour, such as 4.5 or 4.5/h"),
    ("reads_completed>many", "cannot read the bound 'many': write a number of reads, such as 1000"),
])
def test_a_bound_that_is_no_number_says_what_a_bound_looks_like(text, words):
    with pytest.raises(ScenarioError) as info:
        parse_slos([text])
    (problem,) = info.value.problems
    assert problem.message == words and "could not convert" not in str(info.value)


def test_an_slo_is_judged_on_the_intervals_worse_end():
    """Mean 40 ms with a 95% interval up to 55 ms does not meet < 50 ms; a > bound is held against the lower end."""
    below, above = parse_slos(["read_latency_p99<50ms", "read_throughput>90/s"])
    check = judge(below, {"mean": 0.040, "ci_low": 0.025, "ci_high": 0.055})
    assert not check.met and check.judged == 0.055 and check.basis == "upper end of the 95% CI"
    assert judge(below, {"mean": 0.040, "ci_low": 0.035, "ci_high": 0.045}).met
    check = judge(above, {"mean": 95.0, "ci_low": 88.0, "ci_high": 102.0})
    assert not check.met and check.judged == 88.0 and check.basis == "lower end of the 95% CI"
    check = judge(below, {"mean": 0.040, "ci_low": None, "ci_high": None})  # one replication
    assert check.met and check.basis == "mean (no interval)"
    assert not judge(below, {"mean": None}).met and not judge(below, None).met


def test_pareto_front_keeps_exactly_the_undominated_points():
    """(cost, latency): (1, 9) cheapest; (2, 5) and (4, 1) trade; (3, 6) is beaten by (2, 5); (2, 7) by (2, 5);
    (4, 1) twice: equal points are both kept; NaN is left out."""
    points = [(3, 6), (1, 9), (2, 5), (4, 1), (2, 7), (4, 1), (math.nan, 0)]
    assert pareto_front(points) == [1, 2, 3, 5]
    assert pareto_front([]) == [] and pareto_front([(5, 5)]) == [0]


def _design(arch: str, cost: float, p99: float, incomplete: bool = False) -> Design:
    stats = lambda v: {"mean": v, "ci_low": v, "ci_high": v, "n": 3}  # noqa: E731
    return Design(arch, {"x": cost}, f"{arch}{cost}", {"cost_per_hour": stats(cost), "read_latency_p99": stats(p99)},
                  incomplete)


def test_choose_the_cheapest_meeting_every_slo_ties_by_grid_order_and_skips_stopped_designs(tmp_path):
    slos = parse_slos(["read_latency_p99<50ms"])
    designs = [_design("crud", 1.0, 0.020, incomplete=True), _design("crud", 2.0, 0.100), _design("crud", 3.0, 0.030),
               _design("cqrs", 3.0, 0.010), _design("cqrs", 4.0, 0.005)]
    for d in designs:
        d.checks = [judge(slos[0], d.metrics["read_latency_p99"])]
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
        d.checks = [judge(slos[0], d.metrics["cost_per_hour"]), judge(slos[1], d.metrics["read_latency_p99"])]
    optimum = choose(tmp_path, "s", "cost_per_hour", slos, designs, [])
    assert list(optimum.fronts) == ["read_latency_p99"] and optimum.best is designs[1]
    text = "\n".join(answer_lines(optimum))
    assert "against cost_per_hour" not in text
    assert "No Pareto front for the SLO on cost_per_hour: it is the minimised metric itself." in text
    assert "Pareto front of cost_per_hour against read_latency_p99:" in text


def test_optimize_finds_the_cheapest_design_on_a_tiny_grid(tiny, tmp_path):
    """Hand-checked (see TINY): prices 2.0 per hour for the write instance and 0.5 per replica give crud with 0 / 2
    replicas 2.00 / 3.00 per hour and cqrs with 1 / 2 replicas 2.50 / 3.00. Only 4 connections meet p99 < 50 ms:
    crud with 2 replicas and cqrs with 2, both 3.00 per hour; the tie goes to crud (first in grid order). The
    front of cost against p99: crud 0 replicas (cheapest), then the two at 3.00 with 25 ms; cqrs with 1 replica
    (2.50, as slow as crud's 2.00 design) is dominated."""
    out = tmp_path / "opt"
    result = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<50ms", "-o", str(out), "-j", "1"])
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
    table = pd.read_csv(out / "designs.csv")
    assert list(table["answer"]) == [False, True, False, False] and len(table) == 4
    assert (out / "plots" / "pareto.png").stat().st_size > 10_000
    assert (out / "crud" / "sweep.parquet").exists() and (out / "cqrs" / "sweep.parquet").exists()
    (out / "plots" / "pareto.png").unlink()
    redrawn = runner.invoke(app, ["plot", str(out)])  # from optimize.json, without simulating
    assert redrawn.exit_code == 0 and (out / "plots" / "pareto.png").exists(), redrawn.output
    # another SLO: every point is already done, nothing is simulated again
    again = runner.invoke(app, ["optimize", str(tiny), *GRID, "--slo", "read_latency_p99<10ms", "-o", str(out), "-j", "1",
                                "--no-plots"])
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
                                 "--set", "limits.max_in_system=30", "--no-plots"])
    assert result.exit_code == 0, result.output
    answer = json.loads((out / "optimize.json").read_text())
    assert [d["incomplete"] for d in answer["designs"]] == [True, False, True, False]
    assert [d["meets"] for d in answer["designs"]] == [False, True, False, True]
    assert answer["answer"] == 1 and answer["pareto"]["read_latency_p99"] == [1, 3]
    assert "stopped" in result.output
