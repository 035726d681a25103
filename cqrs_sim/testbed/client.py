"""The testbed's client: real-time arrivals, the load balancer and the handlers, in asyncio.

It plays the simulated front end in real time: read ``i`` is sent at the
instant the simulation draws for it, picks a handler by the scenario's
``load_balancer`` policy (the simulator's own routers, :mod:`cqrs_sim.model.routing`),
waits FIFO for one of the handler's slots, spends its handler time, and
runs its query on a back end (:mod:`.crud` or :mod:`.cqrs`) through real
connections. Writes are sent at their drawn instants. Every time is read
from one monotonic clock, in seconds from the run's start, and every read
is recorded as the simulator records it, so the output is the same
:class:`~cqrs_sim.model.record.RunRecord`. A writer's read-back
(``workload.writes.read_back``, :mod:`.read_backs`) is sent ``after`` its
commit through the same handlers and recorded apart, as the model does.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Optional

import numpy as np

from ..model.record import RunRecord
from ..model.routing import router
from ..config.scenario import Scenario
from ..workload.streams import stream
from ..analysis.tables import empty_spans, within
from ..workload.draws import ReadSource, WriteWorkload
from ..workload.sessions import Sessions
from .measure import probe_timer
from .read_backs import ReadBacks
from .transactions import write_transaction
from .slots import Slots
from . import schema


def monotonic_violations(reads: dict, returned: np.ndarray) -> np.ndarray:
    """Per read, whether it violated monotonic reads (:class:`cqrs_sim.workload.sessions.Sessions`), judged on the version
    of its key the real read returned, in the order the client got the answers."""
    order = np.argsort(reads["finish"], kind="stable")
    out = np.zeros(len(order), dtype=bool)
    out[order] = Sessions().violations(reads["client"][order], returned[order], reads["key"][order],
                                       np.ones(len(order), dtype=bool), None)
    return out


class Clock:
    """Seconds since the run's start, on the monotonic clock."""

    def __init__(self) -> None:
        self.zero = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.zero

    async def until(self, t: float) -> None:
        delay = t - self()
        if delay > 0:
            await asyncio.sleep(delay)


class Backend:
    """What a back end provides: ``query`` for a read, ``write`` for a write, and its parts of the record."""

    architecture = ""
    clock: Clock
    commit_time: list[float]  #: by version, [0] = 0: when the client saw each commit

    async def query(self, key: int, query_time: float) -> tuple[float, int, int, int, int]:
        """Run a read of ``key``; returns (start, version seen, newest version at start, replica or -1, the version
        of ``key`` it returned)."""
        raise NotImplementedError

    async def write(self, keys: Optional[list[int]], apply_time: float) -> tuple[float, float, int]:
        """Apply a write of ``keys`` (None: every row); returns (apply start, commit, version)."""
        raise NotImplementedError

    def record_parts(self) -> dict:
        raise NotImplementedError

    work = "sleep"  #: testbed.work: how a read and a write do their work on the server

    async def _read(self, conn, key: int, query_time: float) -> tuple[float, int, int, int]:
        """One read of ``key`` on ``conn`` (:func:`.schema.read`). Returns (start, the data version it saw, the newest
        version committed when it started, the version of ``key`` it returned)."""
        start = self.clock()
        latest = self.commits
        row = await (await conn.execute(*schema.read(self.work, key, query_time))).fetchone()
        return start, int(row[1]), latest, int(row[0])

    async def _apply(self, conn, apply_time: float, keys: Optional[list[int]],
                     lock: str | None = None, work: str = "sleep") -> tuple[float, float, int]:
        """One write's transaction on ``conn`` (:func:`write_transaction`), timed on the run's clock.
        Returns (start, commit, version)."""
        start, version = await write_transaction(conn, apply_time, lock, self.clock, keys, work)
        return start, self.clock(), version

    async def settle(self) -> None:
        """Wait for what the back end still does after the last request (CQRS: rollouts)."""

    @property
    def commits(self) -> int:
        return len(self.commit_time) - 1

    def committed(self, version: int, at: float) -> None:
        """Note version ``version``'s commit, seen by the client at ``at``."""
        while len(self.commit_time) <= version:
            self.commit_time.append(at)


