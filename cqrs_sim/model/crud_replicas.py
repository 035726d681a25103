"""CRUD with read replicas fed by streaming replication: the alternative a CQRS adopter should beat.

Writes go to the primary exactly as in :class:`CrudModel` (its locking
applies there). Reads go to replicas, which never leave the pool and never
block: replica r applies commit k at max(commit_k + lag, when it applied
k − 1), the lag drawn per write and replica, so replicas apply in commit
order but drift apart. A read sees the newest version its replica has
applied when its query starts.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from ..scenario import Scenario
from ..streams import stream
from ..workload import ReadSource, WriteWorkload
from .crud import CrudModel
from .replicas import ReplicaPool, ServedByReplicas


class CrudReplicatedModel(ServedByReplicas, CrudModel):
    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        super().__init__(env, scenario, reads, writes, replication)
        crud = scenario.crud
        self.replicas = ReplicaPool(self, crud.replicas, crud.replica_connections, crud.replica_routing,
                                    self._streams("replicas"), live=False, ties="past_pick")
        self._query = self.replicas.query  # reads go to the replicas; the primary takes only writes
        self.applied_at = [0.0] * crud.replicas  #: when each replica applied its newest version
        self.lag = crud.replication_lag
        self.lag_rng = stream(scenario.seed, replication, "crud.replication_lag")
        self.first: list[float] = [0.0]
        self.every: list[float] = [0.0]

    # --- replication ----------------------------------------------------------
    def _apply_end(self, event: simpy.Event) -> None:
        super()._apply_end(event)
        version = self.commits
        now = self.env.now
        lags = self.lag.sample(self.lag_rng, self.replicas.count)
        times = []
        for r in range(self.replicas.count):
            at = max(self.applied_at[r], now + float(lags[r]))
            self.applied_at[r] = at
            times.append(at)
            self.env.timeout(at - now, (r, version)).callbacks.append(self._applied)
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
