"""Validation against queueing theory: the simulator's read path is an M/M/c, M/M/1 or M/D/1 queue.

Set-up shared by every case: Poisson reads, zero handler time, one handler
whose slots never bind, no writes. CQRS: one replica with c connections;
CRUD: ``mvcc`` with c connections. Both are then the textbook queue, so

* M/M/c mean latency W = Wq + 1/μ with Wq = C(c, λ/μ) / (cμ − λ) (Erlang C);
* M/M/1 latency is exponential with rate μ − λ, so W = 1/(μ − λ),
  p50 = ln 2 / (μ − λ) and p99 = ln 100 / (μ − λ);
* M/D/1 (constant service S): Wq = ρ S / (2 (1 − ρ)) (Pollaczek–Khinchine).

Tolerance: the theory must lie inside the 99% Student-t interval of the
replications' means, and that interval must be narrow (half-width under 5%
of the theory unless stated), so a test cannot pass by being imprecise.
"""

from __future__ import annotations

import math

import pytest

import cqrs_sim
from cqrs_sim.analysis.queueing import erlang_c, mg1_wait, mmc_wait

from ..conftest import SCENARIOS
from .stats import per_replication, t_interval

pytestmark = pytest.mark.validation

QUEUE = """
duration: {duration}
warmup: 20s
seed: {seed}
replications: {replications}
workload:
  reads:
    rate: {rate}/s
    handler_time: 0s
    query_time: {query}
handlers: {{count: 1, concurrency: 100000}}
crud: {{connections: {c}, locking: mvcc}}
cqrs:
  replicas: {{count: 1, connections: {c}}}
"""


def run_queue(scenario_from, *, rate, query, c, duration="4m", replications=6, seed=5):
    text = QUEUE.format(rate=rate, query=query, c=c, duration=duration, replications=replications, seed=seed)
    return cqrs_sim.simulate(scenario_from(text))


def assert_agrees(results, metric, theory, rel_width=0.05):
    for arch in ("crud", "cqrs"):
        mean, low, high = t_interval(per_replication(results, arch, metric))
        print(f"{arch} {metric}: simulated {mean:.6g} (99% CI {low:.6g}..{high:.6g}), theory {theory:.6g}")
        assert low <= theory <= high, f"{arch}: theory {theory} outside the 99% CI [{low}, {high}]"
        assert (high - low) / 2 < rel_width * theory, f"{arch}: interval too wide to validate anything"


def test_erlang_c_formula_against_a_known_value():
    # Textbook check: c = 2, a = 1 erlang: C = 1/3 (Kleinrock); M/M/1: C = ρ.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)


def test_mmc_mean_latency_matches_erlang_c(scenario_from):
    """M/M/4 at ρ = 0.8: λ = 800/s, 1/μ = 4 ms; W = 6.982 ms."""
    results = run_queue(scenario_from, rate=800, query="{dist: exponential, mean: 4ms}", c=4)
    theory = mmc_wait(800, 0.004, 4) + 0.004
    assert theory == pytest.approx(0.006982, abs=1e-6)
    assert_agrees(results, "read_latency_mean", theory)


def test_mmc_shipped_scenario_matches_erlang_c():
    """scenarios/mmc.yaml, shortened: the same M/M/4 written as a user would."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "mmc.yaml", {"duration": "3m", "replications": 6})
    results = cqrs_sim.simulate(scenario)
    assert_agrees(results, "read_latency_mean", mmc_wait(800, 0.004, 4) + 0.004)


def test_mm1_latency_is_exponential(scenario_from):
    """M/M/1 at ρ = 0.7: λ = 175/s, μ = 250/s; W ~ Exp(75/s)."""
    results = run_queue(scenario_from, rate=175, query="{dist: exponential, mean: 4ms}", c=1, duration="6m", replications=8)
    gap = 250 - 175
    assert mmc_wait(175, 0.004, 1) + 0.004 == pytest.approx(1 / gap)
    assert_agrees(results, "read_latency_mean", 1 / gap)
    assert_agrees(results, "read_latency_p50", math.log(2) / gap)
    assert_agrees(results, "read_latency_p99", math.log(100) / gap, rel_width=0.08)


def test_md1_matches_pollaczek_khinchine(scenario_from):
    """M/D/1 at ρ = 0.8: λ = 200/s, S = 4 ms; Wq = 8 ms, W = 12 ms."""
    results = run_queue(scenario_from, rate=200, query="4ms", c=1, duration="4m", replications=8)
    theory = mg1_wait(200, 0.004, 0.0) + 0.004
    assert theory == pytest.approx(0.012)
    assert_agrees(results, "read_latency_mean", theory)


def test_utilization_matches_offered_load(scenario_from):
    """Connection utilisation of M/M/4 = λ / (c μ) = 0.8."""
    results = run_queue(scenario_from, rate=800, query="{dist: exponential, mean: 4ms}", c=4, duration="2m", replications=4)
    assert_agrees(results, "db_utilization", 0.8, rel_width=0.04)
