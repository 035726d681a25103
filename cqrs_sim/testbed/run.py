"""Running a scenario on PostgreSQL: every replication, every architecture, in real time.

Each (replication, architecture) run gets fresh databases (created from a
template holding the table at version 0), draws the same workload as the
simulation (the replication's named streams), plays it in real time
(:mod:`.client`), and leaves a :class:`~cqrs_sim.model.record.RunRecord`.
The records go through the simulator's own metrics and tables, so the
result is a :class:`~cqrs_sim.io.results.Results` like ``simulate``'s, with
``source: testbed`` in its manifest.
"""

from __future__ import annotations

import asyncio
import platform
import time
from typing import Callable, Optional

import numpy as np
import pandas as pd

from ..analysis.metrics import replication_metrics
from ..io.results import Results, build_manifest
from ..config.scenario import Scenario
from ..analysis.tables import replicas_table, requests_table, timeseries_table, writes_table
from ..analysis.visibility import run_visibility_times, visibility_from_records
from ..workload.draws import ReadSource, write_workload, writes_of_design
from . import schema
from ..workload.sessions import key_versions
from ..analysis.tables import key_index
from .client import Client, Clock
from .cqrs import CqrsBackend
from .crud import CrudBackend
from .crud_replicas import CrudReplicasBackend, standbys_of, wait_for_database
from .measure import Overhead, lateness_summary, measure_overhead
from .server import Cluster, Databases, cluster, server_version, with_database
from .snapshot import close_all, connect_many, create_template
from .support import check_supported

Say = Callable[[str], None]


async def _calibrate(databases: Databases, scenario: Scenario, architecture: str) -> Overhead:
    name = databases.create(f"calibration_{architecture}", template=databases.name("schema"))
    conn = (await connect_many(with_database(databases.dsn, name), 1))[0]
    try:
        exclusive = architecture == "crud" and scenario.crud.locking == "exclusive"
        return await measure_overhead(conn, scenario, exclusive)
    finally:
        await conn.close()
        databases.drop(name)


async def _run_one(databases: Databases, scenario: Scenario, architecture: str, replication: int,
                   say: Say, standby_dsns: tuple[str, ...] = ()) -> tuple:
    template = databases.name("schema")
    tag = f"{architecture}_{replication}"
    clock_holder: list[Clock] = []
    made: list[str] = []
    backend = None
    try:
        if architecture == "crud" and standby_dsns:
            made.append(databases.create(tag, template=template))
            on_standbys = [with_database(dsn, made[0]) for dsn in standby_dsns]
            delay = standbys_of(scenario)[1]
            await wait_for_database(on_standbys, delay + 60.0)
            backend = await CrudReplicasBackend.open(Clock(), scenario, replication,
                                                     with_database(databases.dsn, made[0]), on_standbys, delay)
            backend.clock = clock = Clock()
            backend.start()
        elif architecture == "crud":
            made.append(databases.create(tag, template=template))
            conns = await connect_many(with_database(databases.dsn, made[0]), scenario.crud.connections)
            clock = Clock()
            backend = CrudBackend(clock, conns, scenario.crud.locking == "exclusive", scenario.testbed.work)
        else:
            made.append(databases.create(f"{tag}_write", template=template))
            made += [databases.create(f"{tag}_replica{r}", template=template) for r in range(scenario.cqrs.replicas.count)]
            backend = CqrsBackend(Clock(), scenario, replication, databases, made[0], made[1:])
            await backend.open()
            backend.clock = clock = Clock()
        clock_holder.append(clock)
        say(f"{architecture} replication {replication + 1}/{scenario.replications}: running "
            f"{scenario.duration:g} s in real time on databases {databases.prefix}_{tag}*")
        writes = writes_of_design(write_workload(scenario, replication), scenario, replication, architecture)
        client = Client(scenario, replication, backend, writes)
        record = await client.run()
        return record, client, backend
    finally:
        if backend is not None:
            if isinstance(backend, CrudBackend):
                await close_all(backend.pool.items)
            else:
                await backend.close()
        for name in made:
            databases.drop(name)


def _residual(record, client: Client, scenario: Scenario) -> np.ndarray:
    """Measured − drawn query time (s) of this run's reads whose query did not wait for a write's lock."""

    drawn = np.concatenate([np.asarray(q) for _, _, q, *_ in ReadSource(scenario, record.replication)])
    if scenario.testbed.work != "sleep":  # real queries play no drawn time
        drawn = np.zeros_like(drawn)
    reads = record.reads
    measured = reads["finish"] - reads["start"]
    q = drawn[reads["id"]]
    if record.architecture == "crud" and scenario.crud.locking == "exclusive" and not scenario.crud.replicas:
        commits = record.commit_time[1:]
        starts = record.writes["start"]
        blocked = np.zeros(len(measured), bool)
        for s, c in zip(starts, commits):
            blocked |= (reads["finish"] > s) & (reads["start"] < c)
        measured, q = measured[~blocked], q[~blocked]
    return measured - q


