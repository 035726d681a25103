"""Which instance a scheduled failure names (``failures.scheduled[].target``): the grammar and its checks.

``cqrs.replicas.N``, ``cqrs.write_servers.N``, ``crud.primary``,
``crud.replicas.N``, and ``replicas.N`` (replica N of every simulated design
that has read replicas); N is the instance's number from 0. The model
(:mod:`cqrs_sim.model.scheduled`) takes these instances down.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .scenario import Scenario

_TARGET = re.compile(r"^(?:(cqrs|crud)\.)?(replicas|write_servers|primary)(?:\.(\d+))?$")


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