class Client:
    """One replication's reads and writes against a back end, in real time."""

    def __init__(self, scenario: Scenario, replication: int, backend: Backend, writes: WriteWorkload):
        self.scenario = scenario
        self.replication = replication
        self.backend = backend
        self.writes = writes
        handlers = scenario.handlers
        self.rows = schema.rows(scenario)
        self.handler_slots = [Slots(handlers.concurrency) for _ in range(handlers.count)]
        self.handler_outstanding = [0] * handlers.count
        self._pick_handler = router(scenario.load_balancer, handlers.count, self.handler_outstanding,
                                    lambda kind: stream(scenario.seed, replication, f"{backend.architecture}.lb.{kind}"))
        self.keyed = scenario.workload.keys is not None
        self.clients = scenario.workload.reads.clients
        self.client_of: list[int] = []  #: per read sent, its client (0 without clients)
        self.reads: list[tuple] = []  #: id, arrival, start, finish, handler, replica, seen, latest, key, key version
        self.write_rows: list[tuple[float, float, float, int]] = [(math.nan, math.nan, math.nan, 0)] * len(writes)
        self.lateness: list[float] = []  #: how late each read was sent, against its drawn instant
        self.timer_lateness: list[float] = []  #: how late each wake-up of the timer probe came (the machine's load)
        self.read_backs = ReadBacks(scenario, replication, backend.architecture)

    async def run(self) -> RunRecord:
        clock = self.backend.clock
        tasks: list[asyncio.Task] = []
        probe = asyncio.create_task(probe_timer(clock, self.timer_lateness))
        writer = asyncio.create_task(self._send_writes())
        i = 0
        try:
            for arrivals, handler_times, query_times, keys, clients in ReadSource(self.scenario, self.replication,
                                                                                  self.backend.architecture):
                for t, h, q, k, c in zip(arrivals, handler_times, query_times, keys, clients):
                    await clock.until(t)
                    self.lateness.append(clock() - t)
                    key = int(k) if self.keyed else i % self.rows  # without keys: one shared item, any row holds it
                    self.client_of.append(int(c))
                    tasks.append(asyncio.create_task(self._read(i, h, q, key)))
                    i += 1
            await writer
            await asyncio.gather(*tasks)
            await self.backend.settle()
        except BaseException:
            writer.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(writer, *tasks, return_exceptions=True)
            raise
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        return self._record(i)

    async def _read(self, i: int, handler_time: float, query_time: float, key: int) -> None:
        arrival, h, (start, seen, latest, replica, key_version), finish = await self._serve(handler_time, query_time,
                                                                                             key)
        self.reads.append((i, arrival, start, finish, h, replica, seen, max(latest, seen), key, key_version))

    async def _serve(self, handler_time: float, query_time: float, key: int) -> tuple:
        """A read's way through a handler and the back end: (arrival, handler, the back end's answer, finish)."""
        clock = self.backend.clock
        arrival = clock()
        h = self._pick_handler()
        self.handler_outstanding[h] += 1
        slots = self.handler_slots[h]
        await slots.acquire()
        try:
            if handler_time > 0:
                await asyncio.sleep(handler_time)
            answer = await self.backend.query(key, query_time)
            finish = clock()
        finally:
            self.handler_outstanding[h] -= 1
            slots.release()
        return arrival, h, answer, finish

    async def _read_back(self, version: int, commit: float, key: int) -> None:
        """The writer of ``version`` reads its first key back, ``after`` its commit (if the model's draw says so)."""
        drawn = self.read_backs.of(version)
        if drawn is None:
            return
        await self.backend.clock.until(commit + self.read_backs.after)
        arrival, _, (start, seen, _, _, _), finish = await self._serve(drawn[0], drawn[1], key)
        self.read_backs.rows.append((version, arrival, start, finish, seen))

    async def _send_writes(self) -> None:
        clock = self.backend.clock
        tasks = []
        for j, (t, apply) in enumerate(zip(self.writes.arrival.tolist(), self.writes.apply_time.tolist())):
            await clock.until(t)
            keys = [int(k) for k in self.writes.keys[j]] if self.keyed else None
            tasks.append(asyncio.create_task(self._write(j, clock(), apply, keys)))
        await asyncio.gather(*tasks)

    async def _write(self, j: int, arrival: float, apply_time: float, keys: Optional[list[int]]) -> None:
        start, commit, version = await self.backend.write(keys, apply_time)
        self.write_rows[j] = (arrival, start, commit, version)
        await self._read_back(version, commit, keys[0] if keys else 0)

    def _record(self, count: int) -> RunRecord:
        rows = sorted(self.reads)
        columns = list(zip(*rows)) if rows else [[] for _ in range(10)]
        names = (("id", np.int64), ("arrival", float), ("start", float), ("finish", float), ("handler", np.int32),
                 ("replica", np.int32), ("version_seen", np.int64), ("version_latest", np.int64), ("key", np.int64),
                 ("key_version", np.int64))
        reads = {name: np.asarray(column, dtype=dtype) for (name, dtype), column in zip(names, columns)}
        self.key_version = reads.pop("key_version")  #: per read (in id order): the version of its key it returned
        if self.clients is not None:
            reads["client"] = np.asarray(self.client_of, dtype=np.int32)[reads["id"]]
            reads["monotonic_violation"] = monotonic_violations(reads, self.key_version)
        if not self.keyed:
            del reads["key"]
        reads["timed_out"] = np.zeros(len(rows), dtype=bool)
        w = list(zip(*self.write_rows)) if self.write_rows else [[], [], [], []]
        writes = {"arrival": np.asarray(w[0], dtype=float), "start": np.asarray(w[1], dtype=float),
                  "commit": np.asarray(w[2], dtype=float), "version": np.asarray(w[3], dtype=np.int64)}
        end = float(np.nanmax(np.concatenate([[0.0], reads["finish"], writes["commit"]])))
        parts = self.backend.record_parts()
        parts["empty_pool"] = empty_spans(parts["swaps"], parts["replica_count"])
        reads["waited_for_pool"] = within(reads["arrival"], parts["empty_pool"])  # arrived with no replica in the pool
        if self.keyed:
            parts["write_keys"] = np.asarray(self.writes.keys, dtype=np.int64)
        return RunRecord(
            architecture=self.backend.architecture, replication=self.replication, reads=reads, aggregates=None,
            reads_recorded=count, writes=writes, commit_time=np.asarray(self.backend.commit_time, dtype=float),
            end_time=end, read_backs=self.read_backs.columns() if self.read_backs.config is not None else {},
            write_client=np.asarray(self.writes.client, dtype=np.int64) if self.clients is not None else None, **parts)
