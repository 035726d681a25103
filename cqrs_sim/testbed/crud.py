"""CRUD on PostgreSQL: one database, ``crud.connections`` real connections shared by reads and writes.

A read takes a connection (FIFO) and runs its query. A write takes a
connection too and runs one transaction: with ``locking: exclusive`` it
first takes ``LOCK TABLE data IN ACCESS EXCLUSIVE MODE`` (PostgreSQL lets
the queries already running finish, and queues every later query behind the
waiting lock, as the model's writer-preferring lock does); then it works
for its apply time, sets its keys' rows to the next version and commits. Reads sleep
their drawn query time and writes their drawn apply time on the server, as
drawn: what the client sees beyond that (round trips, ``pg_sleep``'s
rounding, the server's own slowdown under load) is measured, not
compensated. With ``testbed.work: queries`` a read is a real query and a
write a real update (:mod:`.schema`), and the drawn times are not played. ``mvcc``: the
same without the lock. Streaming replicas (``crud.replicas`` > 0) are not
built by the testbed.
"""

from __future__ import annotations

import numpy as np

from . import schema
from .client import Backend, Clock
from .slots import Pool


class CrudBackend(Backend):
    architecture = "crud"

    def __init__(self, clock: Clock, connections: list, exclusive: bool, work: str = "sleep"):
        self.clock = clock
        self.work = work
        self.pool = Pool(connections)
        self.size = len(connections)
        self.exclusive = exclusive
        self.commit_time = [0.0]

    async def query(self, key: int, query_time: float) -> tuple[float, int, int, int, int]:
        conn = await self.pool.get()
        try:
            start, seen, latest, key_version = await self._read(conn, key, query_time)
        finally:
            self.pool.put(conn)
        return start, seen, latest, -1, key_version

    async def write(self, keys, apply_time: float) -> tuple[float, float, int]:
        conn = await self.pool.get()
        try:
            start, commit, version = await self._apply(conn, apply_time, keys, schema.LOCK if self.exclusive else None,
                                                      self.work)
        finally:
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
