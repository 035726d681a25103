"""The schema of the designs: the handlers, ``crud:`` (one database, optionally with streaming replicas) and
``cqrs:`` (a write image and a swarm of read replicas refreshed by rollouts or projections), with their
failures, stalls and autoscalers.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, Optional

from pydantic import Field, model_validator

from .parametric import Constant
from .distributions import Distribution
from .distbase import Number, Seconds
from .fields import Count, NonNegativeCount, Policy, ReplicaPolicy, _Section


class Handlers(_Section):
    count: Count = 4
    """Database handlers behind the load balancer."""
    concurrency: Count = 16
    """Reads a handler serves at once (a slot is held for the whole read)."""


class Failures(_Section):
    mtbf: Distribution
    """Time an instance runs from its start (or its repair) until it fails."""
    mttr: Distribution
    """Time a failed instance stays down; a CQRS replica then loads the newest snapshot, taking cqrs.sync.replace_time, before it rejoins."""


class ScheduledFault(_Section):
    at: Seconds
    """When the instance fails, from the start of the run (the same time in every replication and design)."""
    for_: Seconds = Field(alias="for", gt=0)
    """How long it stays down; then it is repaired as a random failure is (a CQRS replica loads the newest snapshot, taking cqrs.sync.replace_time)."""
    target: str
    """Which instance: `cqrs.replicas.N`, `cqrs.write_servers.N`, `crud.primary`, `crud.replicas.N`, or `replicas.N` (replica N of every simulated design that has read replicas); N counts from 0."""


class FailureSchedule(_Section):
    scheduled: list[ScheduledFault] = Field(default_factory=list)
    """Failures at given times, [{at, for, target}, ...]; they combine with random failures (mtbf/mttr): an instance is down while either holds it down."""


class Stalls(_Section):
    every: Distribution
    """Time a replica applies normally between stalls (from the end of one stall to the start of the next)."""
    duration: Distribution
    """How long one stall freezes the replica's apply (its lag grows meanwhile)."""


class Autoscale(_Section):
    min: Count = 1
    """Fewest replicas the autoscaler keeps (it never removes below this)."""
    max: Count
    """Most replicas the autoscaler runs, those being provisioned included."""
    target_utilization: Number = Field(default=0.6, gt=0, le=1, allow_inf_nan=False)
    """Connection utilization the autoscaler aims at: desired replicas = ceil(mean busy connections over the last interval / (connections per replica × target)), clamped to [min, max]."""
    tolerance: Number = Field(default=0.1, ge=0, lt=1, allow_inf_nan=False)
    """No change while utilization / target is within 1 ± tolerance (as Kubernetes' autoscaler, whose default this is); 0: act on every difference."""
    interval: Seconds = Field(default=60.0, gt=0)
    """How often the autoscaler measures utilization and decides; the first decision comes one interval after the start."""
    scale_out_cooldown: Seconds = 60.0
    """Time after a scale-out before the next scale-out."""
    scale_in_cooldown: Seconds = 300.0
    """Time after any scale-out or scale-in before a scale-in."""
    provision_time: Optional[Distribution] = None
    """Time from the decision until a new replica, built from the newest snapshot, joins the pool; default: cqrs.sync.replace_time."""

    def desired(self, busy_connections: float, connections: int) -> int:
        """The rule: replicas wanted for a mean of ``busy_connections`` busy, ``connections`` per replica.

        ceil(busy / (connections × target)), clamped to [min, max]; the ceiling allows a relative 1e-9,
        so that a load exactly at the target is not read as a hair above it.
        """
        wanted = busy_connections / (connections * self.target_utilization)
        return min(max(math.ceil(wanted * (1 - 1e-9)), self.min), self.max)

    @model_validator(mode="after")
    def _min_below_max(self) -> "Autoscale":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Crud(_Section):
    connections: Count = 32
    """Database connections (concurrent queries)."""
    locking: Literal["exclusive", "mvcc"] = "exclusive"
    """`exclusive`: a write takes the whole database; `mvcc`: a write holds one connection."""
    query_time: Optional[Distribution] = None
    """A read's query time on this design's normalized schema (its replicas too); unset: the workload's. Coupled read by read with the other design's (same quantile)."""
    apply_time: Optional[Distribution] = None
    """A write's apply time on this design (updating every index); unset: the workload's. Coupled write by write with the other design's."""
    replicas: NonNegativeCount = 0
    """Read replicas fed by streaming replication; 0: reads go to the primary. With replicas, reads never wait for the primary's lock."""
    replica_connections: Count = 4
    """Connections per read replica."""
    replica_routing: Policy = "least_outstanding"
    """How a handler picks a read replica."""
    replication_lag: Distribution = Constant(value=1.0)
    """Delay from a commit on the primary until a replica has applied it (drawn per write and replica; applied in commit order)."""
    failures: Optional[Failures] = None
    """The primary and each read replica fail and are repaired, each on its own; none: they never fail. A failed primary takes no writes (nor reads, without replicas)."""
    replication_stalls: Optional[Stalls] = None
    """Each read replica's apply freezes now and then (as a standby's does during a lock conflict); none: it never stalls."""
    max_lag: Optional[Seconds] = Field(default=None, gt=0)
    """A read replica further behind the primary than this takes no reads until it catches up; none: no limit."""
    replica_autoscale: Optional[Autoscale] = None
    """Add and remove read replicas with the load (needs replicas ≥ 1: the count it starts with); none: a fixed count."""
    read_your_writes_window: Optional[Seconds] = Field(default=None, gt=0)
    """For this long after a client's write commits, its reads go to the primary instead of a replica (as Rails' automatic role switching does, 2s by default); needs replicas and workload.reads.clients. None: reads always go to replicas."""


