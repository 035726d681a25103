"""Keys and clients: the lookups by hand, new keys, sticky routing, read-backs, recording modes and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.workload.keys import KeyIndex, key_staleness, popularity, popularity_cdf, ranks
from cqrs_sim.workload.sessions import Sessions, own_last_writes
from cqrs_sim.model.routing import rendezvous_order, router
from cqrs_sim.config.workload import Keys
from cqrs_sim.workload.draws import write_workload


def test_key_index_finds_the_first_write_to_a_key_after_a_version():
    # write j (arrival order) -> keys; versions in commit order (write 2 committed before write 1; write 3 not yet)
    keys = np.array([[5], [7], [5], [9]])
    index = KeyIndex(keys, [1, 3, 2, 0], commits=3)
    key = np.array([5, 5, 5, 7, 7, 9, 8])
    after = np.array([0, 1, 2, 0, 0, 0, 0])
    upto = np.array([3, 3, 3, 2, 3, 3, 3])
    np.testing.assert_array_equal(index.first_write(key, after, upto), [1, 2, 0, 0, 3, 0, 0])


def test_key_staleness_is_from_the_first_missing_write_to_the_key():
    keys = np.array([[1], [2], [1]])
    index = KeyIndex(keys, [1, 2, 3], commits=3)
    commit_time = np.array([0.0, 10.0, 20.0, 30.0])
    seen, latest = np.array([0, 0, 1, 3]), np.array([3, 3, 3, 3])
    start = np.full(4, 40.0)
    stale, staleness = key_staleness(index, np.array([1, 2, 2, 1]), seen, latest, start, commit_time)
    np.testing.assert_array_equal(stale, [True, True, True, False])
    np.testing.assert_allclose(staleness, [30.0, 20.0, 20.0, 0.0])
    # without keys: stale when behind, from the commit of the next version
    stale, staleness = key_staleness(None, seen, seen, latest, start, commit_time)
    np.testing.assert_array_equal(stale, [True, True, True, False])
    np.testing.assert_allclose(staleness, [30.0, 30.0, 20.0, 0.0])


def test_monotonic_reads_compare_with_the_newest_version_the_client_has_read():
    """Hand-derived, without keys: versions 10, 5, 7 are two violations (5 and 7 both older than 10), not one."""
    sessions = Sessions()
    got = sessions.violations(np.zeros(3, np.int64), np.array([10, 5, 7]), np.zeros(3, np.int64), np.ones(3, bool), None)
    np.testing.assert_array_equal(got, [False, True, True])
    # per client; a read the client gave up on shows nothing and is skipped (client 1's 0 is not compared)
    client = np.array([1, 0, 1, 1, 1])
    seen = np.array([4, 11, 3, 0, 5])
    answered = np.array([True, True, True, False, True])
    got = sessions.violations(client, seen, np.zeros(5, np.int64), answered, None)
    np.testing.assert_array_equal(got, [False, False, True, False, False])
    # the next block goes on from each client's newest version: client 0 has read 11, client 1 read 5
    got = sessions.violations(np.array([1, 0, 0]), np.array([4, 10, 12]), np.zeros(3, np.int64), np.ones(3, bool), None)
    np.testing.assert_array_equal(got, [True, True, False])


def test_monotonic_reads_are_per_key():
    """Hand-derived, with keys. Writes: v1 writes key 7, v2 key 4, v3 key 7, v4 key 9. One client reads, in order:
    key 4 at version 3 (key 4's version 2: fine); key 7 at version 2 (key 7's version 1; the client has read key 7
    never, so the older snapshot does not count: fine, though a key-blind check would flag it); key 7 at version 3
    (version 3: fine); key 7 at version 2 (version 1 < 3: a violation); key 4 at version 1 (version 0, the key
    not written yet, < 2: a violation); key 4 at version 2 (2: fine); key 9 at version 3 (not written, version 0:
    fine); key 7 at version 4 (3: fine); in a second call, key 7 at version 2 (1 < 3: a violation)."""
    index = KeyIndex(np.array([[7], [4], [7], [9]]), [1, 2, 3, 4], commits=4)
    np.testing.assert_array_equal(index.last_write(np.array([7, 7, 4, 4, 9, 5]), np.array([2, 4, 1, 3, 4, 4])),
                                  [1, 3, 0, 2, 4, 0])
    keyed = Sessions()
    key = np.array([4, 7, 7, 7, 4, 4, 9, 7])
    seen = np.array([3, 2, 3, 2, 1, 2, 3, 4])
    got = keyed.violations(np.zeros(8, np.int64), seen, key, np.ones(8, bool), index)
    np.testing.assert_array_equal(got, [False, False, False, True, True, False, False, False])
    got = keyed.violations(np.zeros(1, np.int64), np.array([2]), np.array([7]), np.ones(1, bool), index)
    np.testing.assert_array_equal(got, [True])


def test_monotonic_reads_match_a_plain_loop_on_random_sequences():
    """Many clients, Zipf keys, blocks of answers: the vectorised count equals a plain loop over the definition."""
    rng = np.random.default_rng(4)
    writes = 300
    keys_of_writes = rng.zipf(1.5, (writes, 1)) % 50
    index = KeyIndex(keys_of_writes, np.arange(1, writes + 1), commits=writes)
    sessions, newest = Sessions(), {}
    for _ in range(5):
        n = 4000
        client, key = rng.integers(0, 30, n), rng.zipf(1.5, n) % 50
        seen, answered = rng.integers(0, writes + 1, n), rng.random(n) < 0.95
        got = sessions.violations(client, seen, key, answered, index)
        expected = np.zeros(n, bool)
        for i in range(n):
            if not answered[i]:
                continue
            written = [v for v in range(1, seen[i] + 1) if keys_of_writes[v - 1, 0] == key[i]]
            version = written[-1] if written else 0
            pair = (client[i], key[i])
            expected[i] = version < newest.get(pair, -1)
            newest[pair] = max(newest.get(pair, -1), version)
        np.testing.assert_array_equal(got, expected)


def test_a_read_back_must_reflect_the_writers_own_last_write():
    """Writes (key, client, version): (3, 0, 1), (5, 1, 2), (3, 0, 3), (3, 1, 4), (3, 0, 5, not committed: 0).
    Client 0's read-back of key 3 sent once versions up to 4 have committed: its own last write to key 3 is
    version 3 (version 4 is client 1's, version 5 not committed). Up to 2: version 1. Client 1, key 5, up to 4:
    version 2; client 1, key 7 (never written by it): 0."""
    keys = np.array([[3], [5], [3], [3], [3]])
    version = np.array([1, 2, 3, 4, 0])
    client = np.array([0, 1, 0, 1, 0])
    got = own_last_writes(keys, version, client, np.array([3, 3, 5, 7]), np.array([0, 0, 1, 1]), np.array([4, 2, 4, 4]))
    np.testing.assert_array_equal(got, [3, 1, 2, 0])


def test_popularity_ranks_follow_zipf():
    keys = Keys(count=5, popularity={"zipf": 1.0})
    p = popularity(keys)
    np.testing.assert_allclose(p, (1 / np.arange(1, 6)) / (1 / np.arange(1, 6)).sum())
    r = ranks(np.random.default_rng(1).random(200_000), 5, popularity_cdf(keys))
    np.testing.assert_allclose(np.bincount(r, minlength=5) / len(r), p, atol=0.005)


def test_sticky_routing_keeps_clients_and_moves_only_a_leaving_servers_clients():
    fixed = router("sticky", 5, [0] * 5, lambda kind: None)
    read = lambda c: [0] * 14 + [c]  # noqa: E731  (CLIENT is the last position)
    homes = {c: fixed(read(c)) for c in range(200)}
    assert all(fixed(read(c)) == homes[c] for c in range(200))
    assert all(homes[c] == rendezvous_order(c, 5)[0] for c in range(200))
    assert len(set(homes.values())) == 5  # clients spread over every server

    pool = [0, 1, 2, 3, 4]
    live = router("sticky", 5, [0] * 5, lambda kind: None, pool=pool)
    assert all(live(read(c)) == homes[c] for c in range(200))
    pool.remove(2)
    moved = {c: live(read(c)) for c in range(200)}
    for c in range(200):
        if homes[c] == 2:
            assert moved[c] == rendezvous_order(c, 5)[1]
        else:
            assert moved[c] == homes[c]
    pool.insert(2, 2)
    assert all(live(read(c)) == homes[c] for c in range(200))


NEW_KEYS = """
duration: 200s
seed: 3
replications: 1
record: full
architectures: [cqrs]
workload:
  keys: {count: 2}
  reads: {rate: 50/s, process: uniform, query_time: 1ms, clients: 4}
  writes: {at: [100.0037s], apply_time: 10s, keys: {count: 1, choose: new}}
cqrs:
  replicas: {count: 2, routing: random}
  sync: {replace_time: 20s}
"""


def test_a_new_key_is_read_once_its_write_arrives_and_is_stale_only_after_its_commit(scenario_from):
    results = cqrs_sim.simulate(scenario_from(NEW_KEYS))
    reads = results.requests[results.requests.kind == "read"]
    arrival, key = reads.arrival.to_numpy(), reads.key.to_numpy()
    before = arrival < 100.0037
    assert set(key[before]) == {0, 1}  # the 2 keys of the catalogue
    assert set(key[~before]) == {1, 2}  # the 2 newest: key 2 is the upload
    uncommitted = (arrival >= 100.0037) & (arrival < 110.0037)
    assert (key[uncommitted] == 2).any()
    assert not reads.stale[uncommitted].any()  # the new title exists nowhere yet: not stale
    stale = reads[reads.stale]
    assert len(stale) > 0 and (stale.key == 2).all()
    assert ((reads.key == 2) & (reads.version_seen == 0) & (reads.start > 110.0037)).sum() == len(stale)


def test_summary_recording_gives_full_recordings_key_and_session_metrics(scenario_from):
    text = """
    duration: 3m
    warmup: 20s
    seed: 9
    replications: 1
    workload:
      keys: {count: 50, popularity: {zipf: 1.2}}
      reads: {rate: 100/s, query_time: {dist: exponential, mean: 4ms}, clients: 30}
      writes: {rate: 6/m, apply_time: 1s, keys: {count: 2, choose: popularity}}
    crud: {replicas: 3, replica_routing: random, replication_lag: {dist: exponential, mean: 3s}}
    cqrs: {replicas: {count: 4, routing: random}, sync: {replace_time: 5s}}
    """
    metrics = ["stale_read_fraction", "stale_version_fraction", "monotonic_read_violations", "staleness_mean",
               "staleness_max"]
    full = cqrs_sim.simulate(scenario_from(text, overrides={"record": "full"})).per_replication
    summary = cqrs_sim.simulate(scenario_from(text, overrides={"record": "summary", "record_sample": 500})).per_replication
    for arch in ("crud", "cqrs"):
        f = full[full.architecture == arch].iloc[0]
        s = summary[summary.architecture == arch].iloc[0]
        for m in metrics:
            assert s[m] == pytest.approx(f[m], rel=1e-9, abs=1e-12), (arch, m)
        assert f.stale_read_fraction < f.stale_version_fraction
    cqrs = full[full.architecture == "cqrs"].iloc[0]
    assert cqrs.monotonic_read_violations > 0 and cqrs.stale_read_fraction > 0


def test_read_backs_go_as_the_writers_client(scenario_from, monkeypatch):
    """A read-back carries the writer's client (and the write's key), so sticky routing sends it where that
    client's reads go."""
    from cqrs_sim.model import replicas as replicas_module
    from cqrs_sim.model.read import CLIENT, KEY, READ_BACK

    routed = []
    real_router = replicas_module.router

    def spying_router(*args, **kwargs):
        pick = real_router(*args, **kwargs)

        def spy(read):
            r = pick(read)
            routed.append((read[READ_BACK], read[CLIENT], read[KEY], r))
            return r
        return spy

    monkeypatch.setattr(replicas_module, "router", spying_router)
    text = """
    duration: 60s
    seed: 4
    replications: 1
    architectures: [cqrs]
    workload:
      keys: {count: 100}
      reads: {rate: 20/s, query_time: 1ms, clients: 10}
      writes: {rate: 20/m, apply_time: 1s, read_back: {after: 1s}}
    cqrs: {replicas: {count: 6, routing: sticky}, sync: {replace_time: 1s}}
    """
    scenario = scenario_from(text)
    writes = write_workload(scenario, 0)
    results = cqrs_sim.simulate(scenario)
    backs = [(v, c, k, r) for v, c, k, r in routed if v]
    assert len(backs) == len(results.writes) > 5
    version_of = dict(zip(results.writes.version, range(len(results.writes))))
    for version, client, key, replica in backs:
        j = version_of[version]
        assert client == writes.client[j] and key == writes.keys[j, 0]
        assert replica in rendezvous_order(client, 6)[:2]  # its first choice, or the next while that one is out


@pytest.mark.parametrize("extra, path, words", [
    ("  writes: {at: [5s], apply_time: 1s, keys: {count: 1}}\n", "workload.writes.keys", "needs workload.keys"),
    ("load_balancer: sticky\n", "load_balancer", "set workload.reads.clients"),
    ("cqrs: {replicas: {routing: sticky}}\n", "cqrs.replicas.routing", "set workload.reads.clients"),
])
def test_keys_and_clients_bad_input_is_one_located_line(tmp_path, extra, path, words):
    text = "duration: 10s\nworkload:\n  reads: {rate: 10/s, query_time: 4ms}\n" + extra
    file = tmp_path / "bad.yaml"
    file.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(file), "-o", str(out), "--no-plots"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and f": {path}: " in lines[0] and words in lines[0], lines
    assert not out.exists()
