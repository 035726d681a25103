"""Rules spanning several keys, which pydantic cannot place on one: each problem a (dotted path, message)
pair, so that the loader can point at the offending line. Sizes a run cannot hold are refused here too,
against ``limits:`` and the event budget (:mod:`.events`).
"""

from __future__ import annotations

import numpy as np

from .events import budget_problems
from .limits import over_limit
from .scenario import Scenario, SweepRange, _get
from .targets import schedule_problems
from .workload import Trace


def cross_field_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Rules spanning several keys, as (dotted path, message) pairs."""
    problems: list[tuple[str, str]] = []
    reads = scenario.workload.reads
    if reads.retries and reads.timeout is None:
        problems.append(("workload.reads.retries", "retries need a timeout (workload.reads.timeout)"))
    if scenario.crud.read_your_writes_window is not None:
        if not scenario.crud.replicas:
            problems.append(("crud.read_your_writes_window", "needs read replicas (crud.replicas > 0): without them every read goes to the primary"))
        elif reads.clients is None and (reads.trace is None or reads.trace.client is None):
            problems.append(("crud.read_your_writes_window", "needs clients (workload.reads.clients): a read goes to the primary after its own client's write"))
    if reads.retry_budget is not None and not reads.retries:
        problems.append(("workload.reads.retry_budget", "a retry budget needs retries (workload.reads.retries ≥ 1)"))
    problems += key_problems(scenario)
    if scenario.warmup >= scenario.duration:
        problems.append(("warmup", f"must be shorter than duration ({scenario.duration:g}s), got {scenario.warmup:g}s"))
    else:
        problems += window_problems(scenario)
    if len(set(scenario.architectures)) != len(scenario.architectures):
        problems.append(("architectures", "lists an architecture twice"))
    sync = scenario.cqrs.sync
    count = scenario.cqrs.replicas.count
    replicas = scenario.cqrs.replicas
    if replicas.cold_factor > 1 and replicas.warm_up_time == 0:
        problems.append(("cqrs.replicas.warm_up_time", "must be positive when cold_factor > 1 (the cold period needs a length)"))
    for path, auto, start in (("cqrs.autoscale", scenario.cqrs.autoscale, count),
                              ("crud.replica_autoscale", scenario.crud.replica_autoscale, scenario.crud.replicas)):
        if auto is not None and not auto.min <= start <= auto.max:
            counted = "cqrs.replicas.count" if path.startswith("cqrs") else "crud.replicas"
            problems.append((path, f"{counted} ({start}), the count it starts with, must lie in [min, max] "
                                   f"= [{auto.min}, {auto.max}]"))
    if scenario.cqrs.autoscale is not None and sync.strategy == "projection":
        problems.append(("cqrs.autoscale", "works with snapshot rollouts only, not with cqrs.sync.strategy: projection"))
    if sync.batch_size > count:
        problems.append(("cqrs.sync.batch_size", f"must not exceed cqrs.replicas.count ({count}), got {sync.batch_size}"))
    if scenario.workload.reads.query_time.mean <= 0:
        problems.append(("workload.reads.query_time", "must have a positive mean"))
    for path, own in (("crud.query_time", scenario.crud.query_time),
                      ("cqrs.replicas.query_time", scenario.cqrs.replicas.query_time)):
        if own is not None and own.mean <= 0:
            problems.append((path, "must have a positive mean"))
    for path in ("crud.apply_time", "cqrs.apply_time"):
        if scenario.workload.writes is None and _get(scenario, path) is not None:
            problems.append((path, "is set but the workload has no writes (workload.writes)"))
    problems += failure_problems(scenario)
    for path, values in (scenario.sweep or {}).items():
        if isinstance(values, list) and not values:
            problems.append((f"sweep.{path}", "gives no values to sweep"))
    return problems + size_problems(scenario)


def key_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Keys and clients: what needs what."""
    found: list[tuple[str, str]] = []
    workload = scenario.workload
    if workload.writes is not None and workload.writes.keys is not None and workload.keys is None:
        found.append(("workload.writes.keys", "needs workload.keys (the keys writes choose from)"))
    if workload.reads.clients is None:
        for path, policy in (("load_balancer", scenario.load_balancer), ("cqrs.replicas.routing", scenario.cqrs.replicas.routing),
                             ("crud.replica_routing", scenario.crud.replica_routing)):
            if policy == "sticky":
                found.append((path, "sticky routing keeps each client on one server: set workload.reads.clients"))
    write_keys = workload.write_keys
    if write_keys is not None and write_keys.choose != "new" and write_keys.count > workload.keys.count:
        found.append(("workload.writes.keys.count", f"a write cannot write {write_keys.count} different keys of the "
                                                    f"{workload.keys.count} that exist (workload.keys.count)"))
    trace = workload.reads.trace
    if trace is not None and trace.key is not None:
        write_keys = workload.write_keys
        if workload.keys is None:
            found.append(("workload.reads.trace.key", "needs workload.keys (the keys reads are counted over)"))
        elif write_keys is None or write_keys.choose != "new":
            found += _trace_ids("workload.reads.trace.key", trace, trace.keys, workload.keys.count, "workload.keys.count")
    if trace is not None and trace.client is not None:
        if workload.reads.clients is None:
            found.append(("workload.reads.trace.client", "needs workload.reads.clients (the clients reads belong to)"))
        else:
            found += _trace_ids("workload.reads.trace.client", trace, trace.clients, workload.reads.clients,
                                "workload.reads.clients")
    return found


