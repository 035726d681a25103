"""What the scheduled failures (``failures.scheduled``) do to the offered load, for ``check``'s warnings.

At the start of each scheduled failure, every instance a scheduled failure
holds down at that instant is out; a read pool keeps the connections of its
other members. Its utilisation there is the highest read rate the scenario
sets while the failure lasts × the mean query time / the connections left.
A pool at or above 1 then is named, as is a design left with no instance to
read from or to write to. (Random failures, ``mtbf``/``mttr``, come and go at
random: the run shows them; rollouts taking CQRS replicas out are not counted.)
"""

from __future__ import annotations

from ..config.expected import peak_read_rate_between
from ..config.format import format_duration
from ..config.scenario import Scenario, query_time_of
from ..config.targets import targets

def _pools(scenario: Scenario) -> dict[tuple[str, str], tuple[int, int]]:
    """(architecture, role) of each read pool: (its members, connections per member)."""
    crud, cqrs = scenario.crud, scenario.cqrs
    pools = {("cqrs", "replicas"): (cqrs.replicas.count, cqrs.replicas.connections)}
    pools[("crud", "replicas") if crud.replicas else ("crud", "primary")] = (
        (crud.replicas, crud.replica_connections) if crud.replicas else (1, crud.connections))
    return pools


def failure_warnings(scenario: Scenario) -> list[str]:
    """One line per read pool that a scheduled failure overloads (utilisation >= 1 while it lasts) or empties, and
    per design left unable to take writes; none without scheduled failures."""
    if scenario.failures is None or not scenario.failures.scheduled:
        return []
    faults = [(f.at, f.at + f.for_, f.target, set(targets(scenario, f.target))) for f in scenario.failures.scheduled
              if f.at < scenario.duration]
    pools = _pools(scenario)
    out: list[str] = []
    seen: set[tuple] = set()
    for start, _, _, _ in sorted(faults):
        holding = [fault for fault in faults if fault[0] <= start < fault[1]]
        down = set().union(*(fault[3] for fault in holding))
        end = min(fault[1] for fault in holding)  # until the first of them is repaired
        when = f"{format_duration(start)}–{format_duration(end)}"
        names = ", ".join(dict.fromkeys(fault[2] for fault in holding))
        verb = "is" if len(holding) == 1 else "are"
        for (arch, role), (members, connections) in pools.items():
            out_now = sum(1 for a, r, _ in down if (a, r) == (arch, role))
            if arch not in scenario.architectures or not out_now or ("read", arch, role, start) in seen:
                continue
            seen.add(("read", arch, role, start))
            left = (members - out_now) * connections
            tier = "read replicas" if (arch, role) == ("crud", "replicas") else (
                "replica pool" if arch == "cqrs" else "database")
            if left <= 0:
                out.append(f"{arch} {tier}: no instance left to read from while {names} {verb} down ({when}, "
                           "failures.scheduled): reads wait or fail while it lasts")
                continue
            rate = peak_read_rate_between(scenario, start, end)
            rho = rate * query_time_of(scenario, arch).mean / left
            if rho >= 1:
                out.append(f"{arch} {tier}: utilisation {rho:.2f} >= 1 while {names} {verb} down ({when}, "
                           f"failures.scheduled: {left} connections left at up to {rate:,.4g} reads/s): queues grow "
                           "while it lasts, and timeouts with retries can keep the pool overloaded after the repair")
        writers = [("cqrs", "write_servers", scenario.cqrs.write_servers), ("crud", "primary", 1)]
        for arch, role, size in writers:
            if arch in scenario.architectures and sum(1 for a, r, _ in down if (a, r) == (arch, role)) >= size \
                    and ("write", arch, role, start) not in seen:
                seen.add(("write", arch, role, start))
                out.append(f"{arch}: no instance left to take writes while {names} {verb} down ({when}, "
                           "failures.scheduled): writes wait")
    return out
