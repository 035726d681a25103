"""A pool of read replicas, shared by CQRS and by CRUD with streaming replicas.

Each replica has its own FIFO connection pool (:class:`.slots.Slots`) and
the data version it holds. A read is routed (:mod:`.routing`) to a replica
in the pool; with none in the pool it waits for one to rejoin. A read sees
the version its replica holds when its query starts.

Membership (CQRS rollouts): ``leave`` takes a replica out of the pool,
``join`` puts it back with a new version, ``replace_in_place`` gives it a
new version without leaving. A replica that (re)joins is cold: a query
starting ``s`` seconds after the join takes ``1 + (cold_factor − 1) ×
(1 − s / warm_up_time)`` times its query time, for s < warm_up_time.
With ``drain`` off, a leaving replica's queued reads re-route at once and
its running queries are abandoned and restart elsewhere; with ``drain`` on
they finish there, and ``drained(r)`` tells when.

A replica is out of the pool for any of four reasons, kept apart in one
place (the bits of ``out``): ``SWAP`` for a rollout, ``FAILED``,
``LAGGING``, and ``OFF`` for a slot of an elastic pool that holds no member
(never provisioned, being provisioned, or removed). It is in the pool when
none is left; it is a member (it exists and will serve: in the pool, or out
of it to be swapped, repaired or to catch up) when ``OFF`` is not set, and
``members`` lists those. ``fail`` takes a replica out at once: its running
queries fail (the owner's ``_read_failed``) and its queued reads re-route.
With a ``max_lag`` a member whose oldest missing commit is ``max_lag`` old
leaves as ``LAGGING`` and rejoins when it catches up to within the limit;
the owner calls ``committed()`` after each commit, and versions arrive
through ``join``, ``replace_in_place``, ``repaired`` or ``applied``, so the
limit costs nothing per read.

An elastic pool (:mod:`.autoscale`) preallocates ``size`` replica slots
(its ``max``) and starts with ``count`` of them; the others start ``OFF``.
A fixed pool has ``size == count`` and every replica a member.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
import simpy

from .read import ATTEMPT, ID, LATEST, QUERY_TIME, READ_BACK, REPLICA, SEEN, START, WAITED
from .routing import Ties, router
from .slots import Slots

if TYPE_CHECKING:
    from .autoscale import Autoscaler
    from .frontend import Frontend
    from .record import RunRecord

SWAP, FAILED, LAGGING, OFF = 1, 2, 4, 8  #: why a replica is out of the pool (bits of ``ReplicaPool.out``)


class ServedByReplicas:
    """For a model whose reads go to a :class:`ReplicaPool` (``self.replicas``) beside one other instance
    (CQRS's write image, CRUD's primary): what its record says about capacity and instances."""

    replicas: "ReplicaPool"
    autoscaler: Optional["Autoscaler"] = None  #: set when the pool is elastic

    @property
    def capacity(self) -> int:
        return self.replicas.capacity

    @property
    def replica_count(self) -> int:
        return self.replicas.size

    @property
    def instances(self) -> int:
        return 1 + self.replicas.always_running

    def with_replica_lifetimes(self, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``extra`` (start, end of instances built beside the others) plus an elastic pool's replica instances."""
        more = self.replicas.lifetime_columns()
        if not more:
            return extra
        if not extra:
            return more
        return {k: np.concatenate([extra[k], more[k]]) for k in ("start", "end")}

    def record(self) -> "RunRecord":
        """The owner's record, with an elastic pool's membership over time and its autoscaler's decisions."""
        record = super().record()  # type: ignore[misc]
        record.pool_steps = self.replicas.step_columns()
        record.empty_pool = self.replicas.empty_columns()
        if self.autoscaler is not None:
            record.autoscale = self.autoscaler.decision_columns()
        return record


