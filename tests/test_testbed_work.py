"""The testbed's real work (``testbed.work: queries``): real queries and updates instead of sleeps, calibrated.

Regression and functional tests, not validation against theory: the SQL of
each mode returns the versions a hand-made history says it must (write key
3, read keys 3 and 4), sleep mode issues exactly the statements it always
did, the calibration measures the real query's cost (checked against the
same query timed directly here), and a testbed run in queries mode returns
the versions the simulation's definitions give and fits its parts from what
it measured. Tests that need PostgreSQL are skipped only where it cannot
start at all.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import cqrs_sim
from cqrs_sim.config.scenario import Scenario
from cqrs_sim.testbed import schema
from cqrs_sim.testbed.support import unsupported
from cqrs_sim.testbed.transactions import write_transaction

from .conftest import ROOT, SCENARIOS
from .test_testbed import postgres_available  # noqa: F401  (the fixture: PostgreSQL starts here, or skip)

ITEMS = 5  #: items per key in the hand-checked tables


def _scenario(**testbed) -> Scenario:
    return Scenario.model_validate({
        "name": "work", "duration": 6, "seed": 3, "replications": 1, "architectures": ["crud"], "record": "full",
        "workload": {"reads": {"rate": 40, "query_time": {"dist": "lognormal", "mean": 0.05, "cv": 0.5}},
                     "keys": {"count": 20, "popularity": "uniform"},
                     "writes": {"interval": {"dist": "exponential", "mean": 0.5},
                                "apply_time": {"dist": "lognormal", "mean": 0.4, "cv": 0.3}}},
        "handlers": {"count": 1, "concurrency": 16},
        "crud": {"connections": 2, "locking": "exclusive"},
        "testbed": testbed,
    }, context={"base": "."})


class _Recorder:
    """A connection that records the statements it is given (for write_transaction without a server)."""

    def __init__(self):
        self.statements: list[tuple[str, tuple]] = []

    def transaction(self):
        recorder = self

        class _Tx:
            async def __aenter__(self):
                recorder.statements.append(("BEGIN", ()))

            async def __aexit__(self, *exc):
                recorder.statements.append(("COMMIT", ()))

        return _Tx()

    async def execute(self, sql, args=()):
        self.statements.append((sql, tuple(args)))

        class _Cursor:
            async def fetchone(self):
                return (7,)

        return _Cursor()


def test_sleep_mode_sql_is_what_it_always_was():
    """Sleep mode (the default) reads and writes with exactly the statements the testbed always used, and builds no
    table of items; queries mode reads with the real query and writes its keys' items instead of sleeping."""
    assert _scenario().testbed.work == "sleep"
    assert schema.read("sleep", 3, 0.012) == (
        "SELECT d.version, c.version, pg_sleep(%s) FROM data d, counter c WHERE d.key = %s", (0.012, 3))
    assert schema.create(10) == (
        "CREATE TABLE data (key integer PRIMARY KEY, version bigint NOT NULL, payload text NOT NULL)",
        "INSERT INTO data SELECT k, 0, repeat(md5(k::text), 7) FROM generate_series(0, 9) AS k",
        "CREATE TABLE counter (version bigint NOT NULL)",
        "INSERT INTO counter VALUES (0)",
        "ANALYZE data",
    )
    assert schema.items_per_key(_scenario().testbed) == 0
    assert schema.items_per_key(_scenario(work="queries", items_per_key=7).testbed) == 7
    sql, args = schema.read("queries", 3, 0.012)
    assert "pg_sleep" not in sql and "JOIN items" in sql and args == (3,)

    def statements(work):
        conn = _Recorder()
        asyncio.run(write_transaction(conn, 0.25, schema.LOCK, keys=[3, 5], work=work))
        return conn.statements

    assert statements("sleep") == [("BEGIN", ()), (schema.LOCK, ()), ("SELECT pg_sleep(%s)", (0.25,)),
                                   ("UPDATE counter SET version = version + 1 RETURNING version", ()),
                                   ("UPDATE data SET version = %s WHERE key = ANY(%s)", (7, [3, 5])), ("COMMIT", ())]
    assert statements("queries") == [("BEGIN", ()), (schema.LOCK, ()),
                                     ("UPDATE items SET value = value + 1 WHERE key = ANY(%s)", ([3, 5],)),
                                     ("UPDATE counter SET version = version + 1 RETURNING version", ()),
                                     ("UPDATE data SET version = %s WHERE key = ANY(%s)", (7, [3, 5])), ("COMMIT", ())]


