"""Validation: Little's law on the results tables; common random numbers; seed reproducibility.

Little's law L = λW holds on every sample path up to edge effects: L is the
time-average number of reads in the system over the window (integrated from
each read's [arrival, finish]), λ the arrival rate and W the mean latency of
the reads arriving in it. The edge terms are bounded by the reads straddling
the window's ends, so on a window much longer than any latency the two sides
agree to well under 1%. (With netflix's two-minute CRUD write locks the edge
terms are minutes long, so the law is checked on a variant with 0.5 s writes.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cqrs_sim

from ..conftest import SCENARIOS

pytestmark = pytest.mark.validation


@pytest.fixture(scope="module")
def netflix_short():
    scenario = cqrs_sim.load_scenario(
        SCENARIOS / "netflix.yaml",
        {"duration": "12m", "warmup": "1m", "replications": 2, "record": "full",
         "workload.writes.interval": {"dist": "uniform", "low": "2m", "high": "4m"}},
    )
    return cqrs_sim.simulate(scenario)


@pytest.fixture(scope="module")
def short_writes():
    scenario = cqrs_sim.load_scenario(
        SCENARIOS / "netflix.yaml",
        {"duration": "12m", "warmup": "1m", "replications": 2, "record": "full", "workload.writes.apply_time": "500ms",
         "workload.writes.interval": {"dist": "exponential", "mean": "1m"}},
    )
    return cqrs_sim.simulate(scenario)


@pytest.mark.parametrize("arch", ["crud", "cqrs"])
def test_littles_law(short_writes, arch):
    s = short_writes.scenario
    lo, hi = s.warmup, s.duration
    req = short_writes.requests
    for rep in range(s.replications):
        reads = req[(req.architecture == arch) & (req.replication == rep) & (req.kind == "read")]
        arrival, finish = reads.arrival.to_numpy(), reads.finish.to_numpy()
        time_in_window = np.clip(np.minimum(finish, hi) - np.maximum(arrival, lo), 0, None).sum()
        L = time_in_window / (hi - lo)
        inside = (arrival >= lo) & (arrival < hi)
        lam = inside.sum() / (hi - lo)
        W = (finish - arrival)[inside].mean()
        print(f"{arch} rep {rep}: L = {L:.4f}, lambda W = {lam * W:.4f}")
        assert L == pytest.approx(lam * W, rel=0.01)


def test_common_random_numbers(netflix_short):
    """Both architectures see the same read arrivals, query times and write arrival/apply times."""
    req = netflix_short.requests
    for rep in range(netflix_short.scenario.replications):
        crud = req[(req.architecture == "crud") & (req.replication == rep)].sort_values(["kind", "id"])
        cqrs = req[(req.architecture == "cqrs") & (req.replication == rep)].sort_values(["kind", "id"])
        np.testing.assert_array_equal(crud.arrival.to_numpy(), cqrs.arrival.to_numpy())
        reads_crud, reads_cqrs = crud[crud.kind == "read"], cqrs[cqrs.kind == "read"]
        # the query time of read i is the same draw in both (drain: true, so no query restarts)
        np.testing.assert_allclose((reads_crud.finish - reads_crud.start).to_numpy(),
                                   (reads_cqrs.finish - reads_cqrs.start).to_numpy(), rtol=1e-9, atol=1e-12)
    w = netflix_short.writes
    crud_w = w[w.architecture == "crud"].sort_values(["replication", "arrival"])
    cqrs_w = w[w.architecture == "cqrs"].sort_values(["replication", "arrival"])
    np.testing.assert_array_equal(crud_w.arrival.to_numpy(), cqrs_w.arrival.to_numpy())
    np.testing.assert_allclose((crud_w.commit - crud_w.start).to_numpy(), (cqrs_w.commit - cqrs_w.start).to_numpy(), rtol=1e-12)
    assert len(crud_w) > 0


def test_replications_differ(netflix_short):
    req = netflix_short.requests
    a = req[(req.architecture == "crud") & (req.replication == 0) & (req.kind == "read")].arrival.to_numpy()
    b = req[(req.architecture == "crud") & (req.replication == 1) & (req.kind == "read")].arrival.to_numpy()
    assert len(a) != len(b) or not np.array_equal(a, b)


def test_same_seed_same_summary_other_seed_different():
    overrides = {"duration": "3m", "warmup": "20s", "replications": 2}
    path = SCENARIOS / "netflix.yaml"
    first = cqrs_sim.simulate(cqrs_sim.load_scenario(path, overrides)).summary()
    again = cqrs_sim.simulate(cqrs_sim.load_scenario(path, overrides)).summary()
    other = cqrs_sim.simulate(cqrs_sim.load_scenario(path, {**overrides, "seed": 43})).summary()
    pd.testing.assert_frame_equal(first, again)
    assert not first["mean"].equals(other["mean"])
