"""What the testbed can play on PostgreSQL, and a located error for what it cannot."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import Problem, ScenarioError
from ..config.scenario import Scenario
from ..config.loader import _parse_yaml, _read_text


def unsupported(scenario: Scenario) -> list[tuple[str, str]]:
    """(dotted path, message) for every setting the testbed does not build on a real database."""
    out = []
    reads = scenario.workload.reads
    if reads.timeout is not None:
        out.append(("workload.reads.timeout", "the testbed's clients do not time out or retry; remove it"))
    write_keys = scenario.workload.write_keys
    if write_keys is not None and write_keys.choose == "new":
        out.append(("workload.writes.keys.choose", "the testbed's table holds a fixed set of keys; use popularity or "
                                                   "uniform"))
    if scenario.load_balancer == "sticky":
        out.append(("load_balancer", "the testbed does not route a client to its own handler; use another"))
    if "cqrs" in scenario.architectures and scenario.cqrs.replicas.routing == "sticky":
        out.append(("cqrs.replicas.routing", "the testbed does not route a client to its own replica; use another"))
    writes = scenario.workload.writes
    if writes is not None and writes.read_back is not None:
        out.append(("workload.writes.read_back", "the testbed does not play read-backs; remove it"))
    if "crud" in scenario.architectures and scenario.crud.replicas:
        out.append(("crud.replicas", "the testbed does not build streaming replicas; use 0"))
    if "cqrs" in scenario.architectures:
        replicas, sync = scenario.cqrs.replicas, scenario.cqrs.sync
        if replicas.cold_factor != 1:
            out.append(("cqrs.replicas.cold_factor", "a real replica's cache is what it is; use 1"))
        if sync.on_write_during_rollout != "queue":
            out.append(("cqrs.sync.on_write_during_rollout", "the testbed ships one snapshot per rollout; use queue"))
        if not sync.drain:
            out.append(("cqrs.sync.drain", "a replica's database is dropped only once its reads finish; use true"))
    return out


def _position(file: str, path: str) -> tuple[int, int]:
    """Line and column of ``path``'s key in ``file`` (0, 0 when it is not written there: a default)."""

    try:
        node = _parse_yaml(_read_text(Path(file)), file)
    except ScenarioError:
        return 0, 0
    line = col = -1
    for part in path.split("."):
        if not hasattr(node, "lc") or not isinstance(node, dict) or part not in node:
            return (line + 1, col + 1) if line >= 0 else (0, 0)
        line, col = node.lc.key(part)
        node = node[part]
    return line + 1, col + 1


def check_supported(scenario: Scenario, source: str) -> None:
    """Raise :class:`ScenarioError` (one located line per setting) for what the testbed cannot play."""
    problems = []
    for path, message in unsupported(scenario):
        line, col = _position(source, path)
        problems.append(Problem(source, line, col, path, f"not supported by the testbed: {message}"))
    if problems:
        raise ScenarioError(problems)
