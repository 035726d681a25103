"""CQRS: writes to a write image, reads from a swarm of replicas refreshed by rollouts.

Each replica has its own FIFO connection pool and a version. A handler
routes a read to an in-pool replica; with none in the pool the read waits
for one to rejoin. After each commit a rollout (see :mod:`.rollout`) swaps
replicas for snapshots of the write image, batch by batch.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np
import simpy

from ..scenario import Scenario
from ..streams import stream
from ..workload import ReadSource, WriteWorkload
from .balance import power_of_two
from .frontend import Frontend
from .read import ATTEMPT, ID, LATEST, QUERY_TIME, READ_BACK, REPLICA, SEEN, START
from .rollout import Rollouts
from .slots import Slots


class CqrsModel(Frontend):
    architecture = "cqrs"

    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        super().__init__(env, scenario, reads, writes, replication)
        replicas = scenario.cqrs.replicas
        n = replicas.count
        self.replica_count = n
        self.connections = replicas.connections
        self.version = [0] * n
        self.pool: list[int] = list(range(n))  #: in-pool replicas, sorted
        self.in_pool = [True] * n
        self.outstanding = [0] * n  #: reads routed to a replica and not finished
        self.conns = [Slots(replicas.connections) for _ in range(n)]
        self.pool_wait: deque[list] = deque()  #: reads waiting for any replica to rejoin
        self._route = self._router(replicas.routing)
        self.write_servers = Slots(scenario.cqrs.write_servers)
        self.drain = scenario.cqrs.sync.drain
        #: drain: false: per replica, the end event of each query running there, and its read
        self.running: list[dict[simpy.Event, list]] = [{} for _ in range(n)]
        self.cold_factor = replicas.cold_factor
        self.warm_up_time = replicas.warm_up_time
        self.joined_at = [-math.inf] * n  #: when each replica last rejoined (replicas start warm)
        self._cache_callbacks("_query_start", "_query_end")
        self.rollouts = Rollouts(self, scenario.cqrs.sync, stream(scenario.seed, replication, "cqrs.replace_time"))

    def _router(self, policy: str):
        if policy == "round_robin":
            state = [0]
            n = self.replica_count

            in_pool = self.in_pool

            def route(_: int) -> int:
                k = state[0]
                while not in_pool[k]:
                    k = k + 1 if k + 1 < n else 0
                state[0] = k + 1 if k + 1 < n else 0
                return k

            return route
        if policy == "random":
            rng = stream(self.scenario.seed, self.replication, "cqrs.routing.random")
            pool = self.pool
            state: list = [[], 0]

            def route(_: int) -> int:
                table, k = state
                if k == len(table):
                    table = state[0] = rng.random(1 << 16).tolist()
                    k = 0
                state[1] = k + 1
                return pool[int(table[k] * len(pool))]

            return route
        if policy == "power_of_two":
            return power_of_two(self.outstanding, stream(self.scenario.seed, self.replication, "cqrs.routing.two"), self.pool)
        if policy == "prefer_fresh":
            outstanding = self.outstanding
            pool = self.pool
            version = self.version
            turn = [0]

            def route(_: int) -> int:
                newest = max(version[r] for r in pool)
                fresh = [r for r in pool if version[r] == newest]
                start = turn[0] % len(fresh)
                turn[0] += 1
                best = fresh[start]
                for step in range(1, len(fresh)):
                    r = fresh[(start + step) % len(fresh)]
                    if outstanding[r] < outstanding[best]:
                        best = r
                return best

            return route
        outstanding = self.outstanding
        pool = self.pool
        state = [0]

        def route(_: int) -> int:
            size = len(pool)
            start = state[0] % size
            best = pool[start]
            best_load = outstanding[best]
            if best_load:
                for step in range(1, size):
                    r = pool[(start + step) % size]
                    load = outstanding[r]
                    if load < best_load:
                        best, best_load = r, load
                        if not load:
                            break
            state[0] = start + 1
            return best

        return route

    # --- reads ----------------------------------------------------------------
    def _query(self, read: list) -> None:
        if not self.pool:
            self.pool_wait.append(read)
            return
        r = self._route(0)
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
        read[LATEST] = self.commits
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
            self.rollouts.drained(r)
        self._read_done(read)

    # --- pool membership (used by rollouts) -----------------------------------
    def leave(self, r: int) -> None:
        self.pool.remove(r)
        self.in_pool[r] = False
        if not self.drain:
            self._evict(r)

    def join(self, r: int, version: int) -> None:
        self.version[r] = version
        self.joined_at[r] = self.env.now
        bisect.insort(self.pool, r)
        self.in_pool[r] = True
        waiting = self.pool_wait
        while waiting and self.pool:
            self._query(waiting.popleft())

    def replace_in_place(self, r: int, version: int) -> None:
        """A new instance takes replica r's place without the replica leaving the pool (surge, blue-green)."""
        self.version[r] = version
        self.joined_at[r] = self.env.now

    def _evict(self, r: int) -> None:
        """drain: false: queued reads re-route at once; running queries are abandoned and restart elsewhere.

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
            self._query(read)

    # --- writes ---------------------------------------------------------------
    def _write(self, j: int) -> None:
        self.write_servers.acquire(self._apply_start, j)

    def _apply_start(self, j: int) -> None:
        self.write_start[j] = self.env.now
        self.env.timeout(self.apply_time[j], j).callbacks.append(self._apply_end)

    def _apply_end(self, event: simpy.Event) -> None:
        self._commit(event.value)
        self.write_servers.release()
        self.rollouts.committed()

    # --- results --------------------------------------------------------------
    def visibility(self) -> tuple[np.ndarray, np.ndarray]:
        first = np.full(self.commits + 1, math.nan)
        every = np.full(self.commits + 1, math.nan)
        first[: len(self.rollouts.first_visible)] = self.rollouts.first_visible
        every[: len(self.rollouts.all_visible)] = self.rollouts.all_visible
        return first, every

    def extra_instance_columns(self) -> dict[str, np.ndarray]:
        extra = self.rollouts.extra_instances
        return {"start": np.asarray([e[0] for e in extra], dtype=float), "end": np.asarray([e[1] for e in extra], dtype=float)}

    def swap_columns(self) -> dict[str, np.ndarray]:
        swaps = self.rollouts.swaps
        return {
            "replica": np.asarray([s[0] for s in swaps], dtype=np.int32),
            "out": np.asarray([s[1] for s in swaps], dtype=float),
            "back": np.asarray([s[2] for s in swaps], dtype=float),
            "version": np.asarray([s[3] for s in swaps], dtype=np.int64),
        }

    def busy_weight_of_writes(self) -> float:
        return 0.0  # writes run on the write image, not the replicas

    @property
    def capacity(self) -> int:
        return self.replica_count * self.connections
