"""CRUD with read replicas fed by streaming replication: the alternative a CQRS adopter should beat.

Writes go to the primary exactly as in :class:`CrudModel` (its locking
applies there). Reads go to replicas, which never block: replica r applies
commit k at max(commit_k + lag, when it applied k − 1), the lag drawn per
write and replica, so replicas apply in commit order but drift apart. A
read sees the newest version its replica has applied when its query starts.

With ``crud.failures`` or ``crud.replication_stalls`` a replica's apply can
freeze (:mod:`.failures`): what falls due meanwhile is applied when it
thaws, so visibility is taken from the applies as they happen. With
``crud.max_lag`` a replica too far behind takes no reads until it catches up
(:class:`.replicas.ReplicaPool`). Without these keys replicas never leave
the pool.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from ..scenario import Scenario
from ..streams import stream
from ..workload import ReadSource, WriteWorkload
from . import failures
from .crud import CrudModel
from .replicas import ReplicaPool, ServedByReplicas


class CrudReplicatedModel(ServedByReplicas, CrudModel):
    reads_on_primary = False
    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        super().__init__(env, scenario, reads, writes, replication)
        crud = scenario.crud
        #: applies may come late (a failed or stalled replica): visibility follows the applies as they happen
        self.late = crud.failures is not None or crud.replication_stalls is not None
        self.replicas = ReplicaPool(self, crud.replicas, crud.replica_connections, crud.replica_routing,
                                    self._streams("replicas"), live=self.late or crud.max_lag is not None,
                                    ties="past_pick", failures=crud.failures is not None, max_lag=crud.max_lag)
        self._query = self.replicas.query  # reads go to the replicas; the primary takes only writes
        self.applied_at = [0.0] * crud.replicas  #: when each replica applied its newest version
        self.lag = crud.replication_lag
        self.lag_rng = stream(scenario.seed, replication, "crud.replication_lag")
        self.first: list[float] = [0.0]
        self.every: list[float] = [0.0]
        self.frozen = [0] * crud.replicas  #: reasons (a stall, a failure) each replica's apply is frozen
        self.backlog = [0] * crud.replicas  #: the newest version that fell due while frozen
        self.applied_by = [crud.replicas]  #: late applies: replicas holding each version
        self.replica_outages: list[tuple[int, float, float, int]] = []  #: (replica, out, back, version) per failure
        if self.late:
            failures.start_crud_replicas(self, crud.failures, crud.replication_stalls)

    # --- replication ----------------------------------------------------------
    def _apply_end(self, event: simpy.Event) -> None:
        super()._apply_end(event)
        version = self.commits
        now = self.env.now
        if self.replicas.max_lag is not None:
            self.replicas.committed()
        lags = self.lag.sample(self.lag_rng, self.replicas.count)
        times = []
        for r in range(self.replicas.count):
            at = max(self.applied_at[r], now + float(lags[r]))
            self.applied_at[r] = at
            times.append(at)
            self.env.timeout(at - now, (r, version)).callbacks.append(self._applied)
        if self.late:
            self.first.append(math.nan)
            self.every.append(math.nan)
            self.applied_by.append(0)
        else:
            self.first.append(min(times))
            self.every.append(max(times))

    def _applied(self, event: simpy.Event) -> None:
        r, version = event.value
        if self.late:
            if self.frozen[r]:
                self.backlog[r] = max(self.backlog[r], version)
            else:
                self._apply(r, version)
        elif version > self.replicas.version[r]:
            self.replicas.version[r] = version
            if self.replicas.max_lag is not None:
                self.replicas.advanced(r)

    def _apply(self, r: int, version: int) -> None:
        """Replica r applies every version up to ``version`` now."""
        now = self.env.now
        for k in range(self.replicas.version[r] + 1, version + 1):
            if math.isnan(self.first[k]):
                self.first[k] = now
            self.applied_by[k] += 1
            if self.applied_by[k] == self.replicas.count:
                self.every[k] = now
        self.replicas.applied(r, version)

    def freeze(self, r: int) -> bool:
        self.frozen[r] += 1
        return True

    def thaw(self, r: int) -> None:
        self.frozen[r] -= 1
        if not self.frozen[r] and self.backlog[r] > self.replicas.version[r]:
            self._apply(r, self.backlog[r])

    # --- results --------------------------------------------------------------
    def visibility(self) -> tuple[np.ndarray, np.ndarray]:
        first = np.full(self.commits + 1, math.nan)
        every = np.full(self.commits + 1, math.nan)
        first[: len(self.first)] = self.first
        every[: len(self.every)] = self.every
        return first, every

    def swap_columns(self) -> dict[str, np.ndarray]:
        """Failed replicas' time out of the pool (none without failures)."""
        return failures.outage_columns(self.replica_outages)

    def busy_weight_of_writes(self) -> float:
        return 0.0  # utilisation is the read replicas'
