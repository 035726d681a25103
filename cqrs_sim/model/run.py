"""Running one architecture for one replication."""

from __future__ import annotations

from typing import Optional

import simpy

from ..config.scenario import Scenario
from ..workload.draws import ReadSource, WriteWorkload, write_workload, writes_of_design
from . import failures, scheduled
from .cqrs import CqrsModel
from .crud import CrudModel
from .crud_replicas import CrudReplicatedModel
from .frontend import Frontend, Progress
from .record import RunRecord


def model_class(scenario: Scenario, architecture: str) -> type[Frontend]:
    """The model of ``architecture`` (one of ``scenario.ARCHITECTURES``) as the scenario configures it."""
    if architecture == "cqrs":
        return CqrsModel
    if architecture == "crud":
        return CrudReplicatedModel if scenario.crud.replicas else CrudModel
    raise ValueError(f"unknown architecture {architecture!r}")


def run_architecture(
    scenario: Scenario,
    architecture: str,
    replication: int,
    writes: Optional[WriteWorkload] = None,
    progress: Optional[Progress] = None,
    copy_draw: int = 0,
) -> RunRecord:
    """Simulate one architecture of one replication until every request is served (CQRS's copy times from
    draw ``copy_draw``: :func:`.rollout.copy_stream`)."""
    if writes is None:
        writes = write_workload(scenario, replication)
    writes = writes_of_design(writes, scenario, replication, architecture)
    env = simpy.Environment()
    extra = {"copy_draw": copy_draw} if copy_draw and architecture == "cqrs" else {}  # only CQRS copies
    model = model_class(scenario, architecture)(env, scenario, ReadSource(scenario, replication, architecture), writes,
                                                replication, **extra)
    scheduled.start(model, lambda role, index: failures.scheduled_target(model, role, index))
    model.start_arrivals(progress)
    env.run()
    return model.record()
