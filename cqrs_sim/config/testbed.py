"""``testbed:``, the settings only ``cqrs-sim testbed`` reads: how the real database does a request's work.

The simulator ignores this section: its service times are the scenario's
``query_time`` and ``apply_time`` (for a testbed run, the calibrated ones).
"""

from __future__ import annotations

from typing import Literal

from .fields import Count, _Section


class Testbed(_Section):
    work: Literal["sleep", "queries"] = "sleep"
    """Testbed only (the simulator ignores it). `sleep`: a read sleeps its drawn query_time on the server and a write its drawn apply_time; `queries`: a read is a real query (its key's row joined to its items, sorted and summed) and a write a real update of its keys' rows in both tables, and the drawn query and apply times are not played: the server's own cost is the service time (`cqrs-sim testbed --calibrate` measures it). CRUD only."""
    items_per_key: Count = 2000
    """Testbed only, with work: queries: rows of the table `items` per key (per row of `data` without workload.keys); a read's cost grows with it (at 2000, about 1.4 ms of the server's CPU)."""
