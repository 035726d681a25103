"""Validation: monotonic reads per client and key during rolling rollouts, sticky and random routing; read-your-writes.

Timeline. n replicas, rolling one at a time (batch 1), constant replace time
R, drain on; reads evenly spaced, constant 1 ms query, no handler time and
no queueing, so reads start and finish in arrival order; writes far apart,
each committing at c and rolling out over [c, c + nR): during slot i
(t − c in [iR, (i+1)R)) replica i is out, replicas 0..i−1 hold the new
version v and i+1..n−1 the old v − 1. Each read belongs to one of C clients.

Sticky routing (rendezvous hashing) gives zero violations. A client's reads
go to its first-choice replica r while r is in the pool. Before r leaves, r
holds v − 1, the oldest version anywhere; while r is out, its reads go to
the client's next choice, which holds v − 1 or v and stays in the pool until
r is back (one replica out at a time); r comes back holding v, the newest.
So the versions a client sees never decrease in time, and, with reads
finishing in the order they start, never decrease in answer order either.
(Drain matters: reads already running on r finish on v − 1 before any later
read of the client starts, since queries are 1 ms and reads 10 ms apart.)

Random routing gives a positive share. A read in slot i sees the new
version v with probability q = i / (n − 1) (uniform over the n − 1
replicas in the pool); after the rollout, q = 1 until the next commit.
A read violates monotonic reads when it returns, for its key, an older
version than the newest version of that key its client has already read
(Terry et al. 1994, per object as Jepsen and PBS state it): within a
rollout, a client that has read v of a key and now reads v − 1 of it.
Routing draws are independent, so the expected count is computed here by a
Monte Carlo of that timeline, independent of the simulator's code: it takes
the reads' times, clients and keys and the writes' keys as the run drew
them (they come from streams of their own), draws each read's replica
uniformly from the pool of its slot, and counts violations by the
definition (pandas, per client and key). The simulator's count must lie
within four of the Monte Carlo's standard deviations of its mean, with one
shared item and with 20 Zipf keys. Separately, the simulator's per-read
flags must equal a plain loop over the definition applied to the versions
it recorded.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import cqrs_sim

pytestmark = pytest.mark.validation

COUNT, REPLACE, GAP, WRITES, RATE, CLIENTS = 4, 5.0, 40.0, 10, 100.0, 3
COMMIT_OFFSET = 3.3037 + 1.0  # write at 40k + 3.3037 s, 1 s apply: off the 10 ms read grid


def scenario(routing: str, keys: str = "") -> str:
    at = ", ".join(f"{GAP * k + 3.3037:.4f}s" for k in range(WRITES))
    return f"""
duration: {GAP * WRITES}s
warmup: 0s
seed: 11
replications: 1
record: full
architectures: [cqrs]
workload:
  {keys}
  reads: {{rate: {RATE}/s, process: uniform, query_time: 1ms, clients: {CLIENTS}}}
  writes: {{at: [{at}], apply_time: 1s}}
handlers: {{count: 1, concurrency: 100000}}
cqrs:
  replicas: {{count: {COUNT}, connections: 8, routing: {routing}}}
  sync: {{strategy: rolling, batch_size: 1, replace_time: {REPLACE}s, drain: true}}
"""


def q_new(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(window, probability of seeing the window's newest version) for reads at times t."""
    commits = GAP * np.arange(WRITES) + COMMIT_OFFSET
    window = np.searchsorted(commits, t, side="right") - 1  # -1: before the first commit
    since = t - commits[np.maximum(window, 0)]
    slot = np.floor(since / REPLACE)
    q = np.where(slot >= COUNT, 1.0, slot / (COUNT - 1))
    return window, np.where(window < 0, 1.0, q)  # before any write every replica holds version 0


def test_sticky_routing_gives_no_violations(scenario_from):
    for keys in ("", "keys: {count: 3}"):
        results = cqrs_sim.simulate(scenario_from(scenario("sticky", keys)))
        reads = results.requests[results.requests.kind == "read"]
        assert (reads.version_seen < reads.version_latest).sum() > 1000  # rollouts did leave reads behind
        assert results.per_replication.iloc[0].monotonic_read_violations == 0.0
        assert not reads.monotonic_violation.any()
        # each client stays on one replica except while that one is out (R of every GAP seconds)
        on_first_choice = reads.groupby("client").replica.agg(lambda r: r.value_counts().iloc[0] / len(r))
        assert (on_first_choice > 1 - REPLACE / GAP - 0.02).all()
        assert (on_first_choice < 1).all()


