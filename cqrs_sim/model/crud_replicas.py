"""CRUD with read replicas fed by streaming replication: the alternative a CQRS adopter should beat.

Writes go to the primary exactly as in :class:`CrudModel` (its locking
applies there). Reads go to replicas, which never leave the pool and never
block: replica r applies commit k at max(commit_k + lag, when it applied
k − 1), the lag drawn per write and replica, so replicas apply in commit
order but drift apart. A read sees the newest version its replica has
applied when its query starts.

With ``crud.replica_autoscale`` the pool is elastic (:mod:`.autoscale`):
every replica slot applies the stream (a replica being provisioned restores
a base backup and catches up meanwhile), so a new replica joins as current
as the others; first and full visibility are taken over the replicas that
are members when the write commits.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from ..scenario import Scenario
from ..streams import stream
from ..workload import ReadSource, WriteWorkload
from .autoscale import Autoscaler, MeteredPool
from .crud import CrudModel
from .replicas import ReplicaPool, ServedByReplicas


class CrudReplicatedModel(ServedByReplicas, CrudModel):
    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        super().__init__(env, scenario, reads, writes, replication)
        crud, auto = scenario.crud, scenario.crud.replica_autoscale
        if auto is None:
            self.replicas = ReplicaPool(self, crud.replicas, crud.replica_connections, crud.replica_routing,
                                        self._streams("replicas"), live=False, ties="past_pick")
        else:
            self.replicas = MeteredPool(self, crud.replicas, crud.replica_connections, crud.replica_routing,
                                        self._streams("replicas"), live=True, ties="past_pick", size=auto.max)
            self.autoscaler = Autoscaler(
                self.replicas, auto, auto.provision_time or scenario.cqrs.sync.replace_time,
                stream(scenario.seed, replication, "crud.replica_autoscale.provision_time"), scenario.duration,
                lambda r: self.replicas.join(r, self.replicas.version[r]))
        self._query = self.replicas.query  # reads go to the replicas; the primary takes only writes
        self.applied_at = [0.0] * self.replicas.size  #: when each replica slot applied its newest version
        self.lag = crud.replication_lag
        self.lag_rng = stream(scenario.seed, replication, "crud.replication_lag")
        self.first: list[float] = [0.0]
        self.every: list[float] = [0.0]

    # --- replication ----------------------------------------------------------
    def _apply_end(self, event: simpy.Event) -> None:
        super()._apply_end(event)
        version = self.commits
        now = self.env.now
        lags = self.lag.sample(self.lag_rng, self.replicas.size)
        times = []
        for r in range(self.replicas.size):
            at = max(self.applied_at[r], now + float(lags[r]))
            self.applied_at[r] = at
            times.append(at)
            self.env.timeout(at - now, (r, version)).callbacks.append(self._applied)
        if self.autoscaler is not None:
            times = [times[r] for r in self.replicas.members]
        self.first.append(min(times))
        self.every.append(max(times))

    def _applied(self, event: simpy.Event) -> None:
        r, version = event.value
        if version > self.replicas.version[r]:
            self.replicas.version[r] = version

    # --- results --------------------------------------------------------------
    def visibility(self) -> tuple[np.ndarray, np.ndarray]:
        first = np.full(self.commits + 1, math.nan)
        every = np.full(self.commits + 1, math.nan)
        first[: len(self.first)] = self.first
        every[: len(self.every)] = self.every
        return first, every

    def busy_weight_of_writes(self) -> float:
        return 0.0  # utilisation is the read replicas'

    def extra_instance_columns(self) -> dict[str, np.ndarray]:
        return self.with_replica_lifetimes({})
