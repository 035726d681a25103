"""CQRS on PostgreSQL: a write database, one database per replica, and rollouts that copy the write image.

Writes run on the write database through ``cqrs.write_servers``
connections. Each replica is its own database on the same server with
``cqrs.replicas.connections`` connections; the client routes a read to an
in-pool replica by ``cqrs.replicas.routing`` (the simulator's routers) and
the version the read returns is the version that replica's data holds, so
staleness is measured.

A rollout follows the model's rules (:mod:`cqrs_sim.model.rollout`): it
starts ``trigger_delay`` after a commit unless one is running, and ships
the write image as it is when the rollout starts. Shipping is a real
snapshot: the write image is dumped (``COPY … TO``, one consistent
snapshot) into a staging database, and each replica, ``batch_size`` at a
time, leaves the pool, drains, and is replaced by ``DROP DATABASE`` and
``CREATE DATABASE … TEMPLATE`` the staging database (a template must have
no connections, which is why the write image itself, always connected, is
not the template), then reconnects and rejoins. The dump's and each copy's own
times are measured and reported (``dump_seconds``, ``copy_seconds``); a
replica rejoins no earlier than its drawn ``replace_time`` after it drained,
which stands for the copy of a production-sized database (a dump and copy
slower than that draw make the swap slower, and the swap times reported
show it).
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
from . import schema
from .client import Backend, Clock
from .measure import Compensation
from .server import Databases, with_database
from .slots import Pool


async def connect_many(dsn: str, count: int) -> list:
    import psycopg

    return [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(count)]


async def close_all(connections: list) -> None:
    for conn in connections:
        await conn.close()


class CqrsBackend(Backend):
    architecture = "cqrs"

    def __init__(self, clock: Clock, scenario: Scenario, replication: int, databases: Databases,
                 write_db: str, replica_dbs: list[str], read_overhead: float, write_overhead: float):
        self.clock = clock
        self.scenario = scenario
        self.databases = databases
        self.write_db = write_db
        self.replica_dbs = replica_dbs
        self.reads = Compensation(read_overhead)  #: server-side sleeps less the client overhead (see measure.py)
        self.writes = Compensation(write_overhead)
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
        self.replace_rng = stream(scenario.seed, replication, "cqrs.replace_time")
        self.running = False
        self.pending = False
        self.first_visible: list[float] = [0.0]
        self.all_visible: list[float] = [0.0]
        self.swaps: list[tuple[int, float, float, int]] = []
        self.copy_seconds: list[float] = []  #: per swap: the real drop, copy and reconnect
        self.dump_seconds: list[float] = []  #: per rollout: the write image dumped into the staging database
        self.rollout_tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        dsn = self.databases.dsn
        self.writers = Pool(await connect_many(with_database(dsn, self.write_db), self.scenario.cqrs.write_servers))
        for name in self.replica_dbs:
            self.conns.append(Pool(await connect_many(with_database(dsn, name), self.connections)))
        self.source = (await connect_many(with_database(dsn, self.write_db), 1))[0]  #: the dump's connection
        self.admin = (await connect_many(dsn, 1))[0]

    async def close(self) -> None:
        for task in self.rollout_tasks:
            task.cancel()
        await asyncio.gather(*self.rollout_tasks, return_exceptions=True)
        for pool in [self.writers, *self.conns]:
            await close_all(pool.items)
        await close_all([self.source, self.admin])

    async def settle(self) -> None:
        while not all(task.done() for task in self.rollout_tasks):
            await asyncio.gather(*self.rollout_tasks)

    # --- reads ----------------------------------------------------------------
    async def query(self, i: int, query_time: float) -> tuple[float, int, int, int]:
        while not self.pool_list:
            self._rejoined.clear()
            await self._rejoined.wait()
        r = self._route()
        self.outstanding[r] += 1
        pool = self.conns[r]
        conn = await pool.get()
        try:
            start = self.clock()
            latest = self.commits
            slept = self.reads.sleep_for(query_time)
            cursor = await conn.execute(schema.READ, (slept, i % schema.ROWS))
            row = await cursor.fetchone()
            self.reads.observe(self.clock() - start, slept)
        finally:
            pool.put(conn)
            self.outstanding[r] -= 1
            drained = self._drained[r]
            if not self.outstanding[r] and drained is not None and not drained.done():
                drained.set_result(None)
        return start, int(row[0]), latest, r

    # --- writes ---------------------------------------------------------------
    async def write(self, j: int, apply_time: float) -> tuple[float, float, int]:
        conn = await self.writers.get()
        try:
            start, commit, version = await self._apply(conn, apply_time, self.writes)
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
        while True:
            behind = [r for r in range(self.count) if self.version[r] < self.commits]
            snapshot = asyncio.ensure_future(self._dump())  # the write image as it is now, while the first batch drains
            try:
                for k in range(0, len(behind), group):
                    await asyncio.gather(*(self._swap(r, snapshot) for r in behind[k:k + group]))
            finally:
                snapshot.cancel()
            again = self.pending and min(self.version) < self.commits
            self.pending = False
            if not again:
                self.running = False
                return

    async def _dump(self) -> int:
        """Snapshot the write image into the staging database; returns the version it holds."""
        began = self.clock()
        staging = self.databases.name("staging")
        if staging in self.databases.created:
            await self.admin.execute(f'DROP DATABASE "{staging}"')
            self.databases.created.remove(staging)
        await self.admin.execute(f'CREATE DATABASE "{staging}" TEMPLATE "{self.databases.name("schema")}"')
        self.databases.created.append(staging)
        import psycopg

        buffer = bytearray()
        async with self.source.cursor().copy("COPY data TO STDOUT") as copy:
            async for chunk in copy:
                buffer += chunk
        async with await psycopg.AsyncConnection.connect(with_database(self.databases.dsn, staging),
                                                         autocommit=True) as conn:
            await conn.execute("TRUNCATE data")
            async with conn.cursor().copy("COPY data FROM STDIN") as copy:
                await copy.write(bytes(buffer))
            cursor = await conn.execute("SELECT max(version) FROM data")
            version = int((await cursor.fetchone())[0])
        self.dump_seconds.append(self.clock() - began)
        return version

    async def _swap(self, r: int, snapshot: asyncio.Future) -> None:
        out = self.clock()
        self.pool_list.remove(r)
        if self.sync.drain and self.outstanding[r]:
            self._drained[r] = asyncio.get_running_loop().create_future()
            await self._drained[r]
            self._drained[r] = None
        replace_time = float(self.sync.replace_time.sample(self.replace_rng, 1)[0])
        began = self.clock()
        version = await asyncio.shield(snapshot)
        copying = self.clock()
        pool = self.conns[r]
        await close_all(pool.items)
        name = self.replica_dbs[r]
        await self.admin.execute(f'DROP DATABASE "{name}"')
        await self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.databases.name("staging")}"')
        pool.items = await connect_many(with_database(self.databases.dsn, name), self.connections)
        self.copy_seconds.append(self.clock() - copying)
        await self.clock.until(began + replace_time)
        self.version[r] = version
        bisect.insort(self.pool_list, r)
        self._rejoined.set()
        self._visible(r, out, version)

    def _visible(self, r: int, out: float, version: int) -> None:
        now = self.clock()
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
                "capacity": self.count * self.connections, "write_weight": 0.0,
                "replica_count": self.count, "instances": 1 + self.count}