def violations_by_loop(reads: pd.DataFrame, write_keys: dict[int, int]) -> np.ndarray:
    """The definition, read by read in answer order: the version of its key a read returned (the newest write to
    the key at or before the version it saw) against the newest its client had read of that key."""
    newest: dict[tuple[int, int], int] = {}
    out = []
    for client, key, seen in zip(reads.client, reads.key, reads.version_seen):
        version = max((v for v in range(1, seen + 1) if write_keys[v] == key), default=0)
        out.append(version < newest.get((client, key), -1))
        newest[(client, key)] = max(newest.get((client, key), -1), version)
    return np.array(out)


def monte_carlo(t: np.ndarray, client: np.ndarray, key: np.ndarray, write_keys: dict[int, int],
                runs: int = 300) -> tuple[float, float]:
    """(mean, standard deviation) of the violation count over ``runs`` draws of the routing on the timeline."""
    window, q = q_new(t)
    new = window + 1  # the window's newest version; before the first commit every replica holds version 0
    # the version of each key each snapshot holds: last[s, k] = the newest write ≤ s to key k
    keys = max(int(key.max()), max(write_keys.values())) + 1
    last = np.zeros((WRITES + 1, keys), dtype=np.int64)
    for s in range(1, WRITES + 1):
        last[s] = last[s - 1]
        last[s, write_keys[s]] = s
    rng = np.random.default_rng(2024)
    counts = []
    for _ in range(runs):
        seen = np.where(rng.random(len(t)) < q, new, new - 1)
        frame = pd.DataFrame({"client": client, "key": key, "version": last[seen, key]})
        before = frame.groupby(["client", "key"]).version.cummax()
        before = before.groupby([frame.client, frame.key]).shift(1)
        counts.append(int((frame.version < before).sum()))
    return float(np.mean(counts)), float(np.std(counts, ddof=1))


@pytest.mark.parametrize("keys", ["", "keys: {count: 20, popularity: {zipf: 1.0}}"], ids=["one-item", "zipf-keys"])
def test_random_routing_matches_a_monte_carlo_of_the_timeline(scenario_from, keys):
    results = cqrs_sim.simulate(scenario_from(scenario("random", keys)))
    req = results.requests
    reads = req[req.kind == "read"].sort_values("finish")  # the order the clients got the answers
    if "key" not in reads:
        reads = reads.assign(key=0)
    writes = req[req.kind == "write"]
    write_keys = dict(zip(writes.version_latest, writes.key)) if keys else {v: 0 for v in range(1, WRITES + 1)}
    assert sorted(write_keys) == list(range(1, WRITES + 1))
    got = reads.monotonic_violation.to_numpy()
    np.testing.assert_array_equal(got, violations_by_loop(reads, write_keys))
    mean, sd = monte_carlo(reads.arrival.to_numpy(), reads.client.to_numpy(), reads.key.to_numpy(), write_keys)
    print(f"violations: simulated {got.sum()}, Monte Carlo {mean:.1f} ± {4 * sd:.1f} (4σ) of {len(reads)} reads")
    assert mean > 50
    assert abs(got.sum() - mean) < 4 * sd + 1
    assert results.per_replication.iloc[0].monotonic_read_violations == pytest.approx(got.sum() / len(reads))


RYW = """
duration: 60s
warmup: 0s
replications: 1
record: full
architectures: [cqrs]
workload:
  reads: {rate: 1/s, process: uniform, query_time: 1ms, clients: CLIENTS}
  writes: {at: [10.3s, 12.3s], apply_time: 1s, read_back: {after: 14s}}
handlers: {count: 1, concurrency: 100}
cqrs:
  replicas: {count: 2, connections: 8, routing: random}
  sync: {strategy: rolling, batch_size: 1, replace_time: 10s, drain: true}
"""


@pytest.mark.parametrize("clients, expected", [(1, 1.0), (None, 0.5)])
def test_a_read_back_must_see_the_writers_last_write(scenario_from, clients, expected):
    """Writes arrive at 10.3 and 12.3 and commit at 11.3 (v1) and 13.3 (v2). The rollout of v1 swaps replica 0
    [11.3, 21.3] then replica 1 [21.3, 31.3]; v2 follows: [31.3, 41.3], [41.3, 51.3]. The writers read back 14 s
    after their commits, at 25.3 and 27.3, when only replica 0 (holding v1) is in the pool: both see v1. With one
    client, both writes are its own, so by 25.3 its last write is v2: both read-backs miss it (1.0). Without
    clients each write is its own writer: v1's read-back sees v1, v2's misses v2 (0.5). (Reads arrive on whole
    seconds, off every event above.)"""
    text = RYW.replace(", clients: CLIENTS", "" if clients is None else f", clients: {clients}")
    results = cqrs_sim.simulate(scenario_from(text))
    swaps = results.replicas.sort_values("out")
    np.testing.assert_allclose(swaps[["out", "back"]].to_numpy(), [[11.3, 21.3], [21.3, 31.3], [31.3, 41.3], [41.3, 51.3]])
    assert results.per_replication.iloc[0].read_your_writes_violations == expected
