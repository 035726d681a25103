"""The testbed's one table, and the SQL each request runs.

Every database (CRUD's, CQRS's write image and each replica) holds the
table ``data`` of ``ROWS`` rows; every row carries the data's version (the
number of commits it reflects), so a read returns the version it saw. A
read fetches one row (key = read number mod ``ROWS``) and sleeps on the
server for its drawn query time; a write sleeps for its apply time and then
advances every row's version.
"""

from __future__ import annotations

ROWS = 1000  #: rows in the table
PAYLOAD = 200  #: characters of filler per row, so a copy moves real pages

CREATE = (
    "CREATE TABLE data (key integer PRIMARY KEY, version bigint NOT NULL, payload text NOT NULL)",
    f"INSERT INTO data SELECT k, 0, repeat(md5(k::text), {PAYLOAD // 32 + 1}) FROM generate_series(0, {ROWS - 1}) AS k",
    "ANALYZE data",
)
#: a read: the version of one row, after sleeping its query time on the server
READ = "SELECT version, pg_sleep(%s) FROM data WHERE key = %s"
LOCK = "LOCK TABLE data IN ACCESS EXCLUSIVE MODE"
SLEEP = "SELECT pg_sleep(%s)"
#: a write's effect: every row moves to the next version; returns that version
ADVANCE = "UPDATE data SET version = version + 1 RETURNING version"
