"""A CQRS rollout's real work on PostgreSQL: a snapshot of the write image, and a replica's copy of it.

One rule for both the run (:mod:`.cqrs`) and the calibration
(:mod:`.calibrate`), so what is measured at low load is what the run does
at full load:

* :class:`Snapshot` holds the write image as it was when a rollout started:
  a ``REPEATABLE READ`` transaction opened then on the write image's
  connection, kept open for the rollout, so every copy reads the same
  version, whatever commits meanwhile (as the model ships the version
  committed when the rollout starts);
* :func:`replace` swaps one replica's database for a copy of that snapshot:
  its connections close, ``DROP DATABASE``, ``CREATE DATABASE … TEMPLATE``
  the run's empty-schema template, the snapshot's rows streamed in
  (``COPY … TO`` on the write image, ``COPY … FROM`` into the new database),
  and ``connections`` new connections open. Each swap does all of it, so its
  time is one draw of the model's ``replace_time``;
* :func:`build` is that copy into a new database beside the old one (surge
  and blue-green rollouts, :func:`builds_beside`): no drop before it, the
  old database is dropped once its last read is done, after the switch. A
  build's time is one draw of ``replace_time``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import schema
from .server import Databases, with_database

if TYPE_CHECKING:
    from ..config.scenario import Scenario

TABLES = ("data", "counter")  #: what a copy ships (see :mod:`.schema`)


async def connect_many(dsn: str, count: int) -> list:
    import psycopg

    return [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(count)]


async def close_all(connections: list) -> None:
    for conn in connections:
        await conn.close()


class Snapshot:
    """The write image as it is now, read through ``source`` (a connection of its own) until :meth:`close`."""

    def __init__(self, source):
        self.source = source
        self.version = 0

    async def open(self) -> int:
        """Take the snapshot; returns the version it holds."""
        await self.source.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        cursor = await self.source.execute("SELECT version FROM counter")  # the snapshot is taken here
        self.version = int((await cursor.fetchone())[0])
        return self.version

    async def rows(self) -> dict[str, bytes]:
        """Each table's rows as ``COPY`` text."""
        out = {}
        for table in TABLES:
            buffer = bytearray()
            async with self.source.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                async for chunk in copy:
                    buffer += chunk
            out[table] = bytes(buffer)
        return out

    async def close(self) -> None:
        await self.source.execute("COMMIT")


def builds_beside(sync) -> bool:
    """Whether a rollout of ``sync`` builds each new copy beside the old one (surge, blue-green: a new database,
    its readers switched when ready, the old one dropped after its last read) rather than in its place."""
    return sync.strategy == "blue_green" or sync.max_surge > 0


async def build(databases: Databases, admin, name: str, connections: int, snapshot: Snapshot) -> list:
    """Create database ``name`` as a copy of ``snapshot`` (``CREATE DATABASE … TEMPLATE`` the empty schema, the
    rows streamed in with ``COPY``); returns ``connections`` connections to it."""
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{databases.name("schema")}"')
    rows = await snapshot.rows()
    loader = (await connect_many(with_database(databases.dsn, name), 1))[0]
    try:
        for table, text in rows.items():
            await loader.execute(f"TRUNCATE {table}")
            async with loader.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                await copy.write(text)
    finally:
        await loader.close()
    return await connect_many(with_database(databases.dsn, name), connections)


async def replace(databases: Databases, admin, name: str, old: list, connections: int, snapshot: Snapshot) -> list:
    """Replace database ``name`` (whose connections ``old`` are closed) by a copy of ``snapshot``; returns
    ``connections`` new connections to it."""
    await close_all(old)
    await admin.execute(f'DROP DATABASE "{name}"')
    return await build(databases, admin, name, connections, snapshot)


def beside_name(databases: Databases, name: str) -> str:
    """A new database's name for a copy built beside database ``name`` (``…_b1``, ``…_b2``…), dropped with the
    run's other databases (:meth:`.server.Databases.drop_all`) if still there."""
    base, _, n = name.rpartition("_b")
    base, n = (base, int(n)) if base and n.isdigit() else (name, 0)
    fresh = f"{base}_b{n + 1}"
    databases.created.append(fresh)
    return fresh


async def create_template(databases: Databases, scenario: "Scenario") -> None:
    """The run's template database: the table (and the commit counter) every copy starts from."""
    name = databases.create("schema")
    conn = (await connect_many(with_database(databases.dsn, name), 1))[0]
    try:
        for statement in schema.create(schema.rows(scenario), schema.items_per_key(scenario.testbed)):
            await conn.execute(statement)
    finally:
        await conn.close()
