"""CQRS: writes to a write image, reads from a swarm of replicas refreshed by rollouts or projections.

Reads go to a :class:`.replicas.ReplicaPool`. Writes queue for the write
servers; after each commit either a rollout (see :mod:`.rollout`) swaps
replicas for snapshots of the write image, batch by batch, or (``strategy:
projection``, see :mod:`.projection`) every replica applies the write itself.
With ``cqrs.autoscale`` the pool is elastic (:mod:`.autoscale`; rollouts only).
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from ..config.scenario import Scenario
from ..workload.streams import stream
from ..workload.draws import ReadSource, WriteWorkload
from . import failures
from .autoscale import Autoscaler, MeteredPool
from .frontend import Frontend
from .projection import Projections
from .replicas import ReplicaPool, ServedByReplicas
from .rollout import Rollouts, copy_stream
from .scheduled import scheduled_roles
from .slots import Slots


class CqrsModel(ServedByReplicas, Frontend):
    architecture = "cqrs"

    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int, copy_draw: int = 0):
        super().__init__(env, scenario, reads, writes, replication)
        replicas, auto = scenario.cqrs.replicas, scenario.cqrs.autoscale
        hit = scheduled_roles(scenario, "cqrs")
        pool = ReplicaPool if auto is None else MeteredPool
        self.replicas = pool(
            self, replicas.count, replicas.connections, replicas.routing, self._streams("routing"), live=True,
            ties="rotate", cold_factor=replicas.cold_factor, warm_up_time=replicas.warm_up_time,
            drain=scenario.cqrs.sync.drain, failures=replicas.failures is not None or "replicas" in hit, max_lag=replicas.max_lag,
            size=None if auto is None else auto.max)
        self._query = self.replicas.query  # reads go straight to the replica pool
        self.write_servers = Slots(scenario.cqrs.write_servers)
        sync = scenario.cqrs.sync
        #: how replicas get new writes: snapshot rollouts, or projections
        self.rollouts: Rollouts | Projections
        if sync.strategy == "projection":
            self.rollouts = Projections(self.replicas, self, sync, scenario.seed, replication)
        else:
            self.rollouts = Rollouts(self.replicas, self, sync, stream(scenario.seed, replication, copy_stream(copy_draw)))
        if replicas.failures is not None:
            failures.start_cqrs_replicas(self, replicas.failures)
        if scenario.cqrs.write_server_failures is not None or "write_servers" in hit:
            servers = self.failing_servers = failures.WriteServers(self, scenario.cqrs.write_servers)
            self._write = servers.submit  # writes go to servers that fail, not to the plain slots
            if scenario.cqrs.write_server_failures is not None:
                servers.start_failures(scenario.cqrs.write_server_failures)
        if auto is not None:
            assert isinstance(self.replicas, MeteredPool) and isinstance(self.rollouts, Rollouts)
            rollouts = self.rollouts
            self.autoscaler = Autoscaler(
                self.replicas, auto, auto.provision_time or sync.replace_time,
                stream(scenario.seed, replication, "cqrs.autoscale.provision_time"), scenario.duration, self._join_new,
                removed=lambda: rollouts.reached(self.replicas.lowest_version()))

    def _join_new(self, r: int) -> None:
        """A provisioned replica joins with the newest committed version (built from the newest snapshot);
        from now on it may fail."""
        assert isinstance(self.rollouts, Rollouts)
        self.replicas.join(r, self.commits)
        self.rollouts.reached(self.commits)
        if self.scenario.cqrs.replicas.failures is not None:
            failures.start_cqrs_replica(self, r, self.scenario.cqrs.replicas.failures)

    # --- writes ---------------------------------------------------------------
    def _write(self, j: int) -> None:
        self.write_servers.acquire(self._apply_start, j)

    def _apply_start(self, j: int) -> None:
        self.write_start[j] = self.env.now
        self.env.timeout(self.apply_time[j], j).callbacks.append(self._apply_end)

    def _apply_end(self, event: simpy.Event) -> None:
        self._commit(event.value)
        self.write_servers.release()
        self.committed()

    def committed(self) -> None:
        """A commit on the write image: the replicas start to lack it."""
        if self.replicas.max_lag is not None:
            self.replicas.committed()
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
        columns = {"start": np.asarray([e[0] for e in extra], dtype=float),
                   "end": np.asarray([e[1] for e in extra], dtype=float)}
        return self.with_replica_lifetimes(columns)

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
