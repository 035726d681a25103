"""Unit tests of the small parts: units, distributions, arrivals, slots, routing, rollout batches, analytic formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from cqrs_sim.analysis.queueing import erlang_c, mg1_wait, mmc_wait
from cqrs_sim.config.distributions import Distribution
from cqrs_sim.config.rollout import batch_size
from cqrs_sim.model.routing import least_outstanding, round_robin, round_robin_in_pool
from cqrs_sim.model.slots import Slots
from cqrs_sim.config.designs import Sync
from cqrs_sim.workload.streams import stream
from cqrs_sim.config.format import format_duration
from cqrs_sim.config.units import parse_duration, parse_rate
from cqrs_sim.workload.draws import read_arrivals

DIST = TypeAdapter(Distribution)


@pytest.mark.parametrize("text, seconds", [
    (5, 5.0), (0.25, 0.25), ("250ms", 0.25), ("30s", 30.0), ("15m", 900.0), ("2h", 7200.0), ("1d", 86400.0),
    ("1.5min", 90.0), ("500us", 5e-4), ("  3 s ", 3.0), ("10", 10.0), ("1e3ms", 1.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["-1s", "5 parsecs", "fast", True, None, [1], "nan", float("inf")])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("text, rate", [(800, 800.0), ("800/s", 800.0), ("5/m", 5 / 60), ("2/h", 2 / 3600), ("0/s", 0.0)])
def test_parse_rate(text, rate):
    assert parse_rate(text) == pytest.approx(rate)


def test_format_duration():
    assert [format_duration(x) for x in (0, 2e-5, 0.0042, 3.5, 600, 10800)] == ["0s", "20us", "4.2ms", "3.5s", "10min", "3h"]


@pytest.mark.parametrize("spec", [
    {"dist": "exponential", "mean": "2s"},
    {"dist": "uniform", "low": 1, "high": 3},
    {"dist": "normal", "mean": 1, "sd": 1},
    {"dist": "lognormal", "mean": "4ms", "cv": 1.5},
    {"dist": "gamma", "mean": 2, "cv": 0.5},
    {"dist": "empirical", "samples": [1, "2s", 6]},
])
def test_distribution_moments(spec):
    """Sample mean and variance agree with the analytic moments (5 standard errors)."""
    d = DIST.validate_python(spec)
    x = d.sample(stream(1, 0, "test"), 400_000)
    assert (x >= 0).all()
    assert abs(x.mean() - d.mean) < 5 * math.sqrt(d.variance / len(x))
    assert x.var() == pytest.approx(d.variance, rel=0.05)


def test_constant_from_number_and_string():
    assert DIST.validate_python("4ms").mean == pytest.approx(0.004)
    assert DIST.validate_python(3).sample(stream(1, 0, "x"), 3).tolist() == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("spec", [
    {"dist": "uniform", "low": 3, "high": 1}, {"dist": "exponential", "mean": 0}, {"dist": "lognormal", "mean": 1},
    {"dist": "gamma", "mean": 1, "cv": -1}, {"dist": "empirical", "samples": []}, {"dist": "normal", "mean": -1, "sd": 1},
])
def test_distribution_rejects(spec):
    with pytest.raises(ValidationError):
        DIST.validate_python(spec)


def test_streams_are_independent_and_stable():
    a = stream(42, 0, "read.arrivals").random(3)
    assert np.array_equal(a, stream(42, 0, "read.arrivals").random(3))
    assert not np.array_equal(a, stream(42, 1, "read.arrivals").random(3))
    assert not np.array_equal(a, stream(42, 0, "read.query_time").random(3))


def test_uniform_arrivals_follow_steps():
    t = np.concatenate(list(read_arrivals([(0.0, 10.0), (5.0, 0.0), (8.0, 20.0)], 10.0, "uniform", stream(1, 0, "a"))))
    assert len(t) == 50 + 40
    np.testing.assert_allclose(t[:3], [0.0, 0.1, 0.2])
    assert not ((t >= 5) & (t < 8)).any()
    assert t[50] == pytest.approx(8.0) and t[-1] < 10


def test_poisson_arrival_counts():
    """Counts per step are Poisson (mean = rate × length, 5 sd), gaps are exponential, blocks join up."""
    blocks = list(read_arrivals([(0.0, 1000.0), (100.0, 10.0)], 200.0, "poisson", stream(1, 0, "a")))
    assert len(blocks) > 1  # more than one block of 65,536
    t = np.concatenate(blocks)
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 200
    first, second = (t < 100).sum(), (t >= 100).sum()
    assert abs(first - 100_000) < 5 * math.sqrt(100_000)
    assert abs(second - 1_000) < 5 * math.sqrt(1_000)
    gaps = np.diff(t[t < 100])
    assert gaps.mean() == pytest.approx(1e-3, rel=0.02) and gaps.std() == pytest.approx(1e-3, rel=0.02)


def test_slots_are_fifo():
    slots = Slots(2)
    log = []
    for k in range(5):
        slots.acquire(log.append, k)
    assert log == [0, 1] and slots.queued == 3
    slots.release()
    slots.release()
    assert log == [0, 1, 2, 3]
    slots.release()
    slots.release()
    slots.release()
    assert log == [0, 1, 2, 3, 4] and slots.free == 2


def test_round_robin_and_least_outstanding():
    pick = round_robin(3)
    assert [pick() for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    load = [0, 0, 0]
    pick = least_outstanding(load, [0, 1, 2])
    assert [pick() for _ in range(3)] == [0, 1, 2]  # idle servers share work
    load[:] = [3, 1, 2]
    assert pick() == 1


def test_round_robin_skips_servers_out_of_the_pool():
    """The pool is a live list: a server that leaves is skipped, and taken again in its turn when it is back."""
    pool = [0, 1, 2, 3]
    pick = round_robin_in_pool(pool, 4)
    assert [pick() for _ in range(2)] == [0, 1]
    pool.remove(2)
    assert [pick() for _ in range(3)] == [3, 0, 1]
    pool.insert(2, 2)
    assert [pick() for _ in range(3)] == [2, 3, 0]


def test_least_outstanding_tie_rules():
    """All idle: ``past_pick`` and ``rotate`` both cycle. With load only on server 0, ``past_pick`` searches next
    from past the server it picked, ``rotate`` from one position past where it started."""
    load = [1, 0, 0, 0]
    past = least_outstanding(load, [0, 1, 2, 3], "past_pick")
    assert [past() for _ in range(4)] == [1, 2, 3, 1]  # starts 0 (busy) -> 1; then 2, 3; then 0 (busy) -> 1
    rotate = least_outstanding(load, [0, 1, 2, 3], "rotate")
    assert [rotate() for _ in range(4)] == [1, 1, 2, 3]  # starts 0 -> 1; starts 1; starts 2; starts 3


def test_queueing_formulas():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert mmc_wait(0.5, 1.0, 1) == pytest.approx(1.0)  # M/M/1: ρ/(μ−λ)
    assert mg1_wait(0.5, 1.0, 0.0) == pytest.approx(0.5)  # M/D/1: ρ/(2μ(1−ρ))
    assert math.isinf(mmc_wait(2.0, 1.0, 1))


def test_rollout_batch_size():
    """Replicas a rollout handles together, by strategy, never more than there are."""
    assert batch_size(Sync(strategy="rolling", batch_size=2), 6) == 2
    assert batch_size(Sync(strategy="rolling", batch_size=2, max_surge=3), 6) == 3
    assert batch_size(Sync(strategy="all_at_once"), 6) == 6
    assert batch_size(Sync(strategy="blue_green", build_parallelism=4), 6) == 4
    assert batch_size(Sync(strategy="blue_green", build_parallelism=9), 6) == 6
