"""A write as the testbed makes it, in the run and in the calibration alike: one transaction that works on the
server (sleeps the write's apply time, or with real queries updates its keys' items), takes the next version and
sets its keys' rows to it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Optional

from . import schema

if TYPE_CHECKING:
    from ..config.scenario import Scenario


async def write_transaction(conn, apply_time: float, lock: str | None = None,
                            clock: Callable[[], float] = time.monotonic,
                            keys: Optional[list[int]] = None, work: str = "sleep") -> tuple[float, int]:
    """One write on ``conn``: in a transaction, take ``lock`` (SQL) if given, work on the server (``work`` = sleep:
    ``apply_time``; queries: update the items of ``keys``, every item without, and ``apply_time`` is not played),
    take the next version, set the rows of ``keys`` (every row without) to it, commit. Returns (``clock`` once the
    lock is held, the version committed). The run and the calibration both write so."""
    async with conn.transaction():
        if lock is not None:
            await conn.execute(lock)
        start = clock()
        if work == "sleep":
            await conn.execute(schema.SLEEP, (apply_time,))
        else:
            await conn.execute(*schema.work_on(keys))
        version = int((await (await conn.execute(schema.NEXT)).fetchone())[0])
        sql, args = schema.set_version(keys)
        await conn.execute(sql, (version, *args))
    return start, version


def written_keys(scenario: "Scenario") -> Optional[list[int]]:
    """The keys a calibration write sets: as many as each of the scenario's writes (None without keys: every row)."""
    if scenario.workload.keys is None:
        return None
    return list(range(min(scenario.workload.write_keys.count, scenario.workload.keys.count)))
