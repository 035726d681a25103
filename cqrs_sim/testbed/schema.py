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
"""

from __future__ import annotations

from typing import Optional

ROWS = 1000  #: rows in the table without workload.keys
PAYLOAD = 200  #: characters of filler per row, so a copy moves real pages


def rows(scenario) -> int:
    """Rows of the table for ``scenario``: one per key, or :data:`ROWS` without keys."""
    keys = scenario.workload.keys
    return keys.count if keys is not None else ROWS


def create(count: int) -> tuple[str, ...]:
    """The statements that make the tables with ``count`` rows, at version 0."""
    return (
        "CREATE TABLE data (key integer PRIMARY KEY, version bigint NOT NULL, payload text NOT NULL)",
        f"INSERT INTO data SELECT k, 0, repeat(md5(k::text), {PAYLOAD // 32 + 1}) FROM generate_series(0, {count - 1}) AS k",
        "CREATE TABLE counter (version bigint NOT NULL)",
        "INSERT INTO counter VALUES (0)",
        "ANALYZE data",
    )


#: a read: (its key's version, the data's version), after sleeping its query time on the server
READ = "SELECT d.version, c.version, pg_sleep(%s) FROM data d, counter c WHERE d.key = %s"
LOCK = "LOCK TABLE data IN ACCESS EXCLUSIVE MODE"
SLEEP = "SELECT pg_sleep(%s)"
#: a write's commit order: the next version (the row lock holds later writes until this one commits)
NEXT = "UPDATE counter SET version = version + 1 RETURNING version"
SET_ALL = "UPDATE data SET version = %s"
SET_KEYS = "UPDATE data SET version = %s WHERE key = ANY(%s)"


def set_version(keys: Optional[list[int]]) -> tuple[str, tuple]:
    """SQL (with a slot for the version first) setting the written rows: ``keys``, or every row."""
    return (SET_ALL, ()) if keys is None else (SET_KEYS, (list(keys),))
