"""Validation: visibility_t99 and visibility_t999 are quantiles of the write-to-read lag (an M/G/1 sojourn time).

Set-up: Poisson writes at rate w = 1/s on one write server with
exponential apply times (an M/M/1 queue: by Burke's theorem its commits are
again Poisson at rate w); every commit reaches every replica at once, and a
replica projects events one at a time in commit order with gamma times of
mean m = 0.5 s and cv 1.5, so each replica is an M/G/1 queue (ρ = w m =
0.5) and a write becomes visible on a replica when its sojourn there ends.
Reads are routed at random, independently of the projectors' state, so the
visibility curve, P(a read starting t after a commit sees it), is the
sojourn time's distribution function, and ``visibility_t99`` (the first
time the curve reaches 99%) is its 99th percentile.

The reference is computed here, independently of the simulator: Lindley's
recursion W_{n+1} = max(0, W_n + S_n − A_{n+1}) over four million customers
per stream (vectorised: W_n = C_n − min_{k≤n} C_k with C the partial sums of
S − A), sojourn T = W + S, and its 99th and 99.9th percentiles over five
independent streams; the recursion is first checked against the
Pollaczek–Khinchine mean sojourn m + w E[S²] / (2 (1 − ρ)).

Tolerance: the reference must lie inside the 99% Student-t interval of the
eight replications' values, widened by the reference's own 99% interval; the
interval must be narrow (10% of the value for t99). The interval is not
widened by a bin: the estimator's resolution is 1/2000 of the curve's span.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim

from .stats import per_replication, t_interval

pytestmark = pytest.mark.validation

W, M, CV = 1.0, 0.5, 1.5

MG1 = f"""
duration: 6000s
warmup: 0s
seed: 5
replications: 8
architectures: [cqrs]
record: full
workload:
  reads:
    rate: 25/s
    handler_time: 0s
    query_time: 1ms
  writes:
    rate: {W}/s
    apply_time: {{dist: exponential, mean: 50ms}}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: 8, connections: 1000, routing: random}}
  sync: {{strategy: projection, projection_time: {{dist: gamma, mean: {M}s, cv: {CV}}}}}
"""


def lindley_sojourns(seed: int, customers: int = 4_000_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = 1 / CV**2
    service = rng.gamma(shape, M / shape, customers)
    between = rng.exponential(1 / W, customers)
    partial = np.concatenate([[0.0], np.cumsum(service[:-1] - between[1:])])
    wait = partial - np.minimum.accumulate(np.minimum(partial, 0.0))
    return wait + service


@pytest.fixture(scope="module")
def reference() -> dict[float, tuple[float, float, float]]:
    """level -> (mean, low, high) of the sojourn quantile over five Lindley streams."""
    streams = [lindley_sojourns(seed) for seed in range(5)]
    mean_sojourn = M + W * M**2 * (1 + CV**2) / (2 * (1 - W * M))
    assert np.mean([s.mean() for s in streams]) == pytest.approx(mean_sojourn, rel=0.02)
    return {level: t_interval([np.quantile(s, level) for s in streams]) for level in (0.99, 0.999)}


@pytest.fixture(scope="module")
def mg1(tmp_path_factory):
    path = tmp_path_factory.mktemp("mg1") / "mg1.yaml"
    path.write_text(MG1, encoding="utf-8")
    return cqrs_sim.simulate(cqrs_sim.load_scenario(path))


@pytest.mark.parametrize("metric, level, narrow", [("visibility_t99", 0.99, 0.10), ("visibility_t999", 0.999, 0.25)])
def test_visibility_times_are_the_mg1_sojourn_quantiles(mg1, reference, metric, level, narrow):
    theory, theory_low, theory_high = reference[level]
    values = per_replication(mg1, "cqrs", metric)
    assert np.isfinite(values).all()
    mean, low, high = t_interval(values)
    print(f"{metric}: simulated {mean:.3f} (99% CI {low:.3f}..{high:.3f}), "
          f"Lindley {theory:.3f} ({theory_low:.3f}..{theory_high:.3f}); per replication {np.round(values, 2)}")
    assert low - (theory - theory_low) <= theory <= high + (theory_high - theory)
    assert (high - low) / 2 < narrow * theory
    assert not math.isclose(values.min(), values.max())
