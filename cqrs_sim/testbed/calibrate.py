"""Calibration: measure on the real server, at low load, what a scenario leaves to the database; fit; write a scenario.

A prediction is only evidence if the model is fed measured parts, not its
own assumptions (PBS, Bailis et al., VLDB 2012, measured each component of a
real cluster, fitted it, and predicted the whole). Before any load, one
request at a time on a scratch database holding the run's table, this times
each part exactly as the run does it (the same functions):

* ``read``: a read's query (``SELECT version, pg_sleep(q) … WHERE key = k``),
  from send to last row, for sleeps q standing for the design's query time
  without sampling error (:func:`strata`: its quantiles at the middles of
  equal strata: a random sample of 100 would miss the mean by 5% at cv 0.5);
  with ``testbed.work: queries`` the real query (:data:`.schema.READ_QUERY`),
  which sleeps nothing: its time is the server's own cost;
* ``write``: a write's transaction (:func:`.client.write_transaction`, with
  the table lock under ``locking: exclusive``), from ``BEGIN`` to commit
  (with real queries: the update of its keys' rows, no sleep);
* ``copy`` (CQRS): rollouts rehearsed as the run makes them, a snapshot of
  the write image (:class:`.snapshot.Snapshot`) and then each replica's swap
  in turn (:func:`.snapshot.replace`: close, drop, ``CREATE DATABASE …
  TEMPLATE``, the rows copied in, reconnect) at the run's table size; for
  surge and blue-green rollouts each copy is built beside the old database
  (:func:`.snapshot.build`), as the run builds them, and only the build is
  timed;
* ``lag`` (CRUD with streaming replicas): writes one at a time on the
  primary, each followed until every hot standby shows it
  (:class:`.crud_replicas.Replay`, as the run measures it): from the
  commit the client saw to the standby's replay, per write and standby;
  the reads are timed on a standby, where the run sends them.

Each part's values are fitted (:func:`cqrs_sim.experiments.fitcheck.check_fits`: every
family by maximum likelihood, the best by AIC that the data do not refute,
else the values themselves as ``{dist: empirical, samples: […]}``) and
written into the design's own keys (:data:`CALIBRATED_KEYS`): the read into
its ``query_time``, the write into its ``apply_time``, the copy into
``cqrs.sync.replace_time``, the replay lag into ``crud.replication_lag``
(so the prediction is the model's streaming replicas fed with the measured
lag). The strata's order is shuffled by a
stream of its own (``testbed.calibrate.*``), so the run's draws are
untouched.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..config.scenario import CALIBRATED_KEYS, Scenario, apply_time_of, query_time_of
from ..workload.streams import stream
from ..config.format import format_duration
from ..config.loader import dump_yaml
from ..config.resolved import resolved_dict
from ..experiments.fitcheck import check_fits
from . import schema, snapshot
from .support import check_supported
from .snapshot import create_template
from .server import Cluster, Databases, cluster, server_version, with_database
from .crud_replicas import measure_lags, standbys_of, wait_for_database
from .transactions import write_transaction, written_keys

#: timed samples of each part
SAMPLES_MIN = 10  #: fewer values of a part measured in a run say nothing about its shape
SAMPLES = {"read": 100, "write": 24, "copy": 15, "lag": 24}  #: at least; copies come in rollouts of every replica,
#: lags in writes seen on every standby

Say = Callable[[str], None]


@dataclass(frozen=True)
class Part:
    """One measured part: its values (seconds), what was drawn for it (reads and writes), and its fit."""

    architecture: str
    name: str  #: read, write, copy, lag
    values: np.ndarray
    drawn: Optional[np.ndarray]  #: the sleeps drawn for reads and writes (None for copies)
    distribution: dict  #: what goes into the scenario (a fitted distribution, or the values themselves)
    family: str  #: the fitted family, or "empirical" when every fit is refused
    refused: tuple[str, ...] = ()  #: why each refused fit was refused

    @property
    def key(self) -> str:
        return CALIBRATED_KEYS[(self.architecture, self.name)]

    @property
    def overhead(self) -> Optional[float]:
        """Mean seconds measured beyond the drawn sleep (reads and writes), the client's and server's fixed cost."""
        return None if self.drawn is None else float(np.mean(self.values - self.drawn))

    def summary(self) -> dict:
        out = {"key": self.key, "samples": int(len(self.values)), "mean_s": round(float(self.values.mean()), 6),
               "p99_s": round(float(np.quantile(self.values, 0.99)), 6), "family": self.family}
        if self.overhead is not None:
            out["overhead_mean_s"] = round(self.overhead, 6)
        return out


@dataclass(frozen=True)
class Calibration:
    """What the calibration measured and the scenario it fitted."""

    scenario: Scenario  #: as given
    fitted: Scenario  #: with every calibrated key set from the measurements
    parts: list[Part]
    server: str
    load_average: tuple[float, float, float]
    seconds: float  #: wall time the calibration took
    round_trip: float = 0.0  #: mean seconds of a bare ``SELECT 1``

    def yaml(self) -> str:
        """The fitted scenario as YAML, headed by comments saying what was measured."""
        lines = [f"# calibrated on {self.server} by cqrs-sim testbed --calibrate from scenario {self.scenario.name!r};",
                 f"# load average {' '.join(f'{x:.2f}' for x in self.load_average)}; "
                 f"round trip (SELECT 1) {self.round_trip * 1000:.3f} ms"]
        for part in self.parts:
            s = part.summary()
            extra = f", {s['overhead_mean_s'] * 1000:.3f} ms beyond the drawn sleep" if "overhead_mean_s" in s else ""
            lines.append(f"# {part.architecture} {part.name}: {s['samples']} timed, mean {s['mean_s'] * 1000:.3f} ms, "
                         f"p99 {s['p99_s'] * 1000:.3f} ms{extra} -> {part.key} ({part.family})")
        return "\n".join(lines) + "\n" + dump_yaml(resolved_dict(self.fitted))


def _fit(values: np.ndarray) -> tuple[dict, str, tuple[str, ...]]:
    report = check_fits(values)
    best = report.recommended
    refused = tuple(f"{c.fit.family}: {'; '.join(c.problems)}" for c in report.checked if c.refused)
    if best is None:
        return {"dist": "empirical", "samples": [round(float(v), 9) for v in values]}, "empirical", refused
    spec = best.fit.distribution.model_dump(mode="json", by_alias=True, exclude_none=True)
    return spec, best.fit.family, refused


async def _timed(work) -> float:
    began = time.perf_counter()
    await work
    return time.perf_counter() - began


def strata(distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sleeps that stand for ``distribution`` without sampling error: its quantiles at the middles of ``n``
    equal strata, (k + ½) / n, in an order shuffled by ``rng``."""
    return rng.permutation(distribution.ppf((np.arange(n) + 0.5) / n))


