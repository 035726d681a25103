"""Validation: staleness by key during rolling rollouts, against its closed form.

Derivation. Writes come far enough apart that every rollout ends before the
next commit, so a read that is stale by version lacks exactly one write: its
version_latest is version_seen + 1, and that write's keys decide whether the
read is stale for its own key. A read's key is drawn (stream ``read.key``)
independently of its routing and timing and of the write's key (stream
``write.key``); one key per write.

* N keys, uniform popularity, writes choose keys uniformly: given the write's
  key w, a version-stale read reads w with probability 1/N, independently of
  the other reads. So the number K of key-stale reads, given the number S of
  version-stale reads, is Binomial(S, 1/N): key stale fraction = version stale
  fraction / N, within 4 standard deviations sqrt(S (1/N)(1 − 1/N)).
* Popularity p_i (Zipf) for reads, writes choosing keys by popularity: given
  write j's key w_j, each of its S_j version-stale reads reads w_j with
  probability p_{w_j}; averaged over w_j, E[p_w] = Σ p_i², so
  E[K] = S Σ p_i². The variance adds the spread of p_w across writes:
  Var K = Σ_j [S_j (Σp² − Σp³) + S_j² (Σp³ − (Σp²)²)]. The test checks
  K / S against Σ p_i² within 4 of those standard deviations, and, more
  tightly, K against Σ_j S_j p_{w_j} given the drawn write keys
  (variance Σ_j S_j p_{w_j}(1 − p_{w_j})).

In both, staleness is measured from the write's commit: with one write
missing, the same as the version staleness.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.workload.keys import popularity
from cqrs_sim.config.workload import Keys

pytestmark = pytest.mark.validation

GAP, REPLACE, COUNT = 10.0, 1.0, 4  # a write every 10 s; a rollout takes 4 x 1 s


def scenario(keys: str, choose: str, writes: int, rate: float = 100.0) -> str:
    at = [f"{GAP * k + 3.3037:.4f}s" for k in range(writes)]
    return f"""
duration: {GAP * writes + 5}s
warmup: 0s
seed: 7
replications: 1
record: full
architectures: [cqrs]
workload:
  keys: {keys}
  reads: {{rate: {rate}/s, process: uniform, query_time: 1ms}}
  writes:
    at: [{", ".join(at)}]
    apply_time: 1s
    keys: {{count: 1, choose: {choose}}}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: {COUNT}, connections: 8, routing: random}}
  sync: {{strategy: rolling, batch_size: 1, replace_time: {REPLACE}s, drain: true}}
"""


def stale_reads(results):
    reads = results.requests[results.requests.kind == "read"]
    version_stale = reads[reads.stale_version]
    # every rollout ends before the next commit: a stale read lacks exactly one write
    assert (version_stale.version_latest == version_stale.version_seen + 1).all()
    assert len(version_stale) > 1000
    # key-stale reads are version-stale reads of the missing write's key, with the same staleness
    assert not (reads.stale & ~reads.stale_version).any()
    return reads, version_stale


def test_uniform_keys_divide_the_stale_fraction_by_n(scenario_from):
    n_keys = 10
    results = cqrs_sim.simulate(scenario_from(scenario(f"{{count: {n_keys}}}", "uniform", 60)))
    reads, version_stale = stale_reads(results)
    s, k = len(version_stale), int(reads.stale.sum())
    sigma = math.sqrt(s * (1 / n_keys) * (1 - 1 / n_keys))
    print(f"version-stale reads {s}, key-stale {k}, expected {s / n_keys:.1f} ± {4 * sigma:.1f}")
    assert abs(k - s / n_keys) < 4 * sigma
    row = results.per_replication.iloc[0]
    assert row.stale_version_fraction == pytest.approx(s / len(reads))
    assert row.stale_read_fraction == pytest.approx(k / len(reads))
    assert abs(row.stale_read_fraction - row.stale_version_fraction / n_keys) < 4 * sigma / len(reads)
    # staleness is from the commit of the one missing write (version_seen + 1)
    writes = results.writes.set_index("version")
    key_stale = reads[reads.stale]
    np.testing.assert_allclose(key_stale.staleness, key_stale.start - writes.commit[key_stale.version_latest].to_numpy())
    # and the write's key is the read's key
    assert (key_stale.key.to_numpy() == keys_of_versions(results)[key_stale.version_latest.to_numpy()]).all()


def keys_of_versions(results) -> np.ndarray:
    writes = results.requests[results.requests.kind == "write"]
    out = np.full(int(writes.version_latest.max()) + 1, -1)
    out[writes.version_latest.to_numpy()] = writes.key.to_numpy()
    return out


def test_zipf_keys_with_writes_by_popularity_give_the_sum_of_squares(scenario_from):
    n_keys, s_exp = 20, 1.0
    p = popularity(Keys(count=n_keys, popularity={"zipf": s_exp}))
    sum2, sum3 = float((p**2).sum()), float((p**3).sum())
    results = cqrs_sim.simulate(scenario_from(scenario(f"{{count: {n_keys}, popularity: {{zipf: {s_exp}}}}}",
                                                       "popularity", 400, rate=50.0)))
    reads, version_stale = stale_reads(results)
    per_write = version_stale.groupby("version_latest").size()
    s_j = per_write.to_numpy().astype(float)
    s, k = s_j.sum(), int(reads.stale.sum())

    sigma = math.sqrt((s_j * (sum2 - sum3) + s_j**2 * (sum3 - sum2**2)).sum())
    print(f"Σp² = {sum2:.4f}; key-stale / version-stale = {k / s:.4f} ± {4 * sigma / s:.4f}")
    assert abs(k - s * sum2) < 4 * sigma

    w = keys_of_versions(results)[per_write.index.to_numpy()]
    expected = float((s_j * p[w]).sum())
    sigma_given = math.sqrt(float((s_j * p[w] * (1 - p[w])).sum()))
    print(f"given the write keys: key-stale {k}, expected {expected:.1f} ± {4 * sigma_given:.1f}")
    assert abs(k - expected) < 4 * sigma_given
