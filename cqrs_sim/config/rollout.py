"""The rollout policy as a scenario sets it: how many replicas one rollout step takes together.

One rule for the simulated rollouts (:mod:`cqrs_sim.model.rollout`), the
testbed's (:mod:`cqrs_sim.testbed.cqrs`) and the expected rollout length
(:mod:`cqrs_sim.analysis.analytic`).
"""

from __future__ import annotations

from .designs import Sync


def batch_size(sync: Sync, count: int) -> int:
    """Replicas of ``count`` a rollout handles together: all of them (``all_at_once``), ``build_parallelism``
    new ones built at once (``blue_green``), ``max_surge`` new ones (``rolling`` with surge), else ``batch_size``."""
    if sync.strategy == "all_at_once":
        size = count
    elif sync.strategy == "blue_green":
        size = sync.build_parallelism
    else:
        size = sync.max_surge if sync.max_surge > 0 else sync.batch_size
    return min(size, count)
