"""Writers reading their own writes back (``workload.writes.read_back``), drawn as the model draws them.

The model decides, at each commit in commit order, whether the writer reads
the write back (stream ``write.read_back``), and when the read-back is sent
(``after`` the commit) draws its handler and query time (stream
``write.read_back.times``; the design's own query time coupled at the same
quantile, stream ``write.read_back.coupling``). Read-backs are sent in
commit order, since ``after`` is one constant, so drawing both per version,
in version order, gives the model's numbers whatever order the testbed's
writes happen to finish in. A read-back reads the write's first key as the
writer's client and goes through the same handlers and servers as any
read; it is recorded apart (version, arrival, start, finish, the data
version it saw), as the model records it, for ``read_your_writes_violations``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..config.distributions import couple
from ..config.scenario import Scenario, query_time_of
from ..workload.streams import stream


class ReadBacks:
    """Which versions are read back, and each one's handler and query time."""

    def __init__(self, scenario: Scenario, replication: int, architecture: str):
        writes = scenario.workload.writes
        self.config = writes.read_back if writes is not None else None
        self.rows: list[tuple[int, float, float, float, int]] = []  #: version, arrival, start, finish, version seen
        self._draws: list[Optional[tuple[float, float]]] = [None]  #: by version: (handler, query time) or None
        if self.config is not None:
            self.reads = scenario.workload.reads
            self.own = query_time_of(scenario, architecture)
            self.rng = stream(scenario.seed, replication, "write.read_back")
            self.times = stream(scenario.seed, replication, "write.read_back.times")
            self.coupling = stream(scenario.seed, replication, "write.read_back.coupling")

    @property
    def after(self) -> float:
        return self.config.after if self.config is not None else 0.0

    def of(self, version: int) -> Optional[tuple[float, float]]:
        """(handler time, query time) of version ``version``'s read-back, or None when it is not read back."""
        if self.config is None:
            return None
        while len(self._draws) <= version:
            if self.rng.random() < self.config.probability:
                handler = float(self.reads.handler_time.sample(self.times, 1)[0])
                query = self.reads.query_time.sample(self.times, 1)
                if self.own != self.reads.query_time:
                    query = couple(query, self.reads.query_time, self.own, self.coupling)
                self._draws.append((handler, float(query[0])))
            else:
                self._draws.append(None)
        return self._draws[version]

    def columns(self) -> dict[str, np.ndarray]:
        rows = sorted(self.rows)
        return {"version": np.asarray([r[0] for r in rows], dtype=np.int64),
                "arrival": np.asarray([r[1] for r in rows], dtype=float),
                "start": np.asarray([r[2] for r in rows], dtype=float),
                "finish": np.asarray([r[3] for r in rows], dtype=float),
                "version_seen": np.asarray([r[4] for r in rows], dtype=np.int64)}