def test_queries_mode_is_located_where_the_testbed_cannot_play_it():
    """Real queries are played for CRUD only (a CQRS copy ships no items), and the table of items is bounded."""
    cqrs = Scenario.model_validate({**_scenario(work="queries").model_dump(by_alias=True),
                                    "architectures": ["crud", "cqrs"]}, context={"base": "."})
    assert ("testbed.work", "real queries are played by the crud design only; use architectures: [crud] or "
                            "work: sleep") in unsupported(cqrs)
    big = _scenario(work="queries", items_per_key=schema.ITEMS_MAX // 20 + 1)
    assert [path for path, _ in unsupported(big)] == ["testbed.items_per_key"]
    assert unsupported(_scenario(work="queries", items_per_key=schema.ITEMS_MAX // 20)) == []
    assert unsupported(_scenario()) == []


def test_the_queries_example_is_one_the_testbed_plays_within_the_cores():
    """benchmarks/testbed_queries.yaml (run by hand) loads, plays real queries, is supported, and keeps its
    connections within the 2 cores its numbers in the docs were measured on."""
    scenario = cqrs_sim.load_scenario(ROOT / "benchmarks" / "testbed_queries.yaml")
    assert scenario.testbed.work == "queries" and scenario.architectures == ["crud"]
    assert unsupported(scenario) == []
    assert scenario.crud.connections <= 2


async def _versions_by_hand(dsn: str) -> dict:
    from cqrs_sim.testbed.snapshot import connect_many

    conn = (await connect_many(dsn, 1))[0]
    try:
        for statement in schema.create(10, ITEMS):
            await conn.execute(statement)

        async def read(work: str, key: int) -> tuple:
            return tuple(await (await conn.execute(*schema.read(work, key, 0.0))).fetchone())

        seen = {"before": await read("queries", 3)}
        _, seen["first version"] = await write_transaction(conn, 5.0, keys=[3], work="queries")  # 5 s: not slept
        seen["key 3"], seen["key 4"] = await read("queries", 3), await read("queries", 4)
        seen["key 3 by sleep"] = await read("sleep", 3)
        _, seen["second version"] = await write_transaction(conn, 0.0, keys=None, work="queries")
        seen["key 4 after all"] = await read("queries", 4)
        seen["key 3 after all"] = await read("queries", 3)
        return seen
    finally:
        await conn.close()


@pytest.mark.testbed
def test_real_queries_return_the_versions_a_hand_made_history_gives(postgres_available):
    """Tables of 10 keys with 5 items each. A write of key 3 commits version 1: a read of key 3 then returns key
    version 1 and data version 1, its 5 distinct items each updated once (sum 5); a read of key 4 returns key
    version 0 (never written), data version 1, its items untouched (sum 0). A write of every row (no keys) commits
    version 2 and updates every item: key 4 returns 2, 2 and sum 5; key 3 returns 2, 2 and sum 10. The sleep read
    of the same tables returns the same versions. The write's 5 s apply time is not played."""
    from cqrs_sim.testbed.server import Databases, EmbeddedServer, with_database

    with EmbeddedServer() as server:
        databases = Databases(server.dsn)
        name = databases.create("hand")
        began = time.monotonic()
        seen = asyncio.run(_versions_by_hand(with_database(server.dsn, name)))
        took = time.monotonic() - began
        databases.drop_all()
    assert seen["before"] == (0, 0, ITEMS, 0)
    assert seen["first version"] == 1
    assert seen["key 3"] == (1, 1, ITEMS, ITEMS)
    assert seen["key 4"] == (0, 1, ITEMS, 0)
    assert seen["key 3 by sleep"][:2] == (1, 1)
    assert seen["second version"] == 2
    assert seen["key 4 after all"] == (2, 2, ITEMS, ITEMS)
    assert seen["key 3 after all"] == (2, 2, ITEMS, 2 * ITEMS)
    assert took < 5.0  # the drawn 5 s apply time was not slept


async def _timed_directly(dsn: str, rows: int, count: int) -> np.ndarray:
    from cqrs_sim.testbed.snapshot import connect_many

    conn = (await connect_many(dsn, 1))[0]
    try:
        times = []
        for k in range(count):
            sql, args = schema.read("queries", k % rows, 0.0)
            began = time.perf_counter()
            await (await conn.execute(sql, args)).fetchone()
            times.append(time.perf_counter() - began)
        return np.asarray(times)
    finally:
        await conn.close()


@pytest.mark.testbed
def test_calibration_in_queries_mode_fits_the_real_service_time(postgres_available):
    """In queries mode the calibration times the real query, not the scenario's drawn 50 ms. Its measured read
    median lies within ×0.5 to ×2.5 of the same query's timed directly here, one request at a time in the same process, on fresh
    copies of the same tables on the same server, right before and right after the calibration (the bracket and
    its width allow for other work on the machine changing between the timings); the fitted crud.query_time has the
    measured reads' mean, and the measured write is the real update, far from the drawn 400 ms. Nothing drawn was played, so no
    overhead "beyond the drawn sleep" is reported."""
    from cqrs_sim.testbed.calibrate import calibrate
    from cqrs_sim.testbed.server import Databases, EmbeddedServer, with_database
    from cqrs_sim.testbed.snapshot import create_template

    scenario = _scenario(work="queries", items_per_key=2000)
    with EmbeddedServer() as server:
        databases = Databases(server.dsn)
        asyncio.run(create_template(databases, scenario))

        def timed_on_a_fresh_copy(name: str) -> np.ndarray:
            copy = databases.create(name, template=databases.name("schema"))
            return asyncio.run(_timed_directly(with_database(server.dsn, copy), 20, 100))

        before = timed_on_a_fresh_copy("before")
        calibration = calibrate(scenario, dsn=server.dsn)
        after = timed_on_a_fresh_copy("after")
        databases.drop_all()
    parts = {part.name: part for part in calibration.parts}
    read, write = parts["read"], parts["write"]
    print(f"\nqueries mode: calibrated read mean {read.values.mean() * 1e3:.3f} ms, timed directly "
          f"{before.mean() * 1e3:.3f} ms before and {after.mean() * 1e3:.3f} ms after; write mean "
          f"{write.values.mean() * 1e3:.3f} ms; load average {calibration.load_average}")
    low, high = sorted((np.median(before), np.median(after)))
    seen = (read.values.mean(), before.mean(), after.mean(), np.median(read.values), np.median(before),
            np.median(after), calibration.load_average)
    # medians: one spell of other work on the machine during 100 reads of ~2 ms moves a mean by 40% (seen once:
    # means 2.62 ms against 1.85 and 1.83 ms, medians 1.64 ms against 1.68 and 1.68 ms); and a machine loaded by
    # other test suites changed between the bracket's timings and the calibration's by up to ×1.9 (medians 3.27 ms
    # against 1.59 and 1.72 ms). ×0.5 to ×2.5 still rejects timing the drawn 50 ms sleep (×25) or a bare round trip
    assert 0.5 * low <= np.median(read.values) <= 2.5 * high, seen
    assert read.values.mean() < 0.025 and write.values.mean() < 0.2  # not the drawn 50 ms and 400 ms
    assert read.overhead is None and write.overhead is None
    fitted = calibration.fitted.crud.query_time
    assert fitted.mean == pytest.approx(read.values.mean(), rel=0.05)
    assert calibration.fitted.testbed == scenario.testbed


@pytest.mark.testbed
def test_a_run_in_queries_mode_returns_true_versions_and_fits_its_parts(postgres_available):
    """A CRUD run of real queries and updates (exclusive lock, 20 keys, writes every 0.5 s on average): every read
    returned the version of its key that the simulation's definition gives for the data version it saw, its
    latencies are the real queries' few milliseconds (not the drawn 50 ms), and from_run fits the read and write
    parts from what the run measured."""
    from cqrs_sim.testbed import run_testbed
    from cqrs_sim.testbed.calibrate import from_run

    scenario = _scenario(work="queries", items_per_key=1000)
    measured = run_testbed(scenario)
    run = measured.manifest["testbed"]["runs"][0]
    assert run["key_version_mismatches"] == 0, run
    summary = measured.summary().set_index("metric")["mean"]
    assert summary["writes_committed"] > 4
    reads = measured.requests[measured.requests["kind"] == "read"]
    assert len(reads) > 150 and len(set(reads["key"])) > 10
    assert summary["read_latency_p50"] < 0.025  # the drawn query time's median is 45 ms
    fitted = from_run(measured)
    names = {part.name: part for part in fitted.parts}
    assert set(names) == {"read", "write"}
    assert fitted.fitted.crud.query_time.mean == pytest.approx(names["read"].values.mean(), rel=0.05)
    assert fitted.fitted.crud.query_time.mean < 0.025
    assert cqrs_sim.simulate(fitted.fitted, jobs=1).summary() is not None


def test_the_default_testbed_section_is_not_part_of_the_resolved_scenario():
    """The simulator ignores ``testbed:``: left at its default it is not written into the resolved scenario, so a
    simulated scenario's scenario.yaml and hash are what they were before the section existed; set, it is kept and
    read back."""
    from cqrs_sim.config.loader import parse_scenario, resolved_yaml
    from cqrs_sim.config.resolved import resolved_dict

    plain = cqrs_sim.load_scenario(SCENARIOS / "catalogue.yaml")
    assert "testbed" not in resolved_dict(plain)
    queries = cqrs_sim.load_scenario(SCENARIOS / "testbed_crud.yaml", ["testbed.work=queries"])
    assert resolved_dict(queries)["testbed"] == {"work": "queries", "items_per_key": 2000}
    assert parse_scenario(resolved_yaml(queries)).testbed == queries.testbed
