"""Running one architecture for one replication, and what that run leaves behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import simpy

from ..scenario import Scenario
from ..workload import ReadSource, WriteWorkload, write_workload
from .cqrs import CqrsModel
from .crud import CrudModel
from .crud_replicas import CrudReplicatedModel
from .frontend import Progress
from .recorder import ReadAggregates

MODELS = {"crud": CrudModel, "cqrs": CqrsModel}


@dataclass
class RunRecord:
    """The raw columns of one (architecture, replication) run."""

    architecture: str
    replication: int
    #: id, arrival, start, finish, handler, replica, version_seen, version_latest: every read, or the sample
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
    replica_count: int  #: replicas in the read pool (1 for crud)
    end_time: float  #: when the last request finished
    stopped_at: Optional[float] = None  #: set when limits.max_in_system stopped the run (its results are incomplete)
    instances: int = 1  #: database instances always running (CRUD: 1 + replicas; CQRS: write image + replicas)
    extra_instances: dict[str, np.ndarray] = field(default_factory=dict)  #: start, end of instances built beside them
    read_backs: dict[str, np.ndarray] = field(default_factory=dict)  #: version, arrival, start, finish, version_seen
    timeout_times: np.ndarray = field(default_factory=lambda: np.empty(0))  #: a client gave up on an attempt
    retry_times: np.ndarray = field(default_factory=lambda: np.empty(0))  #: a client sent a retry

    @property
    def sampled(self) -> bool:
        return self.aggregates is not None


def run_architecture(
    scenario: Scenario,
    architecture: str,
    replication: int,
    writes: Optional[WriteWorkload] = None,
    progress: Optional[Progress] = None,
) -> RunRecord:
    """Simulate one architecture of one replication until every request is served."""
    if writes is None:
        writes = write_workload(scenario, replication)
    env = simpy.Environment()
    model_class = MODELS[architecture]
    if architecture == "crud" and scenario.crud.replicas:
        model_class = CrudReplicatedModel
    model = model_class(env, scenario, ReadSource(scenario, replication), writes, replication)
    model.start_arrivals(progress)
    env.run()
    first, every = model.visibility()
    aggregates = model.recorder.aggregates()
    return RunRecord(
        architecture=architecture,
        replication=replication,
        reads=model.recorder.columns(),
        aggregates=aggregates,
        reads_recorded=model._next_id,
        writes=model.write_columns(),
        commit_time=np.asarray(model.commit_time, dtype=float),
        first_visible=first,
        all_visible=every,
        swaps=model.swap_columns(),
        capacity=model.capacity,
        write_weight=model.busy_weight_of_writes(),
        replica_count=getattr(model, "replica_count", 1),
        end_time=float(env.now),
        stopped_at=model.stopped_at,
        instances=1 + getattr(model, "replica_count", 0),
        read_backs=model.read_back_columns(),
        timeout_times=np.asarray(model.timeout_times, dtype=float),
        retry_times=np.asarray(model.retry_times, dtype=float),
        extra_instances=model.extra_instance_columns() if hasattr(model, "extra_instance_columns") else {},
    )
