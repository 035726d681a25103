"""A read in flight: a plain list whose positions are named here.

A read travels through SimPy timeout callbacks and FIFO slot pools as one
list; indexing a list is the cheapest record Python has on a path that runs
for every read. Every position has one meaning. When a read finishes, the
model appends the whole list to the recorder's flat buffer (``WIDTH``
values a read), and the recorder picks the positions it keeps.
"""

from __future__ import annotations

import math

ID = 0  #: the client's read number, 0, 1, … in arrival order (-1 for a read-back: not a client's read)
ARRIVAL = 1  #: when this attempt arrived (once recorded: when the client's first attempt arrived)
HANDLER_TIME = 2  #: seconds the handler spends before the query
QUERY_TIME = 3  #: seconds of query service on a warm server
HANDLER = 4  #: the handler serving it
REPLICA = 5  #: the replica its query runs on (-1: none yet, or a single database)
START = 6  #: when its query started (NaN until then)
SEEN = 7  #: the version its query read
LATEST = 8  #: the newest committed version when its query started
FINISH = 9  #: when it finished, or when its client gave up on its last attempt (NaN until then)
TIMED_OUT = 10  #: 1 if its client gave up on every attempt (the read failed), else 0
ATTEMPT = 11  #: 1 for the client's first try, 2 for its first retry, …
READ_BACK = 12  #: for a writer reading its own write back: that write's version; 0 for a client's read
KEY = 13  #: the key it reads (0 without workload.keys: the one shared item)
CLIENT = 14  #: the client it belongs to (0 without workload.reads.clients)
WAITED = 15  #: 1 once it found no server to read from and waited for one (the client's last attempt), else 0
WIDTH = 16  #: values in a read

NAN = math.nan


def new_read(i: int, arrival: float, handler_time: float, query_time: float, key: int, client: int,
             attempt: int = 1, read_back: int = 0) -> list:
    """A read that has just arrived: not yet routed, started or finished."""
    return [i, arrival, handler_time, query_time, 0, -1, NAN, 0, 0, NAN, 0, attempt, read_back, key, client, 0]
