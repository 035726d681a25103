"""SLOs: parsing (every problem at once, contradictions refused), and the one judging rule that capacity and optimize share."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from cqrs_sim.experiments import capacity as capacity_module
from cqrs_sim.experiments.capacity import capacity_search
from cqrs_sim.core.errors import ScenarioError
from cqrs_sim.analysis.slo import RULE, Status, judge, parse_slo, parse_slos

from .conftest import SCENARIOS


def test_slos_are_read_with_their_units():
    slos = parse_slos(["read_latency_p99<50ms", "stale_read_fraction<1%", "read_throughput>=90/s", "cost_per_hour <= 4.5",
                       "cost_per_hour<3/h"])
    assert [(s.metric, s.op) for s in slos] == [("read_latency_p99", "<"), ("stale_read_fraction", "<"),
                                                ("read_throughput", ">="), ("cost_per_hour", "<="), ("cost_per_hour", "<")]
    assert [s.bound for s in slos] == pytest.approx([0.05, 0.01, 90.0, 4.5, 3.0])
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


def test_every_bad_slo_is_reported_at_once():
    """Three bad SLOs and a good one: three problems, one line each, in the order given."""
    with pytest.raises(ScenarioError) as info:
        parse_slos(["p99 << 5ms", "<", "read_latency_p99<50ms", "x<nan"])
    lines = [str(p) for p in info.value.problems]
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert lines[0].startswith("--slo p99 << 5ms: p99: unknown metric (did you mean read_latency_p99 or staleness_p99?)")
    assert lines[1] == "--slo <: (--slo): expected METRIC<VALUE, such as 'read_latency_p99<50ms'"
    assert lines[2].startswith("--slo x<nan: x: unknown metric")


@pytest.mark.parametrize("texts, words", [
    (["read_latency_p99<50ms", "read_latency_p99>1s"],
     "--slo read_latency_p99>1s: read_latency_p99: contradicts --slo 'read_latency_p99<50ms': no value is both > 1s and < 50ms"),
    (["read_throughput>=100/s", "read_throughput<100/s"],
     "--slo read_throughput>=100/s: read_throughput: contradicts --slo 'read_throughput<100/s'"),
    (["read_latency_p99<80ms", "read_latency_p99<40ms", "read_latency_p99>50ms"],  # the tightest upper bound is named
     "contradicts --slo 'read_latency_p99<40ms'"),
    (["stale_read_fraction>120%"], "no value can be > 120.00%: stale_read_fraction is a fraction, at most 100.00%"),
    (["read_latency_p99<0"], "no value can be < 0s: read_latency_p99 is never below 0s"),
])
def test_slos_no_value_could_meet_are_refused(texts, words):
    with pytest.raises(ScenarioError) as info:
        parse_slos(texts)
    (problem,) = info.value.problems
    assert words in str(problem)


@pytest.mark.parametrize("text", ["stale_read_fraction<200%", "read_availability<=1.5"])
def test_a_fraction_bound_above_one_is_refused_as_saying_nothing(text):
    """An upper bound above a fraction's range (``<200%``, perhaps meant as 2%) is met by every value: it is refused
    with one line, not judged as met."""
    with pytest.raises(ScenarioError) as info:
        parse_slos([text])
    (problem,) = info.value.problems
    assert "is a fraction, at most 100.00%, so this SLO says nothing" in str(problem)


def test_slos_that_leave_a_value_are_accepted():
    """A band, an equality and the ends of a fraction's range each leave at least one value."""
    for texts in (["read_latency_p99>10ms", "read_latency_p99<50ms"], ["read_throughput>=100/s", "read_throughput<=100/s"],
                  ["stale_read_fraction<=0"], ["read_availability>=100%"], ["read_latency_p99>1s", "stale_read_fraction<1%"]):
        assert len(parse_slos(texts)) == len(texts)


def test_an_slo_is_met_on_the_intervals_worse_end_missed_on_its_better_end():
    """p99 of 35, 40, 45 ms: mean 40 ms, 95% CI 40 ± 4.303 × 5/√3 = 27.6 to 52.4 ms (Student t, 2 degrees of freedom).
    < 60 ms: the upper end meets it (met); < 50 ms: the interval straddles it (undecided); < 25 ms: even the lower
    end fails it (missed). A > bound is held against the lower end."""
    values = [0.035, 0.040, 0.045]
    half = 4.302652729911275 * 0.005 / math.sqrt(3)
    met = judge(parse_slo("read_latency_p99<60ms"), values)
    assert met.status is Status.MET and met.end == "upper end" and met.value == pytest.approx(0.040 + half)
    assert (met.n, met.missing, met.mean) == (3, 0, pytest.approx(0.040))
    assert met.describe() == "met (n=3): upper end of the 95% CI 52.4ms < 60ms"
    undecided = judge(parse_slo("read_latency_p99<50ms"), values)
    assert undecided.status is Status.UNDECIDED and not undecided.met
    missed = judge(parse_slo("read_latency_p99<25ms"), values)
    assert missed.status is Status.MISSED and missed.end == "lower end" and missed.value == pytest.approx(0.040 - half)
    throughput = judge(parse_slo("read_throughput>25/s"), [35.0, 40.0, 45.0])
    assert throughput.met and throughput.end == "lower end" and throughput.value == pytest.approx(40 - half * 1000)


