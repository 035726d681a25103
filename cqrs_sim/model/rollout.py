"""Rollouts: after a commit, replace replicas with snapshots of the write image.

Rollouts are serialized. ``trigger_delay`` after a commit a rollout starts
unless one is running (or every replica already holds that commit); if one
is running, one more follows it if any replica is still behind the newest
commit when it ends. A rollout ships the newest version
committed when it starts, to the replicas behind it, in index order:

* ``rolling`` (and ``all_at_once``, a rolling rollout with one batch of all
  replicas): ``batch_size`` replicas at a time leave the pool, drain
  (``drain: true``), are swapped for ``replace_time`` and rejoin; the next
  batch starts when the whole batch is back.
* ``rolling`` with ``max_surge`` > 0: ``max_surge`` new replicas are built
  beside the old ones (``replace_time`` each); as each is ready it takes its
  old replica's place at once (reads already running finish on the old one),
  so the pool never shrinks.
* ``blue_green``: a whole new set is built, ``build_parallelism`` replicas at
  a time, while the old set serves; then every replica switches at once.

A failed replica is not swapped: it comes back from the newest snapshot when
repaired (:mod:`.failures`), and a rollout follows if it still lacks a commit.

With ``on_write_during_rollout: restart`` each batch ships the newest version
committed when the batch starts, so replicas not yet swapped catch up in the
same rollout. Replicas built beside the old ones (surge, blue-green) are
recorded as extra instance time: the cost in ``replica_seconds``.

Rollouts handle the pool's ``members``: with an autoscaler a replica that
joins mid-rollout already holds the newest version, and one removed before
its batch is skipped, as a failed one is (``ReplicaPool.swappable``); a
member out of the pool for its lag (``max_lag``) is swapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..config.rollout import batch_size
from ..config.designs import Sync

if TYPE_CHECKING:
    from .frontend import Frontend
    from .replicas import ReplicaPool


def copy_stream(draw: int = 0) -> str:
    """The name of the stream the copy times (``replace_time``) are drawn from: the scenario's own (``draw`` 0), or
    another independent draw of them over the same workload (the same arrivals, query and apply times), so
    that a prediction can average the model over its copy times (:func:`cqrs_sim.experiments.simulate.simulate`'s
    ``copy_draw``)."""
    return "cqrs.replace_time" if draw == 0 else f"cqrs.replace_time.draw{draw}"


class Rollouts:
    """The rollout controller of one CQRS run, and the visibility it produces."""

    def __init__(self, replicas: "ReplicaPool", model: "Frontend", sync: Sync, rng: np.random.Generator):
        self.replicas = replicas
        self.model = model  #: for its ``commits``: the newest version
        self.env = model.env
        self.sync = sync
        self.rng = rng
        self.running = False
        self.pending = False
        #: first_visible[k], all_visible[k]: when version k first / fully reached the replicas
        self.first_visible: list[float] = [0.0]
        self.all_visible: list[float] = [0.0]
        #: (replica, out, back, version) per swap; out == back for a replica replaced in place
        self.swaps: list[tuple[int, float, float, int]] = []
        #: (start, end) of each replica instance built beside the old ones
        self.extra_instances: list[tuple[float, float]] = []

    def committed(self) -> None:
        delay = self.sync.trigger_delay
        if delay > 0:
            self.env.timeout(delay).callbacks.append(lambda _e: self._trigger())
        else:
            self._trigger()

    def _trigger(self) -> None:
        if self.running:
            self.pending = True  # decided when the rollout ends: is any replica still behind?
            return
        if self.replicas.lowest_version() >= self.model.commits:
            return  # already shipped everywhere
        self.running = True
        self.env.process(self._run())

    def _replace_time(self) -> float:
        return float(self.sync.replace_time.sample(self.rng, 1)[0])

    def _run(self):
        model, replicas = self.model, self.replicas
        while True:
            target = model.commits
            behind = [r for r in replicas.members if replicas.version[r] < target]
            if self.sync.strategy == "blue_green":
                yield from self._blue_green(target)
            else:
                group = batch_size(self.sync, len(replicas.members))
                for k in range(0, len(behind), group):
                    if self.sync.on_write_during_rollout == "restart":
                        target = max(target, model.commits)
                    batch = behind[k:k + group]
                    step = self._surge if self.sync.max_surge > 0 else self._swap
                    yield self.env.all_of([self.env.process(step(r, target)) for r in batch])
            again = self.pending and replicas.lowest_version() < model.commits
            self.pending = False
            if not again:
                self.running = False
                return

    def _swap(self, r: int, version: int):
        replicas = self.replicas
        if not replicas.swappable(r):
            return  # removed by the autoscaler since the rollout started, or failed (see the module docstring)
        out = self.env.now
        replicas.leave(r)
        if self.sync.drain and replicas.outstanding[r]:
            yield replicas.drained(r)
        yield self.env.timeout(self._replace_time())
        replicas.join(r, version)
        self._visible(r, out, version)

    def _surge(self, r: int, version: int):
        """Build a new instance beside replica r; when ready it takes r's place without leaving the pool."""
        if not self.replicas.swappable(r):
            return
        began = self.env.now
        yield self.env.timeout(self._replace_time())
        self.extra_instances.append((began, self.env.now))
        if r not in self.replicas.members:
            return  # removed by the autoscaler while its successor was built
        self.replicas.replace_in_place(r, version)
        self._visible(r, self.env.now, version)

    def _blue_green(self, version: int):
        count = len(self.replicas.members)
        group = batch_size(self.sync, count)

        def build():
            yield self.env.timeout(self._replace_time())

        ready = []
        for k in range(0, count, group):
            built = range(k, min(k + group, count))
            start = self.env.now
            yield self.env.all_of([self.env.process(build()) for _ in built])
            ready += [start] * len(built)
        switch = self.env.now
        self.extra_instances += [(start, switch) for start in ready]
        behind = [r for r in self.replicas.members if self.replicas.version[r] < version]
        for r in behind:
            self.replicas.replace_in_place(r, version)
        for r in behind:
            self._visible(r, switch, version)

    def rejoined(self, r: int, out: float, version: int) -> None:
        """Replica r, out since ``out`` after a failure, is back holding ``version``; a rollout follows if
        it (or any replica) still lacks a commit."""
        self._visible(r, out, version)
        self._trigger()

    def _visible(self, r: int, out: float, version: int) -> None:
        self.swaps.append((r, out, self.env.now, version))
        self.reached(version)

    def reached(self, version: int) -> None:
        """A replica in the pool now holds ``version``: record first and full visibility."""
        now = self.env.now
        while len(self.first_visible) <= version:
            self.first_visible.append(now)
        lowest = self.replicas.lowest_version()
        while len(self.all_visible) <= lowest:
            self.all_visible.append(now)
