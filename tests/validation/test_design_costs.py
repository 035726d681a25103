"""Validation: each design pays its own query time, and the two stay paired read by read.

Set-up: Poisson reads at λ = 100/s, no handler time, one handler whose
slots never bind, no writes; CRUD ``mvcc`` with 2 connections, CQRS one
replica with 2 connections. The workload's query time is a constant 5 ms,
but CRUD sets ``crud.query_time`` exponential with mean 12 ms (joins on a
normalized schema) and CQRS sets ``cqrs.replicas.query_time`` exponential
with mean 10 ms (a lighter read model). Each design is then its own
M/M/2 queue, so its mean latency is W = C(2, λS) / (2/S − λ) + S
(Erlang C) with its own S: CRUD ρ = 0.6, W = 18.75 ms; CQRS ρ = 0.5,
W = 13.33 ms.

Pairing: both designs map the same uniform per read through their own
inverse CDF (a constant has no spread of its own, so the uniform comes from
the coupling stream, the same for both), and share arrivals. The
replications' CRUD − CQRS differences then vary less than two independent
samples would: the paired interval's half-width (from the variance of the
differences) must be below the unpaired one's (from the sum of the two
variances), by a clear margin (measured: about 0.43 of it; asserted: under
2/3 of it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.analysis.queueing import mmc_wait
from cqrs_sim.config.distributions import couple
from cqrs_sim.config.scenario import query_time_of

from .stats import per_replication, t_interval

pytestmark = pytest.mark.validation

TWO_MODELS = """
duration: 4m
warmup: 20s
seed: 11
replications: 8
workload:
  reads:
    rate: 100/s
    handler_time: 0s
    query_time: 5ms
handlers: {count: 1, concurrency: 100000}
crud: {connections: 2, locking: mvcc, query_time: {dist: exponential, mean: 12ms}}
cqrs:
  replicas: {count: 1, connections: 2, query_time: {dist: exponential, mean: 10ms}}
"""


def test_each_design_matches_its_own_erlang_c(scenario_from):
    scenario = scenario_from(TWO_MODELS)
    results = cqrs_sim.simulate(scenario)
    for arch, service in (("crud", 0.012), ("cqrs", 0.010)):
        assert query_time_of(scenario, arch).mean == pytest.approx(service)
        theory = mmc_wait(100.0, service, 2) + service
        mean, low, high = t_interval(per_replication(results, arch, "read_latency_mean"))
        print(f"{arch}: simulated {mean * 1e3:.4f} ms (99% CI {low * 1e3:.4f}..{high * 1e3:.4f}), "
              f"Erlang C {theory * 1e3:.4f} ms")
        assert low <= theory <= high
        assert (high - low) / 2 < 0.05 * theory, "interval too wide to validate anything"

    crud = per_replication(results, "crud", "read_latency_mean")
    cqrs = per_replication(results, "cqrs", "read_latency_mean")
    paired = np.std(crud - cqrs, ddof=1)
    unpaired = math.sqrt(np.var(crud, ddof=1) + np.var(cqrs, ddof=1))
    print(f"sd of the paired difference {paired * 1e3:.4f} ms, of an unpaired one {unpaired * 1e3:.4f} ms")
    assert paired < unpaired * 2 / 3


@pytest.mark.parametrize("source, target", [
    ({"dist": "exponential", "mean": 0.005}, {"dist": "lognormal", "mean": 0.002, "cv": 0.5}),
    (0.005, {"dist": "gamma", "mean": 0.012, "cv": 2}),
    ({"dist": "empirical", "samples": [0.001, 0.002, 0.004]}, {"dist": "uniform", "low": 0.001, "high": 0.003}),
])
def test_coupling_keeps_the_target_distribution_and_the_order(source, target):
    """The coupled values have the target's mean and variance (to sampling error on 200,000 draws), and are
    comonotone with the source draws: a longer source draw never maps to a shorter target value."""
    from pydantic import TypeAdapter

    from cqrs_sim.config.distributions import Distribution

    adapt = TypeAdapter(Distribution).validate_python
    src, tgt = adapt(source), adapt(target)
    rng = np.random.default_rng(3)
    x = src.sample(rng, 200_000)
    y = couple(x, src, tgt, np.random.default_rng(4))
    assert y.mean() == pytest.approx(tgt.mean, rel=0.02)
    assert y.var() == pytest.approx(tgt.variance, rel=0.1)
    if not src.has_atoms:
        order = np.argsort(x, kind="stable")
        assert np.all(np.diff(y[order]) >= 0)