def test_a_replication_without_a_value_fails_the_slo():
    """visibility_t99 of 5 s, none, none: the one value meets < 10 s, but two runs never reached 99%."""
    judged = judge(parse_slo("visibility_t99<10s"), [5.0, math.nan, None])
    assert judged.status is Status.MISSED and (judged.n, judged.missing) == (3, 2)
    assert judge(parse_slo("visibility_t99>1s"), [5.0, math.nan, 6.0]).status is Status.MISSED  # either direction
    none = judge(parse_slo("visibility_t99<10s"), [math.nan, math.nan])
    assert none.reason == "no replication has a value of visibility_t99, which fails the SLO"


def test_one_replication_and_a_stopped_run_decide_nothing_in_the_slos_favour():
    one = judge(parse_slo("read_latency_p99<50ms"), [0.010])
    assert one.status is Status.UNDECIDED and one.n == 1 and "one replication gives no interval" in one.reason
    stopped = judge(parse_slo("read_latency_p99<50ms"), [0.010, 0.011], stopped=True)
    assert stopped.status is Status.MISSED and "runaway" in stopped.reason


def test_a_zero_width_interval_at_the_bound_meets_only_an_inclusive_slo():
    assert judge(parse_slo("stale_read_fraction<=1%"), [0.01, 0.01]).met
    assert judge(parse_slo("stale_read_fraction<1%"), [0.01, 0.01]).status is Status.MISSED


def _fake_runs(p99_by_rate):
    """A simulate() stand-in: each value of workload.reads.rate gives these p99s, one per replication."""
    def simulate(scenario, executor=None):
        ((_, rate),) = scenario.workload.reads.rate  # a constant rate: one (from, rate) step
        values = p99_by_rate(rate)
        runs = pd.DataFrame({"architecture": "cqrs", "replication": range(len(values)), "read_latency_p99": values})
        return SimpleNamespace(per_replication=runs, incomplete=[])
    return simulate


def test_capacity_judges_by_the_same_rule_as_optimize(monkeypatch):
    """At every rate the replications give p99 of 30 and 60 ms: mean 45 ms, which is below 50 ms, but the interval
    (45 ± 12.7 × 15 ms) reaches far past it. By the shared rule no rate meets p99 < 50 ms (capacity used to judge
    the mean alone and found the SLO met across the whole range)."""
    monkeypatch.setattr(capacity_module, "simulate", _fake_runs(lambda rate: [0.030, 0.060]))
    (result,) = capacity_search(SCENARIOS / "mmc.yaml", "workload.reads.rate", [parse_slo("read_latency_p99<50ms")],
                                value_range=(400.0, 900.0), sets=["architectures=[cqrs]"], fixed=True)
    assert result.answer is None and "not all met even at" in result.note
    (evaluation,) = result.evaluations
    (judged,) = evaluation.judgements
    assert judged.status is Status.UNDECIDED and evaluation.n == 2 and not evaluation.holds


def test_capacity_bisects_on_the_worse_end(monkeypatch):
    """p99 = rate × 50 µs ± 1 ms over three replications: the upper end of the interval, rate × 50 µs + 2.48 ms,
    crosses 50 ms at 950.3/s, below the 1000/s where the mean does."""
    monkeypatch.setattr(capacity_module, "simulate",
                        _fake_runs(lambda rate: [rate * 50e-6 - 0.001, rate * 50e-6, rate * 50e-6 + 0.001]))
    (result,) = capacity_search(SCENARIOS / "mmc.yaml", "workload.reads.rate", [parse_slo("read_latency_p99<50ms")],
                                value_range=(400.0, 1200.0), sets=["architectures=[cqrs]"], tolerance=0.001, fixed=True)
    half = 4.302652729911275 * 0.001 / math.sqrt(3)
    assert result.answer == pytest.approx((0.050 - half) / 50e-6, abs=1.0)
    assert all(e.n == 3 for e in result.evaluations)


def test_capacity_refuses_one_replication():
    with pytest.raises(ScenarioError, match="one replication does not give"):
        capacity_search(SCENARIOS / "mmc.yaml", "workload.reads.rate", [parse_slo("read_latency_p99<50ms")],
                        value_range=(400.0, 900.0), sets=["replications=1"])


def test_the_rule_names_the_interval_and_its_ends():
    assert "95% Student-t interval" in RULE and "upper end for < and <=" in RULE and "lower end for > and >=" in RULE


def test_capacity_refuses_a_cost_slo_without_prices():
    """mmc.yaml has no cost: block, so no cost_per_hour: said before anything runs (it used to fail every value)."""
    with pytest.raises(ScenarioError, match="the scenario gives no prices, so there is no cost_per_hour"):
        capacity_search(SCENARIOS / "mmc.yaml", "workload.reads.rate", [parse_slo("cost_per_hour<3")],
                        value_range=(400.0, 900.0))
