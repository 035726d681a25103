"""CRUD: one database serving reads and writes.

``exclusive`` locking is a readers–writer lock with writer preference kept by
a single FIFO queue: a waiting write lets queries already running finish,
and every request behind it (reads included) waits until it commits.
``mvcc``: a write is one more client of the connection pool and reads go on.
Reads always see the newest committed version, so CRUD reads are never stale.

With ``crud.failures`` the primary fails now and then (:mod:`.failures`):
a write it was applying starts again after the repair, and writes wait in
its queue until then. Where it serves reads, its running and queued
queries fail, and a read that comes while it is down is refused at once
(a connection error): the client retries it, ``retries`` allowing.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from ..config.scenario import Scenario
from ..workload.draws import ReadSource, WriteWorkload
from .frontend import Frontend
from . import failures
from .scheduled import scheduled_roles
from .read import ATTEMPT, ID, LATEST, QUERY_TIME, READ_BACK, SEEN, START


class CrudModel(Frontend):
    architecture = "crud"
    reads_on_primary = True  #: the primary serves the reads (no read replicas)

    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        super().__init__(env, scenario, reads, writes, replication)
        self.connections = scenario.crud.connections
        self.exclusive = scenario.crud.locking == "exclusive"
        self.free = self.connections
        self.writer_active = False
        self.queue: deque = deque()  #: FIFO of reads (lists) and writes (int indices)
        self._cache_callbacks("_query_start", "_query_end")
        self.primary_outages: list[tuple[int, float, float, int]] = []  #: (0, out, back, version) per failure
        if scenario.crud.failures is not None or "primary" in scheduled_roles(scenario, "crud"):
            self.running: dict[simpy.Event, object] = {}  #: end event -> read (a list) or write (an index)
            self.down_since = 0.0
            self._query_start = self._query_start_tracked
            self._apply_start = self._apply_start_tracked
            if scenario.crud.failures is not None:
                failures.start_primary(self, scenario.crud.failures)

    # --- the lock -------------------------------------------------------------
    def _query(self, read: list) -> None:
        if not self.queue and self.free and not self.writer_active:
            self.free -= 1
            self._query_start(read)
        else:
            self.queue.append(read)
            self._dispatch()

    def _write(self, j: int) -> None:
        self.queue.append(j)
        self._dispatch()

    def _dispatch(self) -> None:
        queue = self.queue
        while queue:
            head = queue[0]
            if type(head) is list:
                if self.writer_active or not self.free:
                    return
                queue.popleft()
                self.free -= 1
                self._query_start(head)
            elif self.exclusive:
                if self.writer_active or self.free < self.connections:
                    return
                queue.popleft()
                self.writer_active = True
                self._apply_start(head)
            else:
                if not self.free:
                    return
                queue.popleft()
                self.free -= 1
                self._apply_start(head)

    # --- reads ----------------------------------------------------------------
    def _query_start(self, read: list) -> None:
        read[START] = self.env.now
        read[SEEN] = read[LATEST] = self.commits
        self.env.timeout(read[QUERY_TIME], read).callbacks.append(self._query_end)

    def _query_end(self, event: simpy.Event) -> None:
        self.free += 1
        self._read_done(event.value)
        if self.queue:
            self._dispatch()

    # --- writes ---------------------------------------------------------------
    def _apply_start(self, j: int) -> None:
        self.write_start[j] = self.env.now
        self.env.timeout(self.apply_time[j], j).callbacks.append(self._apply_end)

    def _apply_end(self, event: simpy.Event) -> None:
        self._commit(event.value)
        if self.exclusive:
            self.writer_active = False
        else:
            self.free += 1
        self._dispatch()

    # --- failures of the primary -------------------------------------------------
    # with failures the primary keeps what it runs (the plain path, without this, is the per-read hot path)
    def _query_start_tracked(self, read: list) -> None:
        read[START] = self.env.now
        read[SEEN] = read[LATEST] = self.commits
        end = self.env.timeout(read[QUERY_TIME], read)
        end.callbacks.append(self._ended)
        self.running[end] = read

    def _apply_start_tracked(self, j: int) -> None:
        self.write_start[j] = self.env.now
        end = self.env.timeout(self.apply_time[j], j)
        end.callbacks.append(self._ended)
        self.running[end] = j

    def _ended(self, event: simpy.Event) -> None:
        del self.running[event]
        if type(event.value) is list:
            self._query_end(event)
        else:
            self._apply_end(event)

    def primary_fails(self) -> None:
        """Running queries fail, running writes go back to the head of the queue; nothing starts until repaired."""
        self.down_since = self.env.now
        reads, writes = [], []
        for end, what in self.running.items():
            end.callbacks.clear()  # it still ends at its time, for nobody
            (reads if type(what) is list else writes).append(what)
        self.running.clear()
        queued = [what for what in self.queue if type(what) is list]
        if queued:
            self.queue = deque(what for what in self.queue if type(what) is not list)
        self.queue.extendleft(sorted(writes, reverse=True))
        self.free = 0  # with no free connection and no writer, _dispatch starts nothing
        self.writer_active = False
        if self.reads_on_primary:
            self._serve, self._query = self._query, self._refuse
        for read in sorted(reads, key=lambda read: (-read[READ_BACK], read[ATTEMPT], read[ID])) + queued:
            self._read_failed(read)

    def _refuse(self, read: list) -> None:
        """The database is down: the read's connection fails at once."""
        self._read_failed(read)

    def primary_repaired(self) -> None:
        self.primary_outages.append((0, self.down_since, self.env.now, self.commits))
        self.free = self.connections
        if self.reads_on_primary:
            self._query = self._serve
        self._dispatch()

    def swap_columns(self) -> dict[str, np.ndarray]:
        """The database's time down, as a swap of the one server reads go to (none without failures)."""
        return failures.outage_columns(self.primary_outages)

    def empty_pool_columns(self) -> dict[str, np.ndarray]:
        """The database's time down, where it serves the reads: they have no server to go to."""
        if not self.reads_on_primary:
            return {}
        return {"start": np.asarray([o[1] for o in self.primary_outages], dtype=float),
                "end": np.asarray([o[2] for o in self.primary_outages], dtype=float)}

    # --- results --------------------------------------------------------------
    def visibility(self) -> tuple[np.ndarray, np.ndarray]:
        """first_visible and all_visible by version: a commit is visible at once."""
        times = np.asarray(self.commit_time, dtype=float)
        return times, times

    def busy_weight_of_writes(self) -> float:
        """Connections a write occupies, for db_utilization."""
        return float(self.connections) if self.exclusive else 1.0

    @property
    def capacity(self) -> int:
        return self.connections
