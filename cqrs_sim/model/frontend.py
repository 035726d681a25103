"""What both architectures share: arrivals, the load balancer, handlers, the write stream, the logs.

A read's life, in callbacks: ``_read_arrive`` (pick a handler, wait for one of
its slots) → ``_handler_start`` (spend handler_time) → the back end's
``_query`` → … → the back end calls ``_read_done`` at the query's end, which
frees the handler slot. Writes arrive through ``_write_arrive`` and the back
end's ``_write``. Subclasses implement ``_query`` and ``_write``.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
import simpy

from ..scenario import Scenario
from ..streams import stream
from ..workload import Workload
from .balance import least_outstanding, random_choice, round_robin
from .slots import Slots

NAN = math.nan

#: called with the fraction of the arrival period simulated so far
Progress = Callable[[float], None]


class Frontend:
    """The load balancer, the handlers and the request logs of one run."""

    architecture = ""

    def __init__(self, env: simpy.Environment, scenario: Scenario, workload: Workload, replication: int):
        self.env = env
        self.scenario = scenario
        self.replication = replication
        n = workload.reads
        self.n_reads = n
        self.arrival: list[float] = workload.read_arrival.tolist()
        self.handler_time: list[float] = workload.handler_time.tolist()
        self.query_time: list[float] = workload.query_time.tolist()
        #: per-read log, filled as reads progress
        self.start: list[float] = [NAN] * n
        self.finish: list[float] = [NAN] * n
        self.handler: list[int] = [-1] * n
        self.replica: list[int] = [-1] * n
        self.seen: list[int] = [0] * n
        self.latest: list[int] = [0] * n

        handlers = scenario.handlers
        self.handler_slots = [Slots(handlers.concurrency) for _ in range(handlers.count)]
        self.handler_outstanding = [0] * handlers.count
        self._pick_handler = self._policy(scenario.load_balancer, self.handler_outstanding, "lb")

        m = workload.writes
        self.n_writes = m
        self.write_arrival: list[float] = workload.write_arrival.tolist()
        self.apply_time: list[float] = workload.apply_time.tolist()
        self.write_start: list[float] = [NAN] * m
        self.write_commit: list[float] = [NAN] * m
        self.write_version: list[int] = [0] * m
        #: commit_time[k] is when version k committed (version 0 is the initial data)
        self.commit_time: list[float] = [0.0]
        self.commits = 0
        self._next_read = 0
        self._next_write = 0

    def _policy(self, name: str, outstanding: list[int], purpose: str) -> Callable[[int], int]:
        n = len(outstanding)
        if name == "round_robin":
            return round_robin(n)
        if name == "random":
            rng = stream(self.scenario.seed, self.replication, f"{self.architecture}.{purpose}.random")
            return random_choice(n, self.n_reads, rng)
        return least_outstanding(outstanding)

    # --- starting -------------------------------------------------------------
    def start_arrivals(self, progress: Optional[Progress] = None) -> None:
        env = self.env
        if self.n_reads:
            env.timeout(self.arrival[0]).callbacks.append(self._read_arrive)
        if self.n_writes:
            env.timeout(self.write_arrival[0]).callbacks.append(self._write_arrive)
        if progress is not None:
            env.process(self._ticker(progress))

    def _ticker(self, progress: Progress):
        step = self.scenario.duration / 50
        for k in range(1, 51):
            yield self.env.timeout(step)
            progress(k / 50)

    # --- reads ----------------------------------------------------------------
    def _read_arrive(self, _event: simpy.Event) -> None:
        i = self._next_read
        h = self._pick_handler(i)
        self.handler[i] = h
        self.handler_outstanding[h] += 1
        self.handler_slots[h].acquire(self._handler_start, i)
        i += 1
        if i < self.n_reads:
            self._next_read = i
            delay = self.arrival[i] - self.env.now
            self.env.timeout(delay if delay > 0 else 0.0).callbacks.append(self._read_arrive)

    def _handler_start(self, i: int) -> None:
        t = self.handler_time[i]
        if t > 0:
            self.env.timeout(t, i).callbacks.append(self._handler_end)
        else:
            self._query(i)

    def _handler_end(self, event: simpy.Event) -> None:
        self._query(event.value)

    def _read_done(self, i: int) -> None:
        self.finish[i] = self.env.now
        h = self.handler[i]
        self.handler_outstanding[h] -= 1
        self.handler_slots[h].release()

    def _query(self, i: int) -> None:
        raise NotImplementedError

    # --- writes ---------------------------------------------------------------
    def _write_arrive(self, _event: simpy.Event) -> None:
        j = self._next_write
        self._write(j)
        j += 1
        if j < self.n_writes:
            self._next_write = j
            delay = self.write_arrival[j] - self.env.now
            self.env.timeout(delay if delay > 0 else 0.0).callbacks.append(self._write_arrive)

    def _write(self, j: int) -> None:
        raise NotImplementedError

    def _commit(self, j: int) -> int:
        """Record write ``j``'s commit now; returns the version it made."""
        self.commits += 1
        self.commit_time.append(self.env.now)
        self.write_commit[j] = self.env.now
        self.write_version[j] = self.commits
        return self.commits

    # --- results --------------------------------------------------------------
    def read_columns(self) -> dict[str, np.ndarray]:
        return {
            "arrival": np.asarray(self.arrival, dtype=float),
            "start": np.asarray(self.start, dtype=float),
            "finish": np.asarray(self.finish, dtype=float),
            "handler": np.asarray(self.handler, dtype=np.int32),
            "replica": np.asarray(self.replica, dtype=np.int32),
            "version_seen": np.asarray(self.seen, dtype=np.int64),
            "version_latest": np.asarray(self.latest, dtype=np.int64),
        }

    def write_columns(self) -> dict[str, np.ndarray]:
        return {
            "arrival": np.asarray(self.write_arrival, dtype=float),
            "start": np.asarray(self.write_start, dtype=float),
            "commit": np.asarray(self.write_commit, dtype=float),
            "version": np.asarray(self.write_version, dtype=np.int64),
        }