async def _read_write_parts(conn, scenario: Scenario, architecture: str,
                            read_conn=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads timed on ``read_conn`` (default ``conn``), writes on ``conn``."""
    rng = stream(scenario.seed, 0, f"testbed.calibrate.{architecture}")
    work = scenario.testbed.work
    drawn = strata(query_time_of(scenario, architecture), SAMPLES["read"], rng)
    measured = []
    for k, q in enumerate(drawn.tolist()):
        measured.append(await _timed(_fetch(read_conn or conn, *schema.read(work, k % schema.rows(scenario), q))))
    out = {"read": (np.asarray(measured), _played(work, drawn))}
    apply = apply_time_of(scenario, architecture)
    if apply is not None:
        drawn = strata(apply, SAMPLES["write"], rng)
        lock = schema.LOCK if architecture == "crud" and scenario.crud.locking == "exclusive" else None
        keys = written_keys(scenario)
        measured = [await _timed(write_transaction(conn, a, lock, keys=keys, work=work)) for a in drawn.tolist()]
        out["write"] = (np.asarray(measured), _played(work, drawn))
    return out


def _played(work: str, drawn: np.ndarray) -> Optional[np.ndarray]:
    """The sleeps a calibration played: ``drawn`` with ``work`` = sleep, none with real queries (the server's own
    cost is the whole measurement, so nothing is "beyond the drawn sleep")."""
    return drawn if work == "sleep" else None


async def _fetch(conn, sql: str, args: tuple) -> None:
    await (await conn.execute(sql, args)).fetchone()


async def _copies(databases: Databases, scenario: Scenario, source_db: str) -> np.ndarray:
    """Rehearse rollouts as the run makes them: a snapshot of ``source_db`` (connected, as the write image is), then
    a copy into each replica's database in turn, until :data:`SAMPLES` holds. Returns the copies' times."""
    replicas = scenario.cqrs.replicas
    admin = (await snapshot.connect_many(databases.dsn, 1))[0]
    source = (await snapshot.connect_many(with_database(databases.dsn, source_db), 1))[0]
    names = [databases.create(f"calibration_replica{r}", template=databases.name("schema"))
             for r in range(replicas.count)]
    pools = [await snapshot.connect_many(with_database(databases.dsn, name), replicas.connections) for name in names]
    copies = []
    try:
        while len(copies) < SAMPLES["copy"]:
            shipped = snapshot.Snapshot(source)
            await shipped.open()
            try:
                for r, name in enumerate(names):
                    began = time.perf_counter()
                    if snapshot.builds_beside(scenario.cqrs.sync):  # a new database beside the old, then the old dropped
                        names[r] = snapshot.beside_name(databases, name)
                        new = await snapshot.build(databases, admin, names[r], replicas.connections, shipped)
                        copies.append(time.perf_counter() - began)
                        await snapshot.close_all(pools[r])
                        pools[r] = new
                        databases.drop(name)
                        continue
                    pools[r] = await snapshot.replace(databases, admin, name, pools[r], replicas.connections, shipped)
                    copies.append(time.perf_counter() - began)
            finally:
                await shipped.close()
        return np.asarray(copies)
    finally:
        await snapshot.close_all([*(c for pool in pools for c in pool), source, admin])
        for name in names:
            databases.drop(name)


async def _measure(servers: Cluster, scenario: Scenario, say: Say, delay: float = 0.0) -> tuple[dict, float]:
    databases = Databases(servers.primary)
    measured: dict = {}
    try:
        await create_template(databases, scenario)
        for arch in scenario.architectures:
            name = databases.create(f"calibration_{arch}", template=databases.name("schema"))
            if arch == "cqrs":
                say(f"calibrating cqrs: timing rollouts (a snapshot of the write image copied to each replica, "
                    f"{schema.rows(scenario)} rows) until {SAMPLES['copy']} copies")
                measured[(arch, "copy")] = (await _copies(databases, scenario, name), None)
            conn = (await snapshot.connect_many(with_database(databases.dsn, name), 1))[0]
            standbys = [with_database(dsn, name) for dsn in servers.standbys] if arch == "crud" else []
            reader = None
            try:
                if standbys:
                    await wait_for_database(standbys, delay + 60.0)
                    reader = (await snapshot.connect_many(standbys[0], 1))[0]
                trips = [await _timed(_fetch(conn, "SELECT 1", ())) for _ in range(SAMPLES["read"])]
                say(f"calibrating {arch}: timing {SAMPLES['read']} reads" + (" on a standby" if standbys else "")
                    + (f" and {SAMPLES['write']} writes" if scenario.workload.writes is not None else "")
                    + " one at a time")
                for part, (values, drawn) in (await _read_write_parts(conn, scenario, arch, reader)).items():
                    measured[(arch, part)] = (values, drawn)
                if standbys:
                    writes = -(-SAMPLES["lag"] // len(standbys))
                    say(f"calibrating {arch}: timing the replay of {writes} writes on {len(standbys)} standbys "
                        f"(recovery_min_apply_delay {delay * 1000:g} ms)")
                    measured[(arch, "lag")] = (await measure_lags(conn, standbys, delay, writes,
                                                                  written_keys(scenario)), None)
            finally:
                await conn.close()
                if reader is not None:
                    await reader.close()
            databases.drop(name)
        return measured, float(np.mean(trips))
    finally:
        databases.drop_all()


def fitted_scenario(scenario: Scenario, parts: list[Part], how: str = "cqrs-sim testbed --calibrate") -> Scenario:
    """``scenario`` with each part's distribution in its key (``how`` the parts were measured, for its description)."""
    data = resolved_dict(scenario)
    for part in parts:
        *parents, leaf = part.key.split(".")
        node = data
        for name in parents:
            node = node[name]
        node[leaf] = part.distribution
    data["name"] = f"{scenario.name}_fitted"
    data["description"] = f"{scenario.name} with the parts the database does measured and fitted ({how})"
    return Scenario.model_validate(data, context={"base": "."})


def calibrate(scenario: Scenario, dsn: Optional[str] = None, say: Optional[Say] = None,
              source: str = "scenario") -> Calibration:
    """Measure ``scenario``'s parts on PostgreSQL (an embedded server, or the one at ``dsn``) and fit them.

    Raises :class:`~cqrs_sim.core.errors.ScenarioError` for a scenario the testbed cannot play and
    :class:`~cqrs_sim.testbed.server.ServerError` when the server cannot be started or reached.
    """
    check_supported(scenario, source, dsn)
    say = say or (lambda _line: None)
    began = time.perf_counter()
    count, delay = standbys_of(scenario)
    with cluster(dsn, say, count, delay) as servers:
        version = server_version(servers.primary)
        load = os.getloadavg()
        measured, round_trip = asyncio.run(_measure(servers, scenario, say, delay))
    parts = []
    for (arch, name), (values, drawn) in measured.items():
        say(f"fitting {arch} {name}: {len(values)} values")
        spec, family, refused = _fit(values)
        parts.append(Part(arch, name, values, drawn, spec, family, refused))
    return Calibration(scenario, fitted_scenario(scenario, parts), parts, f"PostgreSQL {version}",
                       tuple(round(x, 2) for x in load), time.perf_counter() - began, round_trip)


def _clean_reads(results, architecture: str) -> np.ndarray:
    """Service times (finish − start, s) of ``architecture``'s reads in ``results`` that overlapped no write
    (from its arrival to its commit): under an exclusive lock a read that did may have waited for it."""
    reads = results.requests
    reads = reads[(reads["kind"] == "read") & (reads["architecture"] == architecture)]
    writes = results.writes[results.writes["architecture"] == architecture]
    if architecture == "crud" and results.scenario.crud.replicas:
        writes = writes.iloc[:0]  # reads on standbys wait for no write
    service = []
    for replication, group in reads.groupby("replication"):
        w = writes[writes["replication"] == replication]
        start, finish = group["start"].to_numpy(), group["finish"].to_numpy()
        clean = np.ones(len(group), bool)
        for arrival, commit in zip(w["arrival"].to_numpy(), w["commit"].to_numpy()):
            clean &= ~((finish > arrival) & (start < commit))
        service.append((finish - start)[clean])
    return np.concatenate(service) if service else np.zeros(0)


def measured_parts(scenario: Scenario) -> list[tuple[str, str]]:
    """(design, part) of every part a testbed run of ``scenario`` measures: the reads, the writes (if any), CQRS's
    copies, the replay lag of CRUD's streaming replicas."""
    parts = []
    for arch in scenario.architectures:
        parts.append((arch, "read"))
        if scenario.workload.writes is not None:
            parts.append((arch, "write"))
            if arch == "cqrs":
                parts.append((arch, "copy"))
            if arch == "crud" and scenario.crud.replicas:
                parts.append((arch, "lag"))
    return parts


def parts_from_run(results) -> list[Part]:
    """The parts as a testbed run measured them at full load: each read's service time (reads that overlapped no
    write), each write's time from holding its lock to its commit, (CQRS) every copy the run made, and (CRUD with
    streaming replicas) every commit's replay lag on every standby."""
    parts = []
    runs = results.manifest.get("testbed", {}).get("runs", [])
    for arch in results.scenario.architectures:
        measured = {"read": _clean_reads(results, arch)}
        writes = results.writes[results.writes["architecture"] == arch]
        measured["write"] = (writes["commit"] - writes["start"]).dropna().to_numpy()
        if arch == "cqrs":
            measured["copy"] = np.asarray([c for run in runs if run["architecture"] == arch for c in run["copy_seconds"]])
        if arch == "crud" and results.scenario.crud.replicas:
            measured["lag"] = np.asarray([x for run in runs if run["architecture"] == arch
                                          for x in run.get("replay_lag_seconds", [])])
        for name, values in measured.items():
            values = values[values > 0]
            if len(values) < SAMPLES_MIN:
                continue
            spec, family, refused = _fit(values)
            parts.append(Part(arch, name, values, None, spec, family, refused))
    return parts


def from_run(results) -> Calibration:
    """The scenario of a testbed run with its parts fitted from the run itself (:func:`parts_from_run`): the model
    fed with the parts as they were at full load, as PBS fed its model with each component's measured latency."""
    parts = parts_from_run(results)
    machine = results.manifest.get("machine", {})
    load = tuple(machine.get("load_average", (0.0, 0.0, 0.0)))
    fitted = fitted_scenario(results.scenario, parts, "measured during a testbed run")
    return Calibration(results.scenario, fitted, parts, results.manifest.get("server", "PostgreSQL"), load, 0.0)


HEADER = "# calibrated on "  #: how a fitted scenario written by ``testbed --calibrate`` begins


def is_fitted_file(path) -> bool:
    """Whether ``path`` is a fitted scenario ``testbed --calibrate`` wrote (so ``--force`` may replace it)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(len(HEADER)) == HEADER
    except (OSError, UnicodeDecodeError):
        return False


def parts_table(calibration: Calibration, title: str):
    """Each measured part as a rich Table row: design, part, samples, mean, p99, beyond the drawn sleep, the key it
    sets, and the family chosen."""
    from rich.table import Table


    table = Table(title=title, title_justify="left")
    for name in ("arch", "part", "n", "mean", "p99", "beyond the sleep", "sets", "fitted"):
        table.add_column(name, justify="left" if name in ("arch", "part", "sets", "fitted") else "right")
    for part in calibration.parts:
        s = part.summary()
        beyond = "-" if part.overhead is None else format_duration(part.overhead)
        table.add_row(part.architecture, part.name, str(s["samples"]), format_duration(s["mean_s"]),
                      format_duration(s["p99_s"]), beyond, part.key, part.family)
    return table