class Replicas(_Section):
    count: Count = 8
    """Read replicas ("images") in the swarm."""
    connections: Count = 4
    """Connections per replica."""
    routing: ReplicaPolicy = "least_outstanding"
    """How a handler picks an in-pool replica; `prefer_fresh` uses only replicas holding the newest version in the pool (least outstanding among them)."""
    query_time: Optional[Distribution] = None
    """A read's query time on the read model (e.g. a denormalized view); unset: the workload's. Coupled read by read with CRUD's (same quantile)."""
    cold_factor: Number = Field(default=1.0, ge=1, allow_inf_nan=False)
    """Query-time multiplier of a replica just swapped in (cold caches); 1 turns it off."""
    warm_up_time: Seconds = 0.0
    """Time over which a swapped-in replica's multiplier falls linearly from cold_factor to 1."""
    failures: Optional[Failures] = None
    """Each replica fails and is repaired on its own; none: replicas never fail."""
    max_lag: Optional[Seconds] = Field(default=None, gt=0)
    """A replica further behind the write image than this (the age of the oldest commit it lacks) takes no reads until it catches up; none: no limit. Meant for projections, whose replicas fall behind one by one."""


class Sync(_Section):
    strategy: Literal["rolling", "all_at_once", "blue_green", "projection"] = "rolling"
    """`rolling` replaces batch_size replicas at a time; `all_at_once` all together; `blue_green` builds a whole new set beside the old one and switches every reader at once; `projection`: no snapshots, every replica stays in the pool and applies each committed write itself, in commit order, one at a time (projection_time each)."""
    batch_size: Count = 1
    """Replicas replaced together in a rolling rollout."""
    max_surge: NonNegativeCount = 0
    """Rolling only: new replicas built beside the old before these leave (Kubernetes maxSurge); with max_surge > 0 capacity never drops and replicas are replaced max_surge at a time."""
    build_parallelism: Count = 1
    """Blue-green only: new replicas built at once."""
    on_write_during_rollout: Literal["queue", "restart"] = "queue"
    """`queue`: writes committed during a rollout ship in the next one; `restart`: replicas not yet swapped get the newest version in this rollout, and a follow-up replaces only the replicas left behind."""
    trigger_delay: Seconds = 0.0
    """Wait from a commit to the rollout it triggers (projection: until the write's event reaches the projectors)."""
    replace_time: Distribution = Constant(value=120.0)
    """Time to swap one replica for a snapshot of the write image (or, for a surge or blue-green replica, to build it)."""
    drain: bool = True
    """Let reads already routed to a leaving replica finish on the old image."""
    projection_time: Distribution = Constant(value=0.01)
    """Projection only: time one replica takes to apply one committed write to its read model (drawn per replica and write); a replica that starts empty replays the whole log at this cost per write before it takes reads."""

    #: keys that mean something only for snapshot rollouts
    SNAPSHOT_KEYS: ClassVar[tuple[str, ...]] = (
        "batch_size", "max_surge", "build_parallelism", "on_write_during_rollout", "replace_time")


class Cqrs(_Section):
    write_servers: Count = 1
    """Servers applying writes to the write image."""
    apply_time: Optional[Distribution] = None
    """A write's apply time on the write model (e.g. an append); unset: the workload's. Coupled write by write with CRUD's."""
    replicas: Replicas = Replicas()
    """The read replica swarm."""
    sync: Sync = Sync()
    """How replicas are refreshed after a commit."""
    write_server_failures: Optional[Failures] = None
    """Each write server fails and is repaired on its own (a write it was applying starts again on the next server up); none: they never fail."""
    autoscale: Optional[Autoscale] = None
    """Add and remove read replicas with the load (replicas.count is the count it starts with); none: a fixed count."""
