"""Things a scenario may say that are valid but probably not meant (``check`` and ``run`` print them)."""

from __future__ import annotations

import math
from typing import Optional

from .designs import Sync
from .expected import expected_rollout_length
from .format import format_duration
from .rules import _window
from .scenario import Scenario
from .targets import targets


def no_read_warning(scenario: Scenario) -> Optional[str]:
    """A read rate of 0 over the whole measured window: valid (a write-only study of rollouts and cost), but
    there is no read to measure, and no verdict."""
    rate = scenario.workload.reads.rate
    if scenario.workload.reads.trace is not None or not isinstance(rate, list) or scenario.warmup >= scenario.duration:
        return None
    ends = [start for start, _ in rate[1:]] + [math.inf]
    if any(r > 0 and start < scenario.duration and end > scenario.warmup for (start, r), end in zip(rate, ends)):
        return None
    return (f"workload.reads.rate: no read arrives in {_window(scenario)} (the rate is 0 there): every read metric "
            "stays empty, and no verdict is given")


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Things that are valid but probably not meant (printed by ``check`` and ``run``)."""
    warnings = [warning for warning in (no_read_warning(scenario),) if warning is not None]
    for i, (start, _) in enumerate(scenario.workload.reads.rate if isinstance(scenario.workload.reads.rate, list) else []):
        if start >= scenario.duration:
            warnings.append(f"workload.reads.rate.{i}: the step at {start:g}s starts after duration "
                            f"({scenario.duration:g}s) and is ignored")
    sync = scenario.cqrs.sync
    if "cqrs" in scenario.architectures:
        if sync.strategy == "projection":
            for key in (k for k in Sync.SNAPSHOT_KEYS if k in sync.model_fields_set):
                warnings.append(f"cqrs.sync.{key}: only used by snapshot rollouts; ignored with strategy: projection")
        elif "projection_time" in sync.model_fields_set:
            warnings.append(f"cqrs.sync.projection_time: only used with strategy: projection "
                            f"(strategy is {sync.strategy}); ignored")
    replicas = scenario.cqrs.replicas
    if "cqrs" in scenario.architectures and replicas.max_lag is not None and sync.strategy != "projection" \
            and scenario.workload.writes is not None:
        length = expected_rollout_length(scenario)
        if length > replicas.max_lag:
            warnings.append(f"cqrs.replicas.max_lag: a rollout takes about {format_duration(length)}, longer than "
                            f"max_lag ({format_duration(replicas.max_lag)}): replicas not yet refreshed leave the pool during every rollout, "
                            "and reads wait for the refreshed ones")
    reads = scenario.workload.reads
    traces = [("workload.reads.trace", reads.trace, "reads"),
              ("workload.writes.trace", scenario.workload.writes and scenario.workload.writes.trace, "writes")]
    for path, trace, what in traces:
        if trace is not None and (trace.times >= scenario.duration).any():
            late = int((trace.times >= scenario.duration).sum())
            warnings.append(f"{path}: {late:,} of {len(trace.times):,} {what} come at or after duration "
                            f"({scenario.duration:g}s) and are ignored")
    writes = scenario.workload.writes
    if writes is not None and writes.at is not None:
        for i, t in enumerate(writes.at):
            if t >= scenario.duration:
                warnings.append(f"workload.writes.at.{i}: the write at {t:g}s comes after duration "
                                f"({scenario.duration:g}s) and is ignored")
    return warnings + scheduled_failure_warnings(scenario)


def scheduled_failure_warnings(scenario: Scenario) -> list[str]:
    """A scheduled failure that cannot happen: at or after ``duration``, or of an instance no simulated design has."""
    out = []
    for k, fault in enumerate(scenario.failures.scheduled if scenario.failures is not None else []):
        path = f"failures.scheduled.{k}"
        if fault.at >= scenario.duration:
            out.append(f"{path}.at: {format_duration(fault.at)} is at or after duration "
                       f"({format_duration(scenario.duration)}): this failure does not happen")
        elif not targets(scenario, fault.target):
            out.append(f"{path}.target: {fault.target} is in none of the simulated architectures "
                       f"({', '.join(scenario.architectures)}): this failure does not happen")
    return out
