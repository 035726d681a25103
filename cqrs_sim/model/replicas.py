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

An elastic pool (:mod:`.autoscale`) preallocates ``size`` replica slots
(its ``max``) and starts with ``count`` of them; ``members`` are the
replicas that exist and serve (in the pool, or out of it for a rollout
swap). A fixed pool has ``size == count`` and every replica a member.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
import simpy

from .read import ATTEMPT, ID, LATEST, QUERY_TIME, READ_BACK, REPLICA, SEEN, START
from .routing import Ties, router
from .slots import Slots

if TYPE_CHECKING:
    from .autoscale import Autoscaler
    from .frontend import Frontend
    from .record import RunRecord


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
        if self.autoscaler is not None:
            record.autoscale = self.autoscaler.decision_columns()
        return record


class ReplicaPool:
    """The read replicas of one run: connections, versions, routing, membership."""

    def __init__(self, model: "Frontend", count: int, connections: int, routing: str,
                 rng: Callable[[str], np.random.Generator], *, live: bool, ties: Ties,
                 cold_factor: float = 1.0, warm_up_time: float = 0.0, drain: bool = True, size: int | None = None):
        """``live``: replicas leave and rejoin the pool, and random routing draws over the pool as it is;
        otherwise every replica is always in it. ``ties``: least_outstanding's tie rule (see :mod:`.routing`).
        ``size``: replica slots (default ``count``); the first ``count`` start in the pool."""
        size = count if size is None else size
        self.model = model  #: the owner: its ``commits`` is the newest version, its ``_read_done`` ends a read
        self.env = model.env
        self.count = count  #: replicas at the start
        self.size = size  #: replica slots: every per-replica list has this length
        self.connections = connections  #: per replica
        self.version = [0] * size
        self.pool: list[int] = list(range(count))  #: replicas in the pool, sorted
        self.members: list[int] = list(range(count))  #: replicas that exist and serve (in the pool or swapping), sorted
        self.outstanding = [0] * size  #: reads routed to a replica and not finished
        self.conns = [Slots(connections) for _ in range(size)]
        self.waiting: deque[list] = deque()  #: reads waiting for any replica to rejoin
        self._route = router(routing, size, self.outstanding, rng, pool=self.pool if live else None,
                             version=self.version, ties=ties)
        self.cold_factor = cold_factor
        self.warm_up_time = warm_up_time
        self.joined_at = [-math.inf] * size  #: when each replica last (re)joined; replicas start warm
        self.drain = drain
        #: drain off: per replica, the end event of each query running there, and its read
        self.running: list[dict[simpy.Event, list]] = [{} for _ in range(size)]
        self._drained: list[simpy.Event | None] = [None] * size  #: drain on: events for leaving replicas
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

    def step_columns(self) -> dict[str, np.ndarray]:
        """t, in_pool, members, provisioning after each change of membership (a fixed pool keeps none: its
        replicas are out of the pool only for the swaps its owner records)."""
        return {}

    def lowest_version(self) -> int:
        """The oldest version a member replica holds."""
        return min(self.version[r] for r in self.members)

    # --- reads ----------------------------------------------------------------
    def query(self, read: list) -> None:
        """Route ``read`` to a replica in the pool and queue for one of its connections."""
        if not self.pool:
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
        if not self.drain:
            self.running[r][end] = read

    def _query_end(self, event: simpy.Event) -> None:
        read = event.value
        r = read[REPLICA]
        if not self.drain:
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
    def leave(self, r: int) -> None:
        self.pool.remove(r)
        if not self.drain:
            self._evict(r)

    def drained(self, r: int) -> simpy.Event:
        """An event that succeeds when replica ``r`` (out of the pool, drain on) has no read left."""
        event = self._drained[r] = self.env.event()
        return event

    def join(self, r: int, version: int) -> None:
        self.version[r] = version
        self.joined_at[r] = self.env.now
        bisect.insort(self.pool, r)
        waiting = self.waiting
        while waiting and self.pool:
            self.query(waiting.popleft())

    def replace_in_place(self, r: int, version: int) -> None:
        """A new instance takes replica r's place without the replica leaving the pool (surge, blue-green)."""
        self.version[r] = version
        self.joined_at[r] = self.env.now

    def _evict(self, r: int) -> None:
        """drain off: queued reads re-route at once; running queries are abandoned and restart elsewhere.

        Running queries re-route first, in a fixed order: read-backs (newest write first), then client
        reads by attempt and read number; then the queued reads, in queue order.
        """
        slots = self.conns[r]
        queued = [read for _, read in slots.waiting]
        slots.waiting.clear()
        ends = sorted(self.running[r], key=lambda end: (-end.value[READ_BACK], end.value[ATTEMPT], end.value[ID]))
        self.running[r].clear()
        running = []
        for end in ends:
            end.callbacks.clear()  # the abandoned query still ends at its time, for nobody
            running.append(end.value)
            slots.free += 1
        self.outstanding[r] -= len(queued) + len(running)
        for read in running + queued:
            self.query(read)
