"""CRUD with streaming replicas on PostgreSQL: writes on the primary, reads on real hot standbys.

Writes run on the primary exactly as :class:`.crud.CrudBackend`'s (its
``crud.connections`` connections; under ``locking: exclusive`` the table
lock, which only writes take there, since no read goes to the primary).
Reads go to the standbys (:mod:`.standbys`), picked by
``crud.replica_routing`` through the simulator's own routers over
``crud.replicas`` standbys with ``crud.replica_connections`` connections
each; a read returns its key's version and the data's version as its
standby holds them (:data:`.schema.READ`), and records which standby served
it, so staleness by key and monotonic reads are judged on what real reads
returned, as the model defines them (:mod:`cqrs_sim.model.crud_replicas`).

When each write became visible on each standby is measured, not assumed:
:class:`Replay` polls ``SELECT version FROM counter`` on a connection of its
own to every standby, every :data:`POLL` seconds, from :data:`GUARD` seconds
before the earliest instant PostgreSQL may replay the commit (the client's
commit plus ``recovery_min_apply_delay``: a standby never replays a commit
sooner) until the standby shows it. A version is placed midway between the
last poll that did not show it (its send) and the first that did (its
answer): the resolution is ± (``POLL`` + a round trip) / 2, about ±3 ms
here. A poll that already shows the version at its first try means the
guard was too short and the instant is unknown: such versions are counted
(``replay_censored`` in the manifest) and must be 0. The delay is the
scenario's ``crud.replication_lag`` mean (:func:`.standbys.apply_delay`):
a standby delays every commit by one constant, so the run's lags are that
constant plus what local streaming replication adds; the calibration fits
the model's ``crud.replication_lag`` from the lags measured here.

``locking: exclusive`` beside standbys is a trap of real PostgreSQL the
model does not have: the table lock is WAL-logged and taken on every
standby when replayed, before the commit that releases it waits out the
apply delay, so the standbys' reads of that table block for the whole
delay. The shipped scenario uses ``mvcc``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Optional

import numpy as np

from ..config.scenario import Scenario
from ..model.routing import router
from ..workload.streams import stream
from . import schema
from .client import Backend, Clock
from .server import ServerError
from .slots import Pool
from .snapshot import close_all, connect_many
from .standbys import apply_delay
from .transactions import write_transaction

POLL = 0.005  #: seconds between polls of a standby while a commit is due there
GUARD = 0.25  #: seconds before a commit's earliest replay that polling starts
CAUGHT_UP_TIMEOUT = 60.0  #: seconds to wait for the standbys to show every commit at the end


class Replay:
    """When each version became visible on each standby, polled on ``conns`` (one per standby, the run's database).

    ``clock``: the run's; ``delay``: the standbys' ``recovery_min_apply_delay`` in seconds; ``base``: the version
    the database holds when watching starts (the first commit watched is ``base`` + 1).
    """

    def __init__(self, clock: Clock, conns: list, delay: float, base: int = 0):
        self.clock = clock
        self.conns = conns
        self.delay = delay
        self.base = base
        self.commit_time = [0.0] * (base + 1)  #: by version, when the client saw it commit
        self.visible: list[list[float]] = [[0.0] * (base + 1) for _ in conns]  #: per standby, by version
        self.censored = 0  #: versions a standby already showed at the first poll (instant unknown)
        self.censored_at: set[tuple[int, int]] = set()  #: (standby, version) of each of them
        self.polls = 0
        self._news = [asyncio.Event() for _ in conns]
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._watch(r)) for r in range(len(self.conns))]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def committed(self, version: int, at: float) -> None:
        while len(self.commit_time) <= version:
            self.commit_time.append(at)
        for news in self._news:
            news.set()

    async def caught_up(self, version: Optional[int] = None, timeout: float = CAUGHT_UP_TIMEOUT) -> None:
        """Wait until every standby shows ``version`` (default: every commit so far)."""
        version = len(self.commit_time) - 1 if version is None else version
        deadline = self.clock() + timeout
        while any(len(seen) <= version for seen in self.visible):
            for task in self._tasks:
                if task.done():
                    task.result()  # a watcher that failed says why
            if self.clock() > deadline:
                raise ServerError(f"a standby did not show version {version} within {timeout:g} s")
            await asyncio.sleep(POLL)

    async def _watch(self, r: int) -> None:
        conn, seen, news = self.conns[r], self.visible[r], self._news[r]
        last_sent: Optional[float] = None  #: when the last poll (which showed no newer version) was sent
        while True:
            shown = len(seen) - 1
            if shown >= len(self.commit_time) - 1:
                news.clear()
                await news.wait()
                continue
            due = self.commit_time[shown + 1] + self.delay - GUARD
            if last_sent is not None and self.clock() >= due:
                previous, first = last_sent, False  # polling on: the last poll did not show it
            else:
                await self.clock.until(due)
                previous, first = self.clock(), True  # PostgreSQL replays it no sooner than this
            while True:
                sent = self.clock()
                version = int((await (await conn.execute("SELECT version FROM counter")).fetchone())[0])
                answered = self.clock()
                self.polls += 1
                last_sent = sent
                if version > shown:
                    if first:
                        self.censored += 1
                        self.censored_at.update((r, v) for v in range(shown + 1, version + 1))
                    at = (previous + answered) / 2
                    seen += [at] * (version - shown)
                    break
                previous, first = sent, False
                await asyncio.sleep(POLL)

    def lags(self, censored: bool = True) -> list[float]:
        """Seconds from each commit (as the client saw it) until each standby showed it (``censored=False``: only
        those whose instant is known: a poll before it did not show it)."""
        return [seen[k] - self.commit_time[k] for r, seen in enumerate(self.visible)
                for k in range(self.base + 1, min(len(seen), len(self.commit_time)))
                if censored or (r, k) not in self.censored_at]

    def visibility(self, commits: int) -> tuple[np.ndarray, np.ndarray]:
        """first and all visible by version (0..commits): the first and the last standby to show it."""
        first = np.full(commits + 1, math.nan)
        every = np.full(commits + 1, math.nan)
        for k in range(commits + 1):
            times = [seen[k] for seen in self.visible if len(seen) > k]
            if len(times) == len(self.visible):
                first[k], every[k] = min(times), max(times)
            elif times:
                first[k] = min(times)
        return first, every


class CrudReplicasBackend(Backend):
    architecture = "crud"

    def __init__(self, clock: Clock, scenario: Scenario, replication: int, primary: list, standbys: list[list],
                 watchers: list, delay: float):
        self.clock = clock
        crud = scenario.crud
        self.writers = Pool(primary)
        self.exclusive = crud.locking == "exclusive"
        self.pools = [Pool(conns) for conns in standbys]
        self.count = len(standbys)
        self.connections = crud.replica_connections
        self.outstanding = [0] * self.count
        self._route = router(crud.replica_routing, self.count, self.outstanding,
                             lambda kind: stream(scenario.seed, replication, f"crud.replicas.{kind}"), ties="past_pick")
        self.commit_time = [0.0]
        self.replay = Replay(clock, watchers, delay)

    @classmethod
    async def open(cls, clock: Clock, scenario: Scenario, replication: int, primary_dsn: str,
                   standby_dsns: list[str], delay: float) -> "CrudReplicasBackend":
        opened: list = []
        try:
            primary = await connect_many(primary_dsn, scenario.crud.connections)
            opened += primary
            standbys = []
            for dsn in standby_dsns:
                standbys.append(await connect_many(dsn, scenario.crud.replica_connections))
                opened += standbys[-1]
            watchers = []
            for dsn in standby_dsns:
                watchers += await connect_many(dsn, 1)
                opened.append(watchers[-1])
        except BaseException:
            await close_all(opened)
            raise
        return cls(clock, scenario, replication, primary, standbys, watchers, delay)

    def start(self) -> None:
        self.replay.clock = self.clock
        self.replay.start()

    async def close(self) -> None:
        await self.replay.stop()
        await close_all([*self.writers.items, *(c for pool in self.pools for c in pool.items), *self.replay.conns])

    async def query(self, key: int, query_time: float) -> tuple[float, int, int, int, int]:
        r = self._route()
        self.outstanding[r] += 1
        pool = self.pools[r]
        conn = await pool.get()
        try:
            start, seen, latest, key_version = await self._read(conn, key, query_time)
        finally:
            pool.put(conn)
            self.outstanding[r] -= 1
        return start, seen, latest, r, key_version

    async def write(self, keys, apply_time: float) -> tuple[float, float, int]:
        conn = await self.writers.get()
        try:
            start, commit, version = await self._apply(conn, apply_time, keys, schema.LOCK if self.exclusive else None)
        finally:
            self.writers.put(conn)
        self.committed(version, commit)
        self.replay.committed(version, commit)
        return start, commit, version

    async def settle(self) -> None:
        await self.replay.caught_up()

    def record_parts(self) -> dict:
        first, every = self.replay.visibility(self.commits)
        empty = np.empty(0)
        return {"first_visible": first, "all_visible": every,
                "swaps": {"replica": np.empty(0, np.int32), "out": empty, "back": empty, "version": np.empty(0, np.int64)},
                "capacity": self.count * self.connections, "write_weight": 0.0,
                "replica_count": self.count, "instances": 1 + self.count}


async def wait_for_database(standby_dsns: list[str], timeout: float) -> None:
    """Wait until a database created on the primary (each DSN names it) has been replayed on every standby."""
    import psycopg

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for dsn in standby_dsns:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5)
                await conn.close()
                break
            except psycopg.OperationalError:
                if loop.time() > deadline:
                    raise ServerError(f"a database did not reach every standby within {timeout:g} s") from None
                await asyncio.sleep(0.02)


def standbys_of(scenario: Scenario) -> tuple[int, float]:
    """(hot standbys, their apply delay in seconds) the scenario needs: CRUD's streaming replicas."""
    if "crud" in scenario.architectures and scenario.crud.replicas:
        return scenario.crud.replicas, apply_delay(scenario.crud.replication_lag)
    return 0, 0.0


async def measure_lags(primary, standby_dsns: list[str], delay: float, writes: int,
                       keys: Optional[list[int]]) -> np.ndarray:
    """Replay lags (seconds) of ``writes`` writes made one at a time on ``primary`` (a connection to a database
    every standby holds, at ``standby_dsns``), each followed until every standby shows it, as the run measures
    them (:class:`Replay`): ``writes`` × standbys values."""
    clock = Clock()
    base = int((await (await primary.execute("SELECT version FROM counter")).fetchone())[0])
    replay = Replay(clock, [(await connect_many(dsn, 1))[0] for dsn in standby_dsns], delay, base)
    replay.start()
    try:
        made = 0
        # a replay already visible at its first poll (the poller woke late on a busy machine) has no known instant:
        # it is left out, and another write measured in its place (up to twice as many writes in all)
        while len(replay.lags(censored=False)) < writes * len(standby_dsns) and made < 2 * writes:
            _, version = await write_transaction(primary, 0.0, keys=keys)
            replay.committed(version, clock())
            await replay.caught_up(version)
            made += 1
        if len(replay.lags(censored=False)) < writes * len(standby_dsns):
            raise ServerError(f"{replay.censored} of {made * len(standby_dsns)} replays were already visible at the "
                              "first poll (the machine is too busy to time them): their lag is unknown")
        return np.asarray(replay.lags(censored=False))
    finally:
        await replay.stop()
        await close_all(replay.conns)
