"""The scenario with every default filled in, as plain data for YAML (``scenario.yaml`` of a result)."""

from __future__ import annotations

from typing import Any

from .scenario import Scenario
from .testbed import Testbed


def _dist_first(node: Any) -> Any:
    """Distribution mappings read best with ``dist`` first."""
    if isinstance(node, dict):
        node = {k: _dist_first(v) for k, v in node.items()}
        if "dist" in node:  # unused alternatives (an empirical distribution's file or samples) are left out
            node = {"dist": node["dist"], **{k: v for k, v in node.items() if k != "dist" and v is not None}}
        return node
    if isinstance(node, list):
        return [_dist_first(v) for v in node]
    return node


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, as plain data for YAML; the ``testbed`` section (which the
    simulator ignores) only when it is not the default, so a simulated scenario resolves, and hashes, as before."""
    dumped = scenario.model_dump(mode="json", by_alias=True)
    data = _dist_first(dumped)
    if "sweep" in dumped:  # a sweep's values are override values, written back as given (not read as distributions)
        data["sweep"] = dumped["sweep"]
    if scenario.testbed == Testbed():
        del data["testbed"]
    rate = scenario.workload.reads.rate
    if isinstance(rate, list):
        data["workload"]["reads"]["rate"] = [list(step) for step in rate]
    else:  # the shape as given: by its peak, or by its (wrapped) phase
        shape = data["workload"]["reads"]["rate"]["diurnal"]
        del shape["phase" if rate.diurnal.peak is not None else "peak"]
    if data["workload"]["writes"] is not None:
        data["workload"]["writes"] = {k: v for k, v in data["workload"]["writes"].items() if v is not None}
    else:
        del data["workload"]["writes"]
    reads = data["workload"]["reads"]
    if reads["trace"] is None:
        del reads["trace"]
    else:  # what the trace gives is not written twice (derived rate, measured query times)
        del reads["rate"]
        if scenario.workload.reads.trace.query_time is not None:  # type: ignore[union-attr]
            del reads["query_time"]
    for section in (reads, data["workload"].get("writes") or {}):
        if section.get("trace") is not None:
            section["trace"] = {k: v for k, v in section["trace"].items() if v is not None}
    return data
