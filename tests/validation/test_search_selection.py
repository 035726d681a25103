"""Validation against queueing theory: the cheapest-first search picks the right design as often as it promises.

Each design is CQRS with r replicas of 2 connections each, reads routed to a
replica at random: Poisson thinning makes every replica an M/M/2 queue at
λ/r, so a read's latency is its sojourn time there, W = Wq + S with
S ~ Exp(μ), Wq = 0 with probability 1 − C and Exp(2μ − λ/r) otherwise,
C = Erlang C(2, λ/(rμ)). Its 99th percentile solves
P(W > t) = (1 − C) e^{−μt} + C (θ e^{−μt} − μ e^{−θt}) / (θ − μ) = 0.01, θ = 2μ − λ/r.
At λ = 1200/s and μ = 250/s (4 ms queries): r = 2 overloads each replica
(utilisation 1.2: screened), r = 3 gives p99 47.7 ms, r = 4 26.3 ms, r = 5
22.2 ms. With the SLO read_latency_p99 < 35 ms and each replica priced, the
cheapest design meeting it is r = 4.

The search promises that with probability at least 95% every decision is
right, so it picks r = 4 in at least 95% of independent searches (seeds).
Over 20 seeds, 4 or more wrong answers would have probability 1.6% if it
kept that promise exactly (binomial, p = 0.05): the test allows at most 3.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from scipy.optimize import brentq

from cqrs_sim.analysis.queueing import erlang_c
from cqrs_sim.experiments.search import search
from cqrs_sim.analysis.slo import parse_slos

pytestmark = pytest.mark.validation

LAMBDA, MU, CONNECTIONS = 1200.0, 250.0, 2
SCENARIO = """\
name: mm2-replicas
duration: 8s
warmup: 1s
seed: {seed}
replications: 2
workload:
  reads: {{rate: 1200/s, process: poisson, handler_time: 0s, query_time: {{dist: exponential, mean: 4ms}}}}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: 3, connections: 2, routing: random}}
cost: {{instance_hour: 1, write_instance_hour: 1}}
architectures: [cqrs]
"""
SEEDS = range(1, 21)


def sojourn_p99(rate: float, mu: float, servers: int, q: float = 0.99) -> float:
    """The q-quantile of the M/M/c sojourn time (Erlang C waiting, exponential service)."""
    waits = erlang_c(servers, rate / mu)
    theta = servers * mu - rate

    def tail(t: float) -> float:
        both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
        return (1 - waits) * math.exp(-mu * t) + waits * both - (1 - q)

    return brentq(tail, 0.0, 10.0)


def test_the_slo_bound_lies_between_two_designs():
    p99 = {r: sojourn_p99(LAMBDA / r, MU, CONNECTIONS) for r in (3, 4, 5)}
    assert p99[3] == pytest.approx(0.04775, abs=1e-4) and p99[4] == pytest.approx(0.02627, abs=1e-4)
    assert p99[4] < 0.035 < p99[3]


def test_the_search_picks_the_cheapest_design_meeting_the_slo_as_often_as_it_promises(tmp_path):
    slos = parse_slos(["read_latency_p99<35ms"])
    wrong, replications = [], []
    with ThreadPoolExecutor(1) as executor:
        for seed in SEEDS:
            path = tmp_path / f"s{seed}.yaml"
            path.write_text(SCENARIO.format(seed=seed))
            optimum = search(path, ["cqrs.replicas.count=2,3,4,5"], slos, tmp_path / f"o{seed}", executor, width=1)
            statuses = {d.settings["cqrs.replicas.count"]: d.status for d in optimum.designs}
            assert statuses[2] == "screened"  # utilisation 1.2 on each replica: never simulated
            assert statuses[5] == "not needed"  # costs more than the answer: never simulated
            answer = None if optimum.best is None else optimum.best.settings["cqrs.replicas.count"]
            if answer != 4:
                wrong.append((seed, answer, statuses))
            replications.append(optimum.procedure["replications"])
            assert optimum.procedure["confidence"] == 0.95
    assert len(wrong) <= 3, wrong
    print(f"wrong answers: {len(wrong)} of {len(SEEDS)}; replications per search: {replications}")