def _window(scenario: Scenario) -> str:
    return f"the measured window [{scenario.warmup:g}s, {scenario.duration:g}s) (warmup to duration)"


def window_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """A read trace none of whose reads arrives in the measured window [warmup, duration): a start off by a time
    zone, say; every read metric would be measured on none."""
    trace = scenario.workload.reads.trace
    if trace is not None and not ((trace.times >= scenario.warmup) & (trace.times < scenario.duration)).any():
        times = trace.times
        return [("workload.reads.trace", f"none of its {len(times):,} reads arrives in {_window(scenario)}: its "
                                         f"times run from {times[0]:g}s to {times[-1]:g}s after the start "
                                         "(is start right?)")]
    return []


def _trace_ids(path: str, trace: Trace, values: np.ndarray, count: int, limit: str) -> list[tuple[str, str]]:
    """A problem at the first row (``FILE:LINE``) of a trace column naming an id at or past ``count`` (ids run from 0)."""
    over = np.flatnonzero(values >= count)
    if not len(over):
        return []
    return [(path, f"{trace.where(int(over[0]))}: {values[over[0]]} is not below {limit} ({count}); "
                   f"{len(over):,} row(s) of the file are not")]


def failure_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Failures and stalls need instances to act on and up times with a positive mean."""
    problems: list[tuple[str, str]] = []
    crud = scenario.crud
    for path, key in (("crud.replication_stalls", "replication_stalls"), ("crud.max_lag", "max_lag")):
        if getattr(crud, key) is not None and not crud.replicas:
            problems.append((path, "needs read replicas (crud.replicas > 0)"))
    for path, section, up in (("crud.failures", crud.failures, "mtbf"), ("crud.replication_stalls", crud.replication_stalls, "every"),
                              ("cqrs.replicas.failures", scenario.cqrs.replicas.failures, "mtbf"),
                              ("cqrs.write_server_failures", scenario.cqrs.write_server_failures, "mtbf")):
        if section is not None and getattr(section, up).mean <= 0:
            problems.append((f"{path}.{up}", "must have a positive mean"))
    if scenario.failures is not None:
        problems += schedule_problems(scenario)
    return problems


def size_problems(scenario: "Scenario") -> list[tuple[str, str]]:
    """Sizes a run cannot hold in time or memory, refused before it starts (each against a key of ``limits:``)."""
    limits = scenario.limits
    found: list[tuple[str, str]] = []

    def check(path: str, limit: str, value: float, what: str) -> None:
        message = over_limit(limit, value, what, limits)
        if message is not None:
            found.append((path, message))

    check("replications", "max_replications", scenario.replications, "replications is {n}")
    check("bin", "max_bins", scenario.duration / scenario.bin_width,
          f"duration {scenario.duration:g}s / bin {scenario.bin_width:g}s gives {{n}} timeseries bins")
    if scenario.workload.keys is not None:
        check("workload.keys.count", "max_keys", scenario.workload.keys.count, "workload.keys.count is {n}")
    write_keys = scenario.workload.write_keys
    if write_keys is not None:
        check("workload.writes.keys.count", "max_keys", write_keys.count, "workload.writes.keys.count is {n}")
    if scenario.workload.reads.clients is not None:
        check("workload.reads.clients", "max_clients", scenario.workload.reads.clients, "workload.reads.clients is {n}")
    handlers = scenario.handlers
    check("handlers", "max_servers", handlers.count * handlers.concurrency, "handlers.count × concurrency gives {n} handler slots")
    if "crud" in scenario.architectures:
        crud = scenario.crud
        check("crud.connections", "max_servers", crud.connections, "crud.connections is {n}")
        check("crud.replicas", "max_replicas", crud.replicas, "crud.replicas is {n}")
        check("crud", "max_servers", crud.replicas * crud.replica_connections,
              "crud.replicas × replica_connections gives {n} connections")
        if crud.replica_autoscale is not None:
            check("crud.replica_autoscale.max", "max_replicas", crud.replica_autoscale.max,
                  "crud.replica_autoscale.max is {n}")
            check("crud.replica_autoscale.max", "max_servers", crud.replica_autoscale.max * crud.replica_connections,
                  "crud.replica_autoscale.max × crud.replica_connections gives {n} connections")
    if "cqrs" in scenario.architectures:
        cqrs = scenario.cqrs
        check("cqrs.write_servers", "max_servers", cqrs.write_servers, "cqrs.write_servers is {n}")
        check("cqrs.replicas.count", "max_replicas", cqrs.replicas.count, "cqrs.replicas.count is {n}")
        check("cqrs.replicas", "max_servers", cqrs.replicas.count * cqrs.replicas.connections,
              "cqrs.replicas.count × connections gives {n} connections")
        if cqrs.autoscale is not None:
            check("cqrs.autoscale.max", "max_replicas", cqrs.autoscale.max, "cqrs.autoscale.max is {n}")
            check("cqrs.autoscale.max", "max_servers", cqrs.autoscale.max * cqrs.replicas.connections,
                  "cqrs.autoscale.max × cqrs.replicas.connections gives {n} connections")
    if scenario.sweep:
        points = 1
        for spec in scenario.sweep.values():
            points *= spec.steps if isinstance(spec, SweepRange) else max(len(spec), 1)
        check("sweep", "max_sweep_points", points, "the sweep has {n} points")
    return found + [(path, message) for path, message in budget_problems(scenario) if path not in dict(found)]
