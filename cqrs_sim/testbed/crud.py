"""CRUD on PostgreSQL: one database, ``crud.connections`` real connections shared by reads and writes.

A read takes a connection (FIFO) and runs its query. A write takes a
connection too and runs one transaction: with ``locking: exclusive`` it
first takes ``LOCK TABLE data IN ACCESS EXCLUSIVE MODE`` (PostgreSQL lets
the queries already running finish, and queues every later query behind the
waiting lock, as the model's writer-preferring lock does); then it works
for its apply time, advances every row's version and commits. ``mvcc``: the
same without the lock. Streaming replicas (``crud.replicas`` > 0) are not
built by the testbed.
"""

from __future__ import annotations

import numpy as np

from . import schema
from .client import Backend, Clock
from .measure import Compensation
from .slots import Pool


class CrudBackend(Backend):
    architecture = "crud"

    def __init__(self, clock: Clock, connections: list, exclusive: bool, read_overhead: float, write_overhead: float):
        self.clock = clock
        self.pool = Pool(connections)
        self.size = len(connections)
        self.exclusive = exclusive
        self.reads = Compensation(read_overhead)  #: server-side sleeps less the client overhead (see measure.py)
        self.writes = Compensation(write_overhead)
        self.commit_time = [0.0]
        self.writing = 0  #: exclusive writes holding or waiting for the table lock (reads then wait for them)

    async def query(self, i: int, query_time: float) -> tuple[float, int, int, int]:
        conn = await self.pool.get()
        try:
            start = self.clock()
            latest = self.commits
            slept = self.reads.sleep_for(query_time)
            locked = self.writing
            cursor = await conn.execute(schema.READ, (slept, i % schema.ROWS))
            row = await cursor.fetchone()
            if not locked and not self.writing:
                self.reads.observe(self.clock() - start, slept)
        finally:
            self.pool.put(conn)
        return start, int(row[0]), latest, -1

    async def write(self, j: int, apply_time: float) -> tuple[float, float, int]:
        conn = await self.pool.get()
        if self.exclusive:
            self.writing += 1
        try:
            start, commit, version = await self._apply(conn, apply_time, self.writes,
                                                       schema.LOCK if self.exclusive else None)
        finally:
            if self.exclusive:
                self.writing -= 1
            self.pool.put(conn)
        self.committed(version, commit)
        return start, commit, version

    def record_parts(self) -> dict:
        times = np.asarray(self.commit_time, dtype=float)
        empty = np.empty(0)
        return {"first_visible": times, "all_visible": times,
                "swaps": {"replica": np.empty(0, np.int32), "out": empty, "back": empty, "version": np.empty(0, np.int64)},
                "capacity": self.size, "write_weight": float(self.size) if self.exclusive else 1.0,
                "replica_count": 1, "instances": 1}
