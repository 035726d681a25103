"""Projections: every replica applies the committed writes itself, in commit order, one at a time.

The replicas of ``cqrs.sync.strategy: projection`` are event-sourced read
models, each fed by its own projector. ``trigger_delay`` after a commit the
event reaches every projecting replica; a replica applies its events one at
a time, in commit order, each taking a ``projection_time`` draw, so replica
r applies event k at max(when it applied k − 1, when k reached it) +
its draw: a single-server FIFO queue per replica. Its lag grows whenever
writes arrive faster than it projects. Replicas stay in the pool: nothing
is swapped, no instance is built beside another, and a replica at version
v holds every write up to v.

Applying an event is assumed not to take a query connection: a projector
writes to the read model beside the queries (a real read store shares its
CPU and disk, which the model leaves out). Put the cost into query_time if
it matters.

A replica that starts empty (a new one, or one repaired after a failure)
is given to :meth:`Projections.rebuild`: it leaves the pool if it is in it
(draining when ``drain`` is on), drops to version 0 and replays the whole
log, at projection_time per event; events committed meanwhile join its
queue. It rejoins the pool (cold, as any rejoining replica) the moment it
has applied every delivered event, so a rebuild takes longer the longer
the history. :meth:`Projections.fail` fails a replica (its running reads
fail, drain or not) and stops its projector until a rebuild. The time out of the
pool, from leaving (stop or rebuild) to rejoining, is recorded as a swap
(replica, out, back, version) when the replica rejoins.

Random numbers: replica r draws its projection times from its own stream
``cqrs.projection_time.{r}``, in the order it applies events (replays
included), so one replica's rebuild never shifts another's draws.

Visibility: version k is first visible when a replica in the pool first
holds it, and all visible when every replica in the pool holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from ..config.designs import Sync
from ..workload.streams import stream
from .replicas import FAILED, SWAP

if TYPE_CHECKING:
    from .frontend import Frontend
    from .replicas import ReplicaPool

#: projection times drawn per refill of a replica's buffer
_BLOCK = 256


class Projections:
    """The projectors of one CQRS run, the rebuilds they do, and the visibility they produce."""

    def __init__(self, replicas: "ReplicaPool", model: "Frontend", sync: Sync, seed: int, replication: int):
        self.replicas = replicas
        self.model = model  #: the owner (its ``commits`` is the newest version)
        self.env = model.env
        self.sync = sync
        self.time = sync.projection_time
        self._seed, self._replication = seed, replication
        count = replicas.count
        self.delivered = 0  #: events (versions) that reached the projectors
        self.projecting: list[int] = list(range(count))  #: replicas whose projector runs, in index order
        self.free_at = [0.0] * count  #: when each replica's projector finishes the events queued for it
        self.epoch = [0] * count  #: bumped when a replica stops or restarts: its queued events are dropped
        self.counted = [True] * count  #: the replica is in the pool, in ``_at``
        self._rebuilt: list[simpy.Event | None] = [None] * count  #: a rebuilding replica's rejoin event
        self._left_at: list[float | None] = [None] * count  #: when a stopped replica left the pool
        self._rngs = [stream(seed, replication, f"cqrs.projection_time.{r}") for r in range(count)]
        self._draws: list[list[float]] = [[] for _ in range(count)]
        #: _at[v]: replicas in the pool holding exactly version v; _lowest: the smallest such v
        self._at = [count]
        self._lowest = 0
        self._members = count  #: replicas counted in ``_at``
        #: first_visible[k], all_visible[k]: when version k first / fully reached the replicas in the pool
        self.first_visible: list[float] = [0.0]
        self.all_visible: list[float] = [0.0]
        #: (replica, out, back, version) per rebuild: out of the pool from out to back, rejoining at version
        self.swaps: list[tuple[int, float, float, int]] = []
        self.extra_instances: list[tuple[float, float]] = []  #: none: replicas are never built beside others

    # --- events ---------------------------------------------------------------
    def committed(self) -> None:
        """A write committed: its event reaches the projectors ``trigger_delay`` later."""
        self._at.append(0)
        delay = self.sync.trigger_delay
        if delay > 0:
            self.env.timeout(delay).callbacks.append(self._deliver)
        else:
            self._deliver(None)

    def _deliver(self, _event) -> None:
        self.delivered += 1
        version = self.delivered
        for r in self.projecting:
            self._enqueue(r, version)

    def _draw(self, r: int) -> float:
        draws = self._draws[r]
        if not draws:
            draws.extend(reversed(self.time.sample(self._rngs[r], _BLOCK).tolist()))
        return draws.pop()

    def _enqueue(self, r: int, version: int) -> None:
        now = self.env.now
        start = self.free_at[r]
        at = self.free_at[r] = (start if start > now else now) + self._draw(r)
        self.env.timeout(at - now, (r, version, self.epoch[r])).callbacks.append(self._applied)

    def _applied(self, event: simpy.Event) -> None:
        r, version, epoch = event.value
        if epoch != self.epoch[r]:
            return  # queued before the replica stopped or restarted
        self.replicas.applied(r, version)  # (the pool's lag limit follows it)
        if self.counted[r]:
            self._at[version - 1] -= 1
            self._at[version] += 1
            self._visible(version)
        elif version == self.delivered:
            self._rejoin(r)

    # --- visibility -----------------------------------------------------------
    def _visible(self, newest: int) -> None:
        """A replica in the pool now holds ``newest``; the pool's lowest version may have risen."""
        now = self.env.now
        first = self.first_visible
        while len(first) <= newest:
            first.append(now)
        if not self._members:
            return  # nobody in the pool: nothing more is visible everywhere until a replica rejoins
        at = self._at
        lowest = self._lowest
        while not at[lowest]:
            lowest += 1
        self._lowest = lowest
        every = self.all_visible
        while len(every) <= lowest:
            every.append(now)

    # --- membership -----------------------------------------------------------
    def _grow(self, r: int) -> None:
        """Room for replica ``r`` (a replica added after the start)."""
        while len(self.free_at) <= r:
            n = len(self.free_at)
            self.free_at.append(0.0)
            self.epoch.append(0)
            self.counted.append(False)
            self._rebuilt.append(None)
            self._left_at.append(None)
            self._rngs.append(stream(self._seed, self._replication, f"cqrs.projection_time.{n}"))
            self._draws.append([])

    def fail(self, r: int) -> None:
        """Replica ``r`` fails: the pool fails it (its running reads fail, its queued ones re-route, whatever
        ``drain`` says), and it stops projecting until a :meth:`rebuild`."""
        self.replicas.fail(r)
        self.stop(r)

    def stop(self, r: int) -> None:
        """Replica ``r`` stops projecting and serves no more reads: it is out of the pool (as a swap) until a
        rebuild brings it back; with ``drain`` off, reads still on it re-route (a failure has failed them first)."""
        self._grow(r)
        self.epoch[r] += 1
        if r in self.projecting:
            self.projecting.remove(r)
        if not self.replicas.out[r] & SWAP:
            if r in self.replicas.pool or self.replicas.out[r] == FAILED:
                self._left_at[r] = self.env.now  # it leaves the pool now (or has failed this instant)
            self.replicas.leave(r)
        if self.counted[r]:
            self.counted[r] = False
            self._members -= 1
            self._at[self.replicas.version[r]] -= 1
            self._visible(0)

    def rebuild(self, r: int) -> simpy.Process:
        """Replica ``r`` starts empty and replays the whole log; the process ends when it is back in the pool.

        A rebuild of a replica already rebuilding starts the replay over (both processes end at the one
        rejoin); a :meth:`stop` during a rebuild suspends it until the next rebuild.
        """
        self._grow(r)
        return self.env.process(self._rebuild(r))

    def _rebuild(self, r: int):
        replicas = self.replicas
        leaving = r in replicas.pool
        self.stop(r)
        if self._left_at[r] is None:
            self._left_at[r] = self.env.now  # a replica that was not in the pool is out from now
        if leaving and replicas.drain and replicas.outstanding[r]:
            yield replicas.drained(r)
        self.epoch[r] += 1
        replicas.version[r] = 0
        self.free_at[r] = self.env.now
        done = self._rebuilt[r]
        if done is None:  # else a rebuild already running starts over, and both end at the rejoin
            done = self._rebuilt[r] = self.env.event()
        for version in range(1, self.delivered + 1):
            self._enqueue(r, version)
        if r not in self.projecting:
            self.projecting.append(r)
            self.projecting.sort()
        if not self.delivered:
            self._rejoin(r)
        yield done

    def _rejoin(self, r: int) -> None:
        replicas = self.replicas
        version = replicas.version[r]
        self.counted[r] = True
        self._members += 1
        self._at[version] += 1
        replicas.join(r, version)
        self._visible(version)
        self.swaps.append((r, self._left_at[r], self.env.now, version))
        self._left_at[r] = None
        done, self._rebuilt[r] = self._rebuilt[r], None
        if done is not None:
            done.succeed()
