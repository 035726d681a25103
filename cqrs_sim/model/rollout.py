"""Rollouts: after a commit, replace replicas with snapshots of the write image.

Rollouts are serialized. ``trigger_delay`` after a commit a rollout starts
unless one is running; if one is, exactly one more follows it. A rollout
ships the newest version committed when it starts, so writes committing
during a rollout ship together in the next one; a trigger whose version
has already been shipped starts nothing. A rolling rollout replaces
replicas in index order, ``batch_size`` at a time: each leaves the pool,
drains (``drain: true``), is swapped for ``replace_time`` and rejoins with
the new version; the next batch starts when the whole batch is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..scenario import Sync

if TYPE_CHECKING:
    from .cqrs import CqrsModel


class Rollouts:
    """The rollout controller of one CQRS run, and the visibility it produces."""

    def __init__(self, model: "CqrsModel", sync: Sync, rng: np.random.Generator):
        self.model = model
        self.env = model.env
        self.sync = sync
        self.rng = rng
        count = model.replica_count
        size = count if sync.strategy == "all_at_once" else sync.batch_size
        self.batches = [list(range(k, min(k + size, count))) for k in range(0, count, size)]
        self.running = False
        self.pending = False
        self.shipped = 0  #: newest version a rollout has started to ship
        self.drain_events: list = [None] * count
        #: first_visible[k], all_visible[k]: when version k first / fully reached the replicas
        self.first_visible: list[float] = [0.0]
        self.all_visible: list[float] = [0.0]
        #: (replica, out, back, version) per swap
        self.swaps: list[tuple[int, float, float, int]] = []
        #: (start, end, version) per rollout
        self.spans: list[tuple[float, float, int]] = []

    def committed(self) -> None:
        delay = self.sync.trigger_delay
        if delay > 0:
            self.env.timeout(delay).callbacks.append(lambda _e: self._trigger())
        else:
            self._trigger()

    def _trigger(self) -> None:
        if self.model.commits <= self.shipped:
            return
        if self.running:
            self.pending = True
            return
        self.running = True
        self.env.process(self._run())

    def _run(self):
        while True:
            target = self.model.commits
            self.shipped = target
            began = self.env.now
            for batch in self.batches:
                yield self.env.all_of([self.env.process(self._swap(r, target)) for r in batch])
            self.spans.append((began, self.env.now, target))
            if self.pending and self.model.commits > self.shipped:
                self.pending = False
                continue
            self.pending = False
            self.running = False
            return

    def _swap(self, r: int, version: int):
        model = self.model
        out = self.env.now
        model.leave(r)
        if self.sync.drain and model.outstanding[r]:
            self.drain_events[r] = self.env.event()
            yield self.drain_events[r]
        yield self.env.timeout(float(self.sync.replace_time.sample(self.rng, 1)[0]))
        model.join(r, version)
        now = self.env.now
        self.swaps.append((r, out, now, version))
        while len(self.first_visible) <= version:
            self.first_visible.append(now)
        lowest = min(model.version)
        while len(self.all_visible) <= lowest:
            self.all_visible.append(now)

    def drained(self, r: int) -> None:
        event = self.drain_events[r]
        if event is not None:
            self.drain_events[r] = None
            event.succeed()