def returned_versions(record, client: Client) -> dict:
    """What the real reads returned, against the simulation's definitions: ``key_version_mismatches``, the reads
    whose row version differs from the version of their key that the data version they saw holds
    (:func:`cqrs_sim.workload.sessions.key_versions`; 0 when the database keeps what the model says), and
    ``stale_by_returned_version``, the share of reads whose returned version of their key is older than the last
    write to that key committed before they started."""
    reads = record.reads
    index = key_index(record)
    key = reads["key"] if index is not None else reads["version_seen"]
    expected = key_versions(index, key, reads["version_seen"])
    newest = key_versions(index, key, reads["version_latest"])
    returned = client.key_version
    return {"key_version_mismatches": int((returned != expected).sum()),
            "stale_by_returned_version": round(float((returned < newest).mean()), 6) if len(returned) else None}


def _residual_summary(residual: np.ndarray) -> dict:
    if not len(residual):
        return {}
    return {"query_time_residual_mean_s": round(float(residual.mean()), 6),
            "query_time_residual_sd_s": round(float(residual.std()), 6),
            "query_time_residual_p99_s": round(float(np.quantile(residual, 0.99)), 6)}


async def _run_all(servers: Cluster, scenario: Scenario, say: Say) -> tuple[list, dict]:
    databases = Databases(servers.primary)
    info: dict = {"databases": databases.prefix + "_*", "runs": []}
    timer_lateness: list[float] = []
    try:
        await create_template(databases, scenario)
        outputs = []
        overheads = {}
        for arch in scenario.architectures:
            overheads[arch] = await _calibrate(databases, scenario, arch)
            info.setdefault("overhead_s", {})[arch] = overheads[arch].as_dict()
        for replication in range(scenario.replications):
            for arch in scenario.architectures:
                record, client, backend = await _run_one(databases, scenario, arch, replication, say, servers.standbys)
                lateness = np.asarray(client.lateness)
                run_info = {"architecture": arch, "replication": replication,
                            "arrival_lateness_mean_s": round(float(lateness.mean()), 6) if len(lateness) else None,
                            "arrival_lateness_max_s": round(float(lateness.max()), 6) if len(lateness) else None,
                            **_residual_summary(_residual(record, client, scenario)),
                            **returned_versions(record, client),
                            "timer_lateness_s": lateness_summary(client.timer_lateness)}
                timer_lateness += client.timer_lateness
                if isinstance(backend, CrudReplicasBackend):
                    run_info.update(replay_summary(backend.replay))
                if arch == "cqrs":
                    run_info["copy_seconds"] = [round(c, 4) for c in backend.copy_seconds]
                    swaps = record.swaps
                    run_info["replace_time_mean_s"] = (round(float(np.mean(swaps["back"] - swaps["out"])), 4)
                                                       if len(swaps["out"]) else None)
                info["runs"].append(run_info)
                outputs.append(record)
        info["timer_lateness_s"] = lateness_summary(timer_lateness)
        return outputs, info
    finally:
        databases.drop_all()


def run_testbed(scenario: Scenario, dsn: Optional[str] = None, say: Optional[Say] = None,
                source: str = "scenario") -> Results:
    """Run ``scenario`` on PostgreSQL (an embedded server, or the one at ``dsn``); returns its results.

    Raises :class:`~cqrs_sim.core.errors.ScenarioError` for a scenario the testbed
    cannot play and :class:`~cqrs_sim.testbed.server.ServerError` when the server
    cannot be started or reached; either way nothing is left behind.
    """
    check_supported(scenario, source, dsn)
    say = say or (lambda _line: None)
    began = time.perf_counter()
    standbys, delay = standbys_of(scenario)
    with cluster(dsn, say, standbys, delay) as servers:
        version = server_version(servers.primary)
        say(f"PostgreSQL {version} ({'embedded' if dsn is None else 'given by --dsn'})"
            + (f", with {standbys} hot standbys replaying {delay * 1000:g} ms behind" if standbys else ""))
        records, info = asyncio.run(_run_all(servers, scenario, say))
    rows, frames = [], {"writes": [], "replicas": [], "timeseries": []}
    for record in records:
        rows.append({"architecture": record.architecture, "replication": record.replication,
                     **replication_metrics(record, scenario), **run_visibility_times(record),
                     "stopped_at": float("nan")})
        frames["writes"].append(writes_table(record))
        frames["replicas"].append(replicas_table(record))
        frames["timeseries"].append(timeseries_table(record, scenario.duration, scenario.bin_width))
    tables = {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}
    visibility = visibility_from_records(records, tables["writes"])
    requests = requests_table(records)
    manifest = build_manifest(scenario, wall_time=time.perf_counter() - began)
    manifest.update({"source": "testbed", "server": f"PostgreSQL {version}",
                     "server_kind": "embedded (pgserver)" if dsn is None else "--dsn", "machine": _machine(),
                     "incomplete": [], "testbed": {**info, "rows": schema.rows(scenario)}})
    return Results(scenario=scenario, per_replication=pd.DataFrame(rows), manifest=manifest, requests=requests,
                   visibility=visibility, **tables)


def replay_summary(replay) -> dict:
    """What the standbys' replay measured in one run: each commit's lag on each standby (seconds; those whose
    instant is known, which the fit takes), how many were already visible at the first poll (their instant
    unknown: left out of the lags), and the polls made."""
    return {"replay_lag_seconds": [round(x, 5) for x in replay.lags(censored=False)], "replay_censored": replay.censored,
            "replay_polls": replay.polls, "standby_apply_delay_s": replay.delay}


def _machine() -> dict:
    import os

    return {"node": platform.node(), "processor": platform.machine(), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()], "platform": platform.platform()}