class ReplicaPool:
    """The read replicas of one run: connections, versions, routing, membership."""

    def __init__(self, model: "Frontend", count: int, connections: int, routing: str,
                 rng: Callable[[str], np.random.Generator], *, live: bool, ties: Ties,
                 cold_factor: float = 1.0, warm_up_time: float = 0.0, drain: bool = True, failures: bool = False,
                 max_lag: float | None = None, size: int | None = None):
        """``live``: replicas leave and rejoin the pool, and random routing draws over the pool as it is;
        otherwise every replica is always in it. ``ties``: least_outstanding's tie rule (see :mod:`.routing`).
        ``failures``: replicas may ``fail`` (their running queries are tracked); ``max_lag``: the routing limit.
        ``size``: replica slots (default ``count``); the first ``count`` start in the pool."""
        size = count if size is None else size
        self.model = model  #: the owner: its ``commits`` is the newest version, its ``_read_done`` ends a read
        self.env = model.env
        self.count = count  #: replicas at the start
        self.size = size  #: replica slots: every per-replica list has this length
        self.connections = connections  #: per replica
        self.version = [0] * size
        self.pool: list[int] = list(range(count))  #: replicas in the pool, sorted
        self.members: list[int] = list(range(count))  #: replicas without ``OFF`` (in the pool or out for a while), sorted
        self.outstanding = [0] * size  #: reads routed to a replica and not finished
        self.conns = [Slots(connections) for _ in range(size)]
        self.waiting: deque[list] = deque()  #: reads waiting for any replica to rejoin
        self._route = router(routing, size, self.outstanding, rng, pool=self.pool if live else None,
                             version=self.version, ties=ties)
        self.cold_factor = cold_factor
        self.warm_up_time = warm_up_time
        self.joined_at = [-math.inf] * size  #: when each replica last (re)joined; replicas start warm
        self.drain = drain
        self.out = [0] * count + [OFF] * (size - count)  #: why each replica is out of the pool (bits), 0 in it
        self.track = not drain or failures  #: keep each replica's running queries (to abandon or fail them)
        self.max_lag = max_lag
        #: drain off or failures: per replica, the end event of each query running there, and its read
        self.running: list[dict[simpy.Event, list]] = [{} for _ in range(size)]
        self._drained: list[simpy.Event | None] = [None] * size  #: drain on: events for leaving replicas
        self.empty_since = math.nan  #: when the pool last became empty
        self.empty_spans: list[tuple[float, float]] = []  #: (start, end) of each time the pool was empty
        self._done = model._read_done
        for name in ("query", "_query_start", "_query_end"):  # bound once: these run for every read
            setattr(self, name, getattr(self, name))

    @property
    def capacity(self) -> int:
        return self.size * self.connections

    @property
    def always_running(self) -> int:
        """Replica instances running for the whole run (an elastic pool records each instance's lifetime instead)."""
        return self.count

    def lifetime_columns(self) -> dict[str, np.ndarray]:
        """start, end of each replica instance not counted in ``always_running`` (none here)."""
        return {}

    def empty_columns(self) -> dict[str, np.ndarray]:
        """start, end of each time the pool held no replica (one still empty ends now)."""
        spans = self.empty_spans + ([] if self.pool else [(self.empty_since, self.env.now)])
        return {"start": np.asarray([s[0] for s in spans], dtype=float),
                "end": np.asarray([s[1] for s in spans], dtype=float)}

    def step_columns(self) -> dict[str, np.ndarray]:
        """t, in_pool, members, provisioning after each change of membership (a fixed pool keeps none: its
        replicas are out of the pool only for the swaps its owner records)."""
        return {}

    def lowest_version(self) -> int:
        """The oldest version a member replica holds (a failed, lagging or swapping member counts: it exists
        and serves again with what it holds or gets; a slot without a member does not)."""
        return min(self.version[r] for r in self.members)

    def swappable(self, r: int) -> bool:
        """May a rollout swap replica r now? Not once it is no member (removed) nor while it is failed."""
        return not self.out[r] & (OFF | FAILED)

    def instance(self, r: int) -> int:
        """The instance member r runs (instances are numbered in the order they start; −1: no member)."""
        return r

    # --- reads ----------------------------------------------------------------
    def query(self, read: list) -> None:
        """Route ``read`` to a replica in the pool and queue for one of its connections."""
        if not self.pool:
            read[WAITED] = 1
            self.waiting.append(read)
            return
        r = self._route(read)
        read[REPLICA] = r
        self.outstanding[r] += 1
        slots = self.conns[r]
        if slots.free:  # Slots.acquire, inlined
            slots.free -= 1
            self._query_start(read)
        else:
            slots.waiting.append((self._query_start, read))

    def _query_start(self, read: list) -> None:
        r = read[REPLICA]
        env = self.env
        now = read[START] = env.now
        read[SEEN] = self.version[r]
        read[LATEST] = self.model.commits
        service = read[QUERY_TIME]
        if self.cold_factor > 1:
            since = now - self.joined_at[r]
            if since < self.warm_up_time:
                service *= 1 + (self.cold_factor - 1) * (1 - since / self.warm_up_time)
        end = env.timeout(service, read)
        end.callbacks.append(self._query_end)
        if self.track:
            self.running[r][end] = read

    def _query_end(self, event: simpy.Event) -> None:
        read = event.value
        r = read[REPLICA]
        if self.track:
            del self.running[r][event]
        self.outstanding[r] -= 1
        self.conns[r].release()
        if not self.outstanding[r]:
            drained = self._drained[r]
            if drained is not None:
                self._drained[r] = None
                drained.succeed()
        self._done(read)

    # --- membership -----------------------------------------------------------
    def leave(self, r: int, why: int = SWAP) -> None:
        """Replica r leaves the pool (if in it) for reason ``why``; drain off, a swap evicts its reads."""
        if not self.out[r]:
            self.pool.remove(r)
            if not self.pool:
                self.empty_since = self.env.now
        self.out[r] |= why
        if why == SWAP and not self.drain:
            self._evict(r)

    def drained(self, r: int) -> simpy.Event:
        """An event that succeeds when replica ``r`` (out of the pool, drain on) has no read left."""
        event = self._drained[r] = self.env.event()
        return event

    def join(self, r: int, version: int, why: int = SWAP) -> None:
        """Replica r is back with ``version`` (a new, cold instance); it serves again once nothing else keeps it out."""
        self.version[r] = version
        self.joined_at[r] = self.env.now
        self._back(r, why)
        if self.max_lag is not None:
            self.advanced(r)

    def _back(self, r: int, why: int) -> None:
        if not self.out[r] & why:
            return
        self.out[r] &= ~why
        if self.out[r]:
            return
        bisect.insort(self.pool, r)
        if len(self.pool) == 1:
            self.empty_spans.append((self.empty_since, self.env.now))
        waiting = self.waiting
        while waiting and self.pool:
            self.query(waiting.popleft())

    def replace_in_place(self, r: int, version: int) -> None:
        """A new instance takes replica r's place without the replica leaving the pool (surge, blue-green)."""
        self.version[r] = version
        self.joined_at[r] = self.env.now
        if self.max_lag is not None:
            self.advanced(r)

    # --- failures ---------------------------------------------------------------
    def fail(self, r: int) -> None:
        """Replica r fails: it leaves the pool at once, its running queries fail, its queued reads re-route."""
        self.leave(r, FAILED)
        slots = self.conns[r]
        queued = [read for _, read in slots.waiting]
        slots.waiting.clear()
        running = self._abandon(r)
        self.outstanding[r] -= len(queued) + len(running)
        for read in running:
            self.model._read_failed(read)
        for read in queued:
            self.query(read)

    def repaired(self, r: int, version: int, cold: bool = True) -> None:
        """Replica r is back from a failure holding ``version`` (a rebuilt instance is ``cold``)."""
        self.version[r] = max(self.version[r], version)
        if cold:
            self.joined_at[r] = self.env.now
        self._back(r, FAILED)
        if self.max_lag is not None:
            self.advanced(r)

    def applied(self, r: int, version: int) -> None:
        """Replica r has applied every version up to ``version`` (streaming replication)."""
        if version > self.version[r]:
            self.version[r] = version
            if self.max_lag is not None:
                self.advanced(r)

    def _abandon(self, r: int) -> list[list]:
        """Replica r's running queries, each now ending for nobody, in a fixed order: read-backs (newest write
        first), then client reads by attempt and read number. Their connections are free again."""
        ends = sorted(self.running[r], key=lambda end: (-end.value[READ_BACK], end.value[ATTEMPT], end.value[ID]))
        self.running[r].clear()
        for end in ends:
            end.callbacks.clear()  # the abandoned query still ends at its time, for nobody
        self.conns[r].free += len(ends)
        return [end.value for end in ends]

    # --- the lag limit ----------------------------------------------------------
    def lag(self, r: int) -> float:
        """How far replica r is behind the primary: the age of the oldest commit it lacks (0 when it has them all)."""
        v = self.version[r]
        return self.env.now - self.model.commit_time[v + 1] if v < self.model.commits else 0.0

    def committed(self) -> None:
        """A commit: replicas that held every version until now start a ``max_lag`` clock."""
        newest = self.model.commits
        for r in self.members:
            if self.version[r] == newest - 1:
                self.env.timeout(self.max_lag, (r, newest - 1)).callbacks.append(self._lag_check)

    def advanced(self, r: int) -> None:
        """Replica r applied versions: back in if within the limit, out if still too far behind; clock the next."""
        v = self.version[r]
        if v >= self.model.commits:
            self._back(r, LAGGING)
            return
        due = self.model.commit_time[v + 1] + self.max_lag  # when the oldest missing commit reaches the limit
        if due <= self.env.now:
            if not self.out[r] & LAGGING:
                self.leave(r, LAGGING)
        else:
            self._back(r, LAGGING)
            self.env.timeout(due - self.env.now, (r, v)).callbacks.append(self._lag_check)

    def _lag_check(self, event: simpy.Event) -> None:
        r, v = event.value
        if self.version[r] == v and not self.out[r] & LAGGING:
            self.leave(r, LAGGING)  # still missing the commit after v, which is now max_lag old

    def _evict(self, r: int) -> None:
        """drain off: queued reads re-route at once; running queries are abandoned and restart elsewhere.

        Running queries re-route first, in a fixed order: read-backs (newest write first), then client
        reads by attempt and read number; then the queued reads, in queue order.
        """
        slots = self.conns[r]
        queued = [read for _, read in slots.waiting]
        slots.waiting.clear()
        running = self._abandon(r)
        self.outstanding[r] -= len(queued) + len(running)
        for read in running + queued:
            self.query(read)
