"""The replica pool's membership rules, driven directly: reasons to be out combine, and the lag limit follows
versions however they arrive (streaming applies, or joins and in-place replacements as CQRS makes them)."""

from __future__ import annotations

import simpy

from cqrs_sim.model.read import WAITED, new_read
from cqrs_sim.model.replicas import FAILED, LAGGING, SWAP, ReplicaPool
from cqrs_sim.workload.streams import stream


class Owner:
    """The least a pool needs from its model: the clock, the commits, and somewhere to end reads."""

    def __init__(self):
        self.env = simpy.Environment()
        self.commits = 0
        self.commit_time = [0.0]
        self.done: list[list] = []
        self.failed: list[list] = []

    def _read_done(self, read):
        self.done.append(read)

    def _read_failed(self, read):
        self.failed.append(read)

    def commit(self):
        self.commits += 1
        self.commit_time.append(self.env.now)


def pool(owner, count=3, max_lag=None):
    return ReplicaPool(owner, count, 2, "round_robin", lambda kind: stream(1, 0, f"test.{kind}"), live=True,
                       ties="rotate", failures=True, max_lag=max_lag)


def at(owner, t, fn):
    owner.env.timeout(t).callbacks.append(lambda _e: fn())


def test_reasons_to_be_out_combine():
    owner = Owner()
    p = pool(owner)
    p.leave(1, SWAP)
    p.fail(1)
    assert p.pool == [0, 2] and p.out[1] == SWAP | FAILED
    p.join(1, 5)  # the swap ends, but the replica is still failed
    assert p.pool == [0, 2] and p.version[1] == 5
    p.repaired(1, 3)
    assert p.pool == [0, 1, 2] and p.version[1] == 5  # a repair never takes a replica back in time


def test_lag_limit_follows_joins_and_replacements():
    """max_lag 3. A commit at 1: every replica lacks it, so all leave as LAGGING at 4. Replica 0
    joins with it at 5 (a swap that ended), replica 1 gets it in place at 6: each is back at once.
    A second commit at 7, applied by none: replicas 0 and 1 leave at 10; replica 2, still missing
    the first commit, stays out."""
    owner = Owner()
    p = pool(owner, max_lag=3.0)
    seen = {}

    def commit():
        owner.commit()
        p.committed()

    at(owner, 1, commit)
    for t in (3.9, 4.1, 5.1, 6.1, 9.9, 10.1):
        at(owner, t, lambda t=t: seen.__setitem__(t, list(p.pool)))
    at(owner, 4.5, lambda: p.leave(0, SWAP))
    at(owner, 5, lambda: p.join(0, 1))
    at(owner, 6, lambda: p.replace_in_place(1, 1))
    at(owner, 7, commit)
    owner.env.run()
    assert seen == {3.9: [0, 1, 2], 4.1: [], 5.1: [0], 6.1: [0, 1], 9.9: [0, 1], 10.1: []}
    assert p.out == [LAGGING, LAGGING, LAGGING]


def test_a_failed_replica_fails_its_running_reads_and_reroutes_its_queue():
    owner = Owner()
    p = pool(owner, count=2)
    reads = [new_read(i, 0.0, 0.0, 1.0, 0, 0) for i in range(4)]
    for read in reads:
        p.query(read)  # round robin: reads 0, 2 on replica 0; 1, 3 on replica 1 (two connections each)
    p.leave(1, SWAP)  # replica 1 leaves for a swap (drain on: its reads stay)
    p.query(extra := new_read(9, 0.0, 0.0, 1.0, 0, 0))
    assert p.conns[0].queued == 1  # replica 0's connections are busy: the fifth read queues there
    at(owner, 0.5, lambda: p.fail(0))
    owner.env.run()
    assert [r[0] for r in owner.failed] == [0, 2]
    assert [r[0] for r in owner.done] == [1, 3]  # replica 1's reads drained
    assert extra not in owner.done and extra not in owner.failed  # nowhere to go: it waits for a replica to rejoin
    assert p.waiting and p.waiting[0] is extra


def test_the_pool_records_when_it_is_empty_and_which_reads_wait():
    """Replica 0 leaves at 1 (a swap), replica 1 fails at 2, so the pool is empty from 2; replica 1 is
    repaired at 5, replica 0 rejoins at 6: empty [2, 5). It empties again from 8 to the end (both leave).
    A read routed at 3 waits (and is flagged), one at 7 does not. The spans agree with those derived from the
    replicas' times out of the pool (what the testbed uses)."""
    from cqrs_sim.analysis.tables import empty_spans, within

    owner = Owner()
    p = pool(owner, count=2)
    reads = {t: new_read(int(t), t, 0.0, 0.1, 0, 0) for t in (3.0, 7.0)}
    at(owner, 1, lambda: p.leave(0, SWAP))
    at(owner, 2, lambda: p.fail(1))
    for t, read in reads.items():
        at(owner, t, lambda read=read: p.query(read))
    at(owner, 5, lambda: p.repaired(1, 0))
    at(owner, 6, lambda: p.join(0, 1))
    at(owner, 8, lambda: (p.leave(0, SWAP), p.leave(1, SWAP)))
    owner.env.run(until=10)
    spans = p.empty_columns()
    assert spans["start"].tolist() == [2.0, 8.0] and spans["end"].tolist() == [5.0, 10.0]
    assert [reads[t][WAITED] for t in (3.0, 7.0)] == [1, 0]
    swaps = {"out": [1.0, 2.0, 8.0, 8.0], "back": [6.0, 5.0, 10.0, 10.0]}
    derived = empty_spans(swaps, replica_count=2)
    assert derived["start"].tolist() == [2.0, 8.0] and derived["end"].tolist() == [5.0, 10.0]
    assert within([1.9, 2.0, 4.99, 5.0, 9.0], derived).tolist() == [False, True, True, False, True]
