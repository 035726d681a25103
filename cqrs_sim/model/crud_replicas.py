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
(:class:`.replicas.ReplicaPool`). Without these keys (nor an autoscaler) replicas never leave
the pool.

With ``crud.replica_autoscale`` the pool is elastic (:mod:`.autoscale`):
every replica slot applies the stream (a replica being provisioned restores
a base backup and catches up meanwhile), so a new replica joins as current
as the others; first and full visibility are taken over the replicas that
are members when the write commits (with failures or stalls too: a member
at the commit that is removed later still applies it). A provisioned
replica fails and stalls from the moment it joins until it is removed.
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
from .crud import CrudModel
from .replicas import ReplicaPool, ServedByReplicas
from .own_writes import OwnWrites
from .scheduled import scheduled_roles


class CrudReplicatedModel(ServedByReplicas, CrudModel):
    reads_on_primary = False
    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        super().__init__(env, scenario, reads, writes, replication)
        crud, auto = scenario.crud, scenario.crud.replica_autoscale
        #: applies may come late (a failed or stalled replica): visibility follows the applies as they happen
        scheduled = "replicas" in scheduled_roles(scenario, "crud")
        self.late = crud.failures is not None or crud.replication_stalls is not None or scheduled
        pool = ReplicaPool if auto is None else MeteredPool
        self.replicas = pool(self, crud.replicas, crud.replica_connections, crud.replica_routing,
                             self._streams("replicas"), live=auto is not None or self.late or crud.max_lag is not None,
                             ties="past_pick", failures=crud.failures is not None or scheduled, max_lag=crud.max_lag,
                             size=None if auto is None else auto.max)
        if auto is not None:
            self.autoscaler = Autoscaler(
                self.replicas, auto, auto.provision_time or scenario.cqrs.sync.replace_time,
                stream(scenario.seed, replication, "crud.replica_autoscale.provision_time"), scenario.duration,
                self._join_new)
        self._query = self.replicas.query  # reads go to the replicas; the primary takes only writes
        self.own_writes: OwnWrites | None = None
        if crud.read_your_writes_window is not None:  # … but a client's reads just after its own write
            self.own_writes = OwnWrites(self, crud.read_your_writes_window, lambda read: CrudModel._query(self, read),
                                        self.replicas.query)
            self._query = self.own_writes.query
        self.applied_at = [0.0] * self.replicas.size  #: when each replica slot applied its newest version
        self.lag = crud.replication_lag
        self.lag_rng = stream(scenario.seed, replication, "crud.replication_lag")
        self.first: list[float] = [0.0]
        self.every: list[float] = [0.0]
        size = self.replicas.size
        self.frozen = [0] * size  #: reasons (a stall, a failure) each replica's apply is frozen
        self.backlog = [0] * size  #: the newest version that fell due while frozen
        self.applied_by = [crud.replicas]  #: late applies: replicas holding each version (members at its commit)
        #: late applies in an elastic pool: the members when each version committed (None: every replica)
        self.voters: list[frozenset[int]] | None = None if auto is None else [frozenset(self.replicas.members)]
        self.replica_outages: list[tuple[int, float, float, int]] = []  #: (replica, out, back, version) per failure
        if crud.failures is not None or crud.replication_stalls is not None:
            failures.start_crud_replicas(self, crud.failures, crud.replication_stalls)

    def _join_new(self, r: int) -> None:
        """A provisioned replica joins with what its slot has applied; from now on it fails and stalls."""
        self.replicas.join(r, self.replicas.version[r])
        crud = self.scenario.crud
        if crud.failures is not None or crud.replication_stalls is not None:
            failures.start_crud_replica(self, r, crud.failures, crud.replication_stalls)

    # --- replication ----------------------------------------------------------
    def _apply_end(self, event: simpy.Event) -> None:
        if self.own_writes is not None:
            self.own_writes.committed(self.write_client[event.value])
        super()._apply_end(event)
        version = self.commits
        now = self.env.now
        if self.replicas.max_lag is not None:
            self.replicas.committed()
        lags = self.lag.sample(self.lag_rng, self.replicas.size)
        times = []
        for r in range(self.replicas.size):
            at = max(self.applied_at[r], now + float(lags[r]))
            self.applied_at[r] = at
            times.append(at)
            self.env.timeout(at - now, (r, version)).callbacks.append(self._applied)
        if self.late:
            self.first.append(math.nan)
            self.every.append(math.nan)
            self.applied_by.append(0)
            if self.voters is not None:
                self.voters.append(frozenset(self.replicas.members))
        else:
            if self.autoscaler is not None:
                times = [times[r] for r in self.replicas.members]
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
        voters = self.voters
        for k in range(self.replicas.version[r] + 1, version + 1):
            if voters is not None and r not in voters[k]:
                continue  # not a member when k committed: its apply shows no one the write
            if math.isnan(self.first[k]):
                self.first[k] = now
            self.applied_by[k] += 1
            if self.applied_by[k] == (self.replicas.count if voters is None else len(voters[k])):
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

    def extra_instance_columns(self) -> dict[str, np.ndarray]:
        return self.with_replica_lifetimes({})
