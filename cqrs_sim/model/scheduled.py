"""Scheduled failures (``failures.scheduled``), and instances that several causes hold down at once.

A scheduled failure takes one named instance down at ``at`` for ``for``
seconds, at the same time in every replication and in both designs, so the
difference between designs (and between replications) is the workload's
randomness alone. It draws nothing random (a CQRS replica's snapshot load
after the repair draws ``cqrs.sync.replace_time`` from a stream of its own),
so adding one moves no other stream.

Targets (the grammar lives here, with its checks in :func:`schedule_problems`):
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
import re
from typing import TYPE_CHECKING, Callable, Iterator, Optional

if TYPE_CHECKING:
    from ..scenario import Scenario
    from .frontend import Frontend

_TARGET = re.compile(r"^(?:(cqrs|crud)\.)?(replicas|write_servers|primary)(?:\.(\d+))?$")

#: one row of a run's outage log: (instance, cause, down, up); up is NaN for a skipped failure
Outage = tuple[str, str, float, float]


def targets(scenario: "Scenario", target: str, architectures: Optional[list[str]] = None) -> list[tuple[str, str, int]]:
    """The (architecture, role, index) instances ``target`` names among ``architectures`` (default: the
    scenario's); role is ``replicas``, ``write_servers`` or ``primary``. Raises ValueError with the reason."""
    match = _TARGET.match(target.strip())
    if match is None:
        raise ValueError(f"unknown target {target!r}: give cqrs.replicas.N, cqrs.write_servers.N, crud.primary, "
                         "crud.replicas.N or replicas.N")
    design, role, number = match.groups()
    architectures = scenario.architectures if architectures is None else architectures
    if role == "primary":
        if design != "crud" or number is not None:
            raise ValueError(f"unknown target {target!r}: the CRUD primary is crud.primary")
        return [("crud", "primary", 0)] if "crud" in architectures else []
    if number is None:
        raise ValueError(f"target {target!r} needs an instance number, such as {target}.0")
    if role == "write_servers" and design != "cqrs":
        raise ValueError(f"unknown target {target!r}: write servers are CQRS's, cqrs.write_servers.N")
    index = int(number)
    sizes = {("cqrs", "replicas"): scenario.cqrs.replicas.count, ("crud", "replicas"): scenario.crud.replicas,
             ("cqrs", "write_servers"): scenario.cqrs.write_servers}
    designs = [design] if design is not None else [a for a in ("cqrs", "crud") if sizes[(a, role)] > 0]
    found = []
    for architecture in designs:
        size = sizes[(architecture, role)]
        if index >= size:
            raise ValueError(f"{architecture} has {size} {role.replace('_', ' ')}" + (" (numbered from 0)" if size else ""))
        if architecture in architectures:
            found.append((architecture, role, index))
    return found


def schedule_problems(scenario: "Scenario") -> list[tuple[str, str]]:
    """Each scheduled failure names instances that exist. (One at or after ``duration`` is allowed and does not
    happen, as no random failure starts then: a scenario shortened with ``--set duration=`` still runs.)"""
    problems = []
    assert scenario.failures is not None
    for k, fault in enumerate(scenario.failures.scheduled):
        path = f"failures.scheduled.{k}"
        try:
            targets(scenario, fault.target)
        except ValueError as error:
            problems.append((f"{path}.target", str(error)))
    return problems


def scheduled_roles(scenario: "Scenario", architecture: str) -> set[str]:
    """The roles (``replicas``, ``write_servers``, ``primary``) of ``architecture`` that a scheduled failure hits."""
    if scenario.failures is None:
        return set()
    return {role for fault in scenario.failures.scheduled
            for design, role, _ in targets(scenario, fault.target, [architecture])}


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
