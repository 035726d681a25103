"""Scheduled failures (``failures.scheduled``), and instances that several causes hold down at once.

A scheduled failure takes one named instance down at ``at`` for ``for``
seconds, at the same time in every replication and in both designs, so the
difference between designs (and between replications) is the workload's
randomness alone. It draws nothing random (a CQRS replica's snapshot load
after the repair draws ``cqrs.sync.replace_time`` from a stream of its own),
so adding one moves no other stream.

Targets (their grammar and checks live in :mod:`cqrs_sim.config.targets`):
``cqrs.replicas.N``, ``cqrs.write_servers.N``, ``crud.primary``,
``crud.replicas.N``, and ``replicas.N`` (replica N of every simulated design
that has read replicas). N is the instance's number: the replica (or write
server) index at the start. A failure at or after ``duration`` does not
happen (no random failure starts then either).

One instance may be held down by a random failure (``mtbf``/``mttr``) and a
scheduled one at once: :class:`Instance` takes it down at the first cause
and brings it back when the last one lets go (then a CQRS replica loads its
snapshot). What happens to an instance that fails is the model's, as for a
random failure (:mod:`.failures`); as there, a CQRS replica out of the pool
for a rollout swap when its failure comes does not fail (that instance was
being replaced anyway): the outage log records the scheduled failure as
``skipped``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Iterator

from ..config.targets import scheduled_roles, targets

if TYPE_CHECKING:
    from .frontend import Frontend

__all__ = ["Instance", "Outage", "scheduled_roles", "targets"]

#: one row of a run's outage log: (instance, cause, down, up); up is NaN for a skipped failure
Outage = tuple[str, str, float, float]


class Instance:
    """One instance that causes (its random failures, scheduled ones) hold down: it goes down at the first cause
    and comes back when the last lets go. ``go_down()`` returns False when it cannot fail now (then no cause
    holds it); ``come_back(since)`` brings it back (a generator when that takes time)."""

    def __init__(self, model: "Frontend", name: str, go_down: Callable[[], bool],
                 come_back: Callable[[float], Iterator | None]):
        self.model = model
        self.name = name
        self._go_down = go_down
        self._come_back = come_back
        self.holds = 0  #: causes holding it down now
        self.since = math.nan  #: when it last went down
        self.causes: list[str] = []  #: what held it down in the current outage
        self.returning = False  #: its come-back (a snapshot load) is under way

    def down(self, cause: str) -> bool:
        if not self.holds and not self.returning:
            if not self._go_down():
                return False
            self.since = self.model.env.now
            self.causes = []
        self.holds += 1
        if cause not in self.causes:
            self.causes.append(cause)
        return True

    def up(self) -> Iterator | None:
        """One cause lets go; the last one brings the instance back (a generator to run when that takes time)."""
        self.holds -= 1
        if self.holds or self.returning:
            return None
        back = self._come_back(self.since)
        if back is None:
            self._log()
            return None
        return self._returning(back)

    def _returning(self, back: Iterator):
        self.returning = True
        yield from back
        self.returning = False
        self._log()
        if self.holds:  # a cause took it down again while it was coming back
            self._go_down()
            self.since = self.model.env.now
            self.causes = []

    def _log(self) -> None:
        self.model.outage_log.append((self.name, "+".join(self.causes), self.since, self.model.env.now))


def instance(model: "Frontend", name: str, go_down: Callable[[], bool],
             come_back: Callable[[float], Iterator | None]) -> Instance:
    """The model's instance ``name``, made with these actions if it is new (random failures and a schedule share it)."""
    found = model.fault_instances.get(name)
    if found is None:
        found = model.fault_instances[name] = Instance(model, name, go_down, come_back)
    return found


def start(model: "Frontend", make: Callable[[str, int], Instance]) -> None:
    """Start the scenario's scheduled failures of ``model``'s design; ``make(role, index)`` gives the instance."""
    scenario = model.scenario
    if scenario.failures is None:
        return
    for fault in scenario.failures.scheduled:
        if fault.at >= scenario.duration:
            continue  # arrivals have stopped: no failure starts then
        for _, role, index in targets(scenario, fault.target, [model.architecture]):
            model.env.process(_scheduled(model, make(role, index), fault.at, fault.for_))


def _scheduled(model: "Frontend", target: Instance, at: float, length: float):
    env = model.env
    yield env.timeout(at)
    if not target.down("scheduled"):
        model.outage_log.append((target.name, "scheduled (skipped)", env.now, math.nan))
        return
    yield env.timeout(length)
    back = target.up()
    if back is not None:
        yield from back
