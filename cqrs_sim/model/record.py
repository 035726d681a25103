"""What one (architecture, replication) run leaves behind: the one record every model returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .recorder import ReadAggregates


@dataclass
class RunRecord:
    """The raw columns of one (architecture, replication) run."""

    architecture: str
    replication: int
    #: id, arrival, start, finish, handler, replica, version_seen, version_latest, timed_out, waited_for_pool (and key with keys;
    #: client, monotonic_violation with clients): every read, or the sample
    reads: dict[str, np.ndarray]
    aggregates: Optional[ReadAggregates]  #: summary mode only
    reads_recorded: int  #: reads simulated (all of them, whatever was kept)
    writes: dict[str, np.ndarray]  #: arrival, start, commit, version
    commit_time: np.ndarray  #: by version; [0] is the initial data
    first_visible: np.ndarray  #: by version
    all_visible: np.ndarray  #: by version
    swaps: dict[str, np.ndarray]  #: replica, out, back, version
    capacity: int  #: database (crud) or replica-pool (cqrs) connections
    write_weight: float  #: connections a write occupies on that capacity
    replica_count: int  #: replicas in the read pool (1 for crud; an elastic pool's max)
    end_time: float  #: when the last request finished
    stopped_at: Optional[float] = None  #: set when limits.max_in_system stopped the run (its results are incomplete)
    instances: int = 1  #: database instances always running (CRUD: 1 + replicas; CQRS: write image + replicas; elastic: 1)
    #: start, end of instances not always running: built beside the others (surge, blue-green) or by an autoscaler
    extra_instances: dict[str, np.ndarray] = field(default_factory=dict)
    read_backs: dict[str, np.ndarray] = field(default_factory=dict)  #: version, arrival, start, finish, version_seen
    timeout_times: np.ndarray = field(default_factory=lambda: np.empty(0))  #: a client gave up on an attempt
    retry_times: np.ndarray = field(default_factory=lambda: np.empty(0))  #: a client sent a retry
    #: elastic pool: t, in_pool, members, provisioning after each change of membership (empty: a fixed pool)
    pool_steps: dict[str, np.ndarray] = field(default_factory=dict)
    #: elastic pool: per autoscaler decision, t, replicas_in_pool, provisioning, utilization, desired, change
    autoscale: dict[str, np.ndarray] = field(default_factory=dict)
    write_keys: Optional[np.ndarray] = None  #: per write, the keys it writes (None without workload.keys)
    write_client: Optional[np.ndarray] = None  #: per write, its writer's client (None without workload.reads.clients)
    #: start, end of each time reads had no server to go to: no replica in the pool, or the one database down
    empty_pool: dict[str, np.ndarray] = field(default_factory=dict)
    #: (instance, cause, down, up) per outage of an instance that failed, in order of repair (up NaN: skipped)
    outages: list[tuple[str, str, float, float]] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.aggregates is not None
