"""What the testbed can play on PostgreSQL, and a located error for what it cannot."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import Problem, ScenarioError
from ..config.format import format_duration
from ..config.scenario import Scenario
from ..config.loader import _parse_yaml, _read_text
from . import schema
from .standbys import MAX_STANDBYS


#: CRUD-with-replicas settings the testbed's standbys do not play: (key, why)
REPLICA_KEYS = (
    ("read_your_writes_window", "the testbed routes every read to a standby; remove it"),
    ("max_lag", "the testbed's standbys stay in the pool however far behind; remove it"),
    ("replication_stalls", "the testbed's standbys replay without stalls; remove it"),
    ("failures", "the testbed's primary and standbys do not fail; remove it"),
    ("replica_autoscale", "the testbed starts a fixed set of standbys; remove it"),
)


def unsupported(scenario: Scenario, own_server: bool = True) -> list[tuple[str, str]]:
    """(dotted path, message) for every setting the testbed does not build on a real database (``own_server``
    False: on a server given by --dsn, which gets no standbys)."""
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
    if writes is not None and writes.read_back is not None and writes.read_back.after > scenario.duration:
        out.append(("workload.writes.read_back.after", f"is {format_duration(writes.read_back.after)}, longer than "
                                                       f"the run ({format_duration(scenario.duration)}): the testbed "
                                                       "plays in real time and would wait for it; use at most the "
                                                       "duration"))
    crud = scenario.crud
    if "crud" in scenario.architectures and crud.replicas:
        if not own_server:
            out.append(("crud.replicas", "streaming replicas are built only beside the embedded server: drop --dsn, "
                                         "or use 0"))
        if crud.replicas > MAX_STANDBYS:
            out.append(("crud.replicas", f"is {crud.replicas}: the testbed starts a PostgreSQL server of its own for "
                                         f"each standby, on this machine; use at most {MAX_STANDBYS}"))
        out += [(f"crud.{key}", why) for key, why in REPLICA_KEYS if getattr(crud, key) is not None]
        if crud.replica_routing == "sticky":
            out.append(("crud.replica_routing", "the testbed does not route a client to its own standby; use another"))
    if "cqrs" in scenario.architectures:
        replicas, sync = scenario.cqrs.replicas, scenario.cqrs.sync
        if replicas.cold_factor != 1:
            out.append(("cqrs.replicas.cold_factor", "a real replica's cache is what it is; use 1"))
        if sync.on_write_during_rollout != "queue":
            out.append(("cqrs.sync.on_write_during_rollout", "the testbed ships one snapshot per rollout; use queue"))
        if not sync.drain:
            out.append(("cqrs.sync.drain", "a replica's database is dropped only once its reads finish; use true"))
    return out + _unsupported_work(scenario)


def _unsupported_work(scenario: Scenario) -> list[tuple[str, str]]:
    """What ``testbed.work: queries`` cannot play: CQRS (its copies ship no items), or more items than it builds."""
    if scenario.testbed.work != "queries":
        return []
    out = []
    if "cqrs" in scenario.architectures:
        out.append(("testbed.work", "real queries are played by the crud design only; use architectures: [crud] or "
                                    "work: sleep"))
        if "crud" not in scenario.architectures:
            return out  # nothing else is played: how many items does not matter
    if "crud" in scenario.architectures and scenario.crud.replicas:
        out.append(("testbed.work", "real queries are played on the primary only, not on streaming replicas; use "
                                    "crud.replicas: 0 or work: sleep"))
    items = schema.rows(scenario) * scenario.testbed.items_per_key
    if items > schema.ITEMS_MAX:
        out.append(("testbed.items_per_key", f"{schema.rows(scenario)} rows × {scenario.testbed.items_per_key} items "
                                             f"is {items} rows of items, above {schema.ITEMS_MAX}; use fewer"))
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


def check_supported(scenario: Scenario, source: str, dsn: str | None = None) -> None:
    """Raise :class:`ScenarioError` (one located line per setting) for what the testbed cannot play (on the
    server at ``dsn``, or an embedded one)."""
    problems = []
    for path, message in unsupported(scenario, own_server=dsn is None):
        line, col = _position(source, path)
        problems.append(Problem(source, line, col, path, f"not supported by the testbed: {message}"))
    if problems:
        raise ScenarioError(problems)
