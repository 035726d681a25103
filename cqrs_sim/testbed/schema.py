"""The testbed's tables, and the SQL each request runs.

Every database (CRUD's, CQRS's write image and each replica) holds the
table ``data``, one row per key (``workload.keys.count`` rows, or ``ROWS``
without keys), each carrying its key's version: the version of the last
write to that key (0 before any), and the one-row table ``counter``, the
number of commits the database reflects. A read fetches its key's row and
the counter in one statement (one snapshot) after sleeping on the server
for its drawn query time, so it returns both the version of its key it saw
and the version of the data as a whole. A write sleeps for its apply time,
advances the counter (its row lock orders the commits), and sets its
keys' rows (every row without keys: the one shared item) to the new version.

With ``testbed.work: queries`` the work is real instead of slept: the
database also holds the table ``items``, ``testbed.items_per_key`` rows per
row of ``data`` (a key's rows stored together, an index on ``key``, pages
half filled so an update stays on its page). A read (:data:`READ_QUERY`)
looks its key up in ``data`` and joins its items, sorting them
(``count(DISTINCT payload)``) and summing their values, beside the counter,
in one statement: one snapshot, so it still returns the version of its key
and of the data. A write updates its keys' items (``value + 1``) and then
advances the counter and sets the versions as above, without a sleep. What
a read or a write costs is then what the server takes, measured by the
calibration.
"""

from __future__ import annotations

from typing import Optional

from ..config.testbed import Testbed

ROWS = 1000  #: rows in the table without workload.keys
PAYLOAD = 200  #: characters of filler per row, so a copy moves real pages
ITEMS_MAX = 1_000_000  #: rows of ``items`` at most (about 170 MB; every run copies the table into a fresh database)


def rows(scenario) -> int:
    """Rows of the table for ``scenario``: one per key, or :data:`ROWS` without keys."""
    keys = scenario.workload.keys
    return keys.count if keys is not None else ROWS


def items_per_key(testbed: Testbed) -> int:
    """Rows of ``items`` per row of ``data``: ``testbed.items_per_key`` with real queries, 0 (no table) with sleeps."""
    return testbed.items_per_key if testbed.work == "queries" else 0


def create(count: int, items: int = 0) -> tuple[str, ...]:
    """The statements that make the tables with ``count`` rows, at version 0, and ``items`` rows of ``items`` per
    row (none: no table ``items``)."""
    tables = (
        "CREATE TABLE data (key integer PRIMARY KEY, version bigint NOT NULL, payload text NOT NULL)",
        f"INSERT INTO data SELECT k, 0, repeat(md5(k::text), {PAYLOAD // 32 + 1}) FROM generate_series(0, {count - 1}) AS k",
        "CREATE TABLE counter (version bigint NOT NULL)",
        "INSERT INTO counter VALUES (0)",
        "ANALYZE data",
    )
    if not items:
        return tables
    return tables + (
        "CREATE TABLE items (key integer NOT NULL, item integer NOT NULL, value bigint NOT NULL, "
        "payload text NOT NULL) WITH (fillfactor = 50)",
        f"INSERT INTO items SELECT k, i, 0, md5((k * {items} + i)::text) "
        f"FROM generate_series(0, {count - 1}) AS k, generate_series(0, {items - 1}) AS i",
        "CREATE INDEX items_key ON items (key)",
        "VACUUM ANALYZE items",
        "ANALYZE counter",
    )


#: a read: (its key's version, the data's version), after sleeping its query time on the server
READ = "SELECT d.version, c.version, pg_sleep(%s) FROM data d, counter c WHERE d.key = %s"
#: a real read (``testbed.work: queries``): (its key's version, the data's version, its distinct items, their sum)
READ_QUERY = ("SELECT d.version, c.version, count(DISTINCT i.payload), sum(i.value) FROM data d "
              "JOIN items i ON i.key = d.key CROSS JOIN counter c WHERE d.key = %s GROUP BY d.version, c.version")
LOCK = "LOCK TABLE data IN ACCESS EXCLUSIVE MODE"
SLEEP = "SELECT pg_sleep(%s)"
#: a write's commit order: the next version (the row lock holds later writes until this one commits)
NEXT = "UPDATE counter SET version = version + 1 RETURNING version"
SET_ALL = "UPDATE data SET version = %s"
SET_KEYS = "UPDATE data SET version = %s WHERE key = ANY(%s)"
#: a real write's work (``testbed.work: queries``): its keys' items updated (every item without keys)
WORK_ALL = "UPDATE items SET value = value + 1"
WORK_KEYS = "UPDATE items SET value = value + 1 WHERE key = ANY(%s)"


def read(work: str, key: int, query_time: float) -> tuple[str, tuple]:
    """A read of ``key`` as SQL and its arguments: sleeping ``query_time`` (``work`` = sleep) or the real query,
    which plays no drawn time. Either returns the key's version first and the data's version second."""
    return (READ, (query_time, key)) if work == "sleep" else (READ_QUERY, (key,))


def work_on(keys: Optional[list[int]]) -> tuple[str, tuple]:
    """SQL updating the items of ``keys`` (every item without keys): a real write's work."""
    return (WORK_ALL, ()) if keys is None else (WORK_KEYS, (list(keys),))


def set_version(keys: Optional[list[int]]) -> tuple[str, tuple]:
    """SQL (with a slot for the version first) setting the written rows: ``keys``, or every row."""
    return (SET_ALL, ()) if keys is None else (SET_KEYS, (list(keys),))
