"""CQRS on PostgreSQL: a write database, one database per replica, and rollouts that copy the write image.

Writes run on the write database through ``cqrs.write_servers``
connections. Each replica is its own database on the same server with
``cqrs.replicas.connections`` connections; the client routes a read to an
in-pool replica by ``cqrs.replicas.routing`` (the simulator's routers) and
the version the read returns is the version that replica's data holds, so
staleness is measured.

A rollout follows the model's rules (:mod:`cqrs_sim.model.rollout`): it
starts ``trigger_delay`` after a commit unless one is running, and ships
the write image as it is when the rollout starts (:class:`.snapshot.Snapshot`:
a ``REPEATABLE READ`` transaction held open for the rollout). Each replica,
``batch_size`` at a time, leaves the pool, drains, and is replaced by a
real copy of that snapshot (:func:`.snapshot.replace`: ``DROP DATABASE``,
``CREATE DATABASE … TEMPLATE`` the empty schema, the rows streamed in with
``COPY``), reconnects and rejoins. With ``max_surge`` > 0 (``max_surge`` at a time)
and with ``blue_green`` (every replica, ``build_parallelism`` at a time)
the copy is built into a new database beside the old one while the old one
serves (:func:`.snapshot.build`); when it is ready its replica's readers
switch to it (surge: each as it is ready; blue-green: every replica at one
instant, once the whole new set is built), reads already running finish on
the old database, which is dropped after the last of them. Nothing is
padded: a swap or a build takes what the copy takes (``copy_seconds`` in the
manifest). The model sees the same work
through the calibrated scenario (:mod:`.calibrate`), whose ``replace_time``
is the measured copy. The copies of one batch share one connection, so they
run one after another (a gap for ``all_at_once``, and for surge and
blue-green builds more than one at a time, which the model builds in
parallel).
"""

from __future__ import annotations

import asyncio
import bisect
import math

import numpy as np

from ..model.routing import router
from ..config.rollout import batch_size
from ..config.scenario import Scenario
from ..workload.streams import stream
from . import snapshot
from .client import Backend, Clock
from .server import Databases, with_database
from .slots import Pool
from .snapshot import close_all, connect_many


class CqrsBackend(Backend):
    architecture = "cqrs"

    def __init__(self, clock: Clock, scenario: Scenario, replication: int, databases: Databases,
                 write_db: str, replica_dbs: list[str]):
        self.clock = clock
        self.scenario = scenario
        self.databases = databases
        self.write_db = write_db
        self.replica_dbs = replica_dbs
        self.commit_time = [0.0]
        replicas = scenario.cqrs.replicas
        self.count = replicas.count
        self.connections = replicas.connections
        self.version = [0] * self.count  #: the version each replica holds (as shipped)
        self.pool_list: list[int] = list(range(self.count))
        self.outstanding = [0] * self.count
        self.conns: list[Pool] = []
        self._route = router(replicas.routing, self.count, self.outstanding,
                             lambda kind: stream(scenario.seed, replication, f"cqrs.routing.{kind}"),
                             pool=self.pool_list, version=self.version, ties="rotate")
        self._rejoined = asyncio.Event()
        self._drained: list[asyncio.Future | None] = [None] * self.count
        self.sync = scenario.cqrs.sync
        self.running = False
        self.pending = False
        self.first_visible: list[float] = [0.0]
        self.all_visible: list[float] = [0.0]
        self.swaps: list[tuple[int, float, float, int]] = []
        self.copy_seconds: list[float] = []  #: per swap: the real drop, copy and reconnect (a build: no drop)
        self.rollout_tasks: list[asyncio.Task] = []
        self.copying = asyncio.Lock()
        self.extra_instances: list[tuple[float, float]] = []  #: (start, end) of each database built beside the old
        self._spares: list[list] = [[] for _ in range(self.count)]  #: new connections waiting for an old one's return
        self._reading: dict[str, int] = {name: 0 for name in replica_dbs}  #: reads running, per replica database
        self._last_read: dict[str, asyncio.Future] = {}  #: a switched-away database -> its last read is done
        self.retire_tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        dsn = self.databases.dsn
        self.writers = Pool(await connect_many(with_database(dsn, self.write_db), self.scenario.cqrs.write_servers))
        for name in self.replica_dbs:
            self.conns.append(Pool(await connect_many(with_database(dsn, name), self.connections)))
        self.source = (await connect_many(with_database(dsn, self.write_db), 1))[0]  #: the snapshots' connection
        self.admin = (await connect_many(dsn, 1))[0]
        self.dropper = (await connect_many(dsn, 1))[0]  #: drops a database switched away from, beside the copies

    async def close(self) -> None:
        for task in self.rollout_tasks:
            task.cancel()
        await asyncio.gather(*self.rollout_tasks, return_exceptions=True)
        for pool in [self.writers, *self.conns]:
            await close_all(pool.items)
        await close_all([conn for spares in self._spares for conn in spares])
        for task in self.retire_tasks:  # after an interruption: what is left is dropped with the run's databases
            task.cancel()
        await asyncio.gather(*self.retire_tasks, return_exceptions=True)
        await close_all([self.source, self.admin, self.dropper])

    async def settle(self) -> None:
        while not all(task.done() for task in self.rollout_tasks + self.retire_tasks):
            await asyncio.gather(*self.rollout_tasks, *self.retire_tasks)

    # --- reads ----------------------------------------------------------------
    async def query(self, key: int, query_time: float) -> tuple[float, int, int, int, int]:
        while not self.pool_list:
            self._rejoined.clear()
            await self._rejoined.wait()
        r = self._route()
        self.outstanding[r] += 1
        pool = self.conns[r]
        conn = await pool.get()
        name = self.replica_dbs[r]  #: a connection from the pool is always to the replica's current database
        self._reading[name] += 1
        try:
            start, seen, latest, key_version = await self._read(conn, key, query_time)
        finally:
            self._give_back(r, conn, name)
            self.outstanding[r] -= 1
            drained = self._drained[r]
            if not self.outstanding[r] and drained is not None and not drained.done():
                drained.set_result(None)
        return start, seen, latest, r, key_version

    # --- writes ---------------------------------------------------------------
    async def write(self, keys, apply_time: float) -> tuple[float, float, int]:
        conn = await self.writers.get()
        try:
            start, commit, version = await self._apply(conn, apply_time, keys)
        finally:
            self.writers.put(conn)
        self.committed(version, commit)
        self._after_commit()
        return start, commit, version

    # --- rollouts -------------------------------------------------------------
    def _after_commit(self) -> None:
        delay = self.sync.trigger_delay
        loop = asyncio.get_running_loop()
        if delay > 0:
            loop.call_later(delay, self._trigger)
        else:
            self._trigger()

    def _trigger(self) -> None:
        if self.running:
            self.pending = True
            return
        if min(self.version) >= self.commits:
            return
        self.running = True
        self.rollout_tasks.append(asyncio.ensure_future(self._rollout()))

    async def _rollout(self) -> None:
        group = batch_size(self.sync, self.count)
        step = self._surge if self.sync.max_surge > 0 else self._swap
        while True:
            shipped = snapshot.Snapshot(self.source)
            version = await shipped.open()  # the write image as it is now: every swap of this rollout copies it
            try:
                behind = [r for r in range(self.count) if self.version[r] < version]
                if self.sync.strategy == "blue_green":
                    await self._blue_green(shipped, group)
                else:
                    for k in range(0, len(behind), group):
                        await asyncio.gather(*(step(r, shipped) for r in behind[k:k + group]))
            finally:
                await shipped.close()
            again = self.pending and min(self.version) < self.commits
            self.pending = False
            if not again:
                self.running = False
                return

    async def _swap(self, r: int, shipped: snapshot.Snapshot) -> None:
        out = self.clock()
        self.pool_list.remove(r)
        if self.sync.drain and self.outstanding[r]:
            self._drained[r] = asyncio.get_running_loop().create_future()
            await self._drained[r]
            self._drained[r] = None
        pool = self.conns[r]
        async with self.copying:  # one admin and one snapshot connection: a batch's copies run one after another
            copying = self.clock()
            pool.items = await snapshot.replace(self.databases, self.admin, self.replica_dbs[r], pool.items,
                                                self.connections, shipped)
            self.copy_seconds.append(self.clock() - copying)
        self.version[r] = shipped.version
        bisect.insort(self.pool_list, r)
        self._rejoined.set()
        self._visible(r, out, shipped.version)

    # --- copies built beside the old ones (surge, blue-green) -------------------
    async def _build(self, r: int, shipped: snapshot.Snapshot) -> tuple[str, list]:
        """A copy of ``shipped`` built into a new database beside replica r's; returns its name and connections."""
        name = snapshot.beside_name(self.databases, self.replica_dbs[r])
        async with self.copying:
            copying = self.clock()
            conns = await snapshot.build(self.databases, self.admin, name, self.connections, shipped)
            self.copy_seconds.append(self.clock() - copying)
        return name, conns

    async def _surge(self, r: int, shipped: snapshot.Snapshot) -> None:
        """Build replica r's successor beside it; when ready it takes r's place without r leaving the pool."""
        began = self.clock()
        name, conns = await self._build(r, shipped)
        now = self.clock()
        self.extra_instances.append((began, now))
        self._switch(r, name, conns, shipped.version)
        self._visible(r, now, shipped.version, now)

    async def _blue_green(self, shipped: snapshot.Snapshot, group: int) -> None:
        """Build a whole new set, ``group`` at a time, while the old set serves; then switch every replica at one
        instant (as :meth:`cqrs_sim.model.rollout.Rollouts._blue_green`: every member is built, those behind switch)."""
        built: list[tuple[int, float, str, list]] = []
        for k in range(0, self.count, group):
            start = self.clock()
            members = range(k, min(k + group, self.count))
            for r, (name, conns) in zip(members, await asyncio.gather(*(self._build(r, shipped) for r in members))):
                built.append((r, start, name, conns))
        switch = self.clock()
        behind = {r for r in range(self.count) if self.version[r] < shipped.version}
        for r, start, name, conns in built:
            self.extra_instances.append((start, switch))
            if r in behind:
                self._switch(r, name, conns, shipped.version)
            else:
                done = asyncio.get_running_loop().create_future()
                done.set_result(None)
                self.retire_tasks.append(asyncio.ensure_future(self._drop(name, conns, done)))
        for r in sorted(behind):
            self._visible(r, switch, shipped.version, switch)

    def _switch(self, r: int, name: str, conns: list, version: int) -> None:
        """Replica r's readers move to database ``name`` now: its idle connections are replaced at once, each one
        running a read when that read returns (:meth:`_give_back`); the old database is dropped after its last read."""
        pool, old = self.conns[r], self.replica_dbs[r]
        idle, pool.items = pool.items, conns[:len(pool.items)]
        superseded, self._spares[r] = self._spares[r], conns[len(idle):]  # as many as reads still running on r
        self.replica_dbs[r] = name
        self.version[r] = version
        self._reading.setdefault(name, 0)
        finished = asyncio.get_running_loop().create_future()
        if self._reading.get(old, 0):
            self._last_read[old] = finished
        else:
            finished.set_result(None)
        self.retire_tasks.append(asyncio.ensure_future(self._drop(old, idle + superseded, finished)))

    def _give_back(self, r: int, conn, name: str) -> None:
        """Return ``conn`` (of database ``name``) after a read on replica r: to the pool if ``name`` is still r's,
        else it is closed and one of the new database's connections takes its place."""
        self._reading[name] -= 1
        if name == self.replica_dbs[r]:
            self.conns[r].put(conn)
            return
        self.conns[r].put(self._spares[r].pop())
        self.retire_tasks.append(asyncio.ensure_future(close_all([conn])))
        if not self._reading[name] and name in self._last_read:
            self._last_read.pop(name).set_result(None)

    async def _drop(self, name: str, idle: list, finished: asyncio.Future) -> None:
        """Drop database ``name`` once its last read is done (its connections ``idle`` closed first)."""
        await close_all(idle)
        await finished
        await self.dropper.execute(f'DROP DATABASE "{name}"')

    def _visible(self, r: int, out: float, version: int, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self.swaps.append((r, out, now, version))
        while len(self.first_visible) <= version:
            self.first_visible.append(now)
        lowest = min(self.version)
        while len(self.all_visible) <= lowest:
            self.all_visible.append(now)

    def record_parts(self) -> dict:
        first = np.full(self.commits + 1, math.nan)
        every = np.full(self.commits + 1, math.nan)
        n = min(len(first), len(self.first_visible))
        first[:n] = self.first_visible[:n]
        n = min(len(every), len(self.all_visible))
        every[:n] = self.all_visible[:n]
        swaps = self.swaps
        return {"first_visible": first, "all_visible": every,
                "swaps": {"replica": np.asarray([s[0] for s in swaps], np.int32),
                          "out": np.asarray([s[1] for s in swaps], float),
                          "back": np.asarray([s[2] for s in swaps], float),
                          "version": np.asarray([s[3] for s in swaps], np.int64)},
                "extra_instances": {"start": np.asarray([e[0] for e in self.extra_instances], float),
                                    "end": np.asarray([e[1] for e in self.extra_instances], float)},
                "capacity": self.count * self.connections, "write_weight": 0.0,
                "replica_count": self.count, "instances": 1 + self.count}
