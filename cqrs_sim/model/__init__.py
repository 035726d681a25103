"""The simulated systems: a shared read front end and one back end per architecture.

The per-read path is driven by SimPy timeout callbacks and FIFO slot pools
(:class:`~cqrs_sim.model.slots.Slots`) rather than a process per request,
and every request writes into preallocated per-field lists. Rare events
(rollouts) are ordinary SimPy processes.

May import: workload, config, core.
"""

from importlib import import_module
from typing import Any

__all__ = ["RunRecord", "run_architecture"]
_HOMES = {"RunRecord": ".record", "run_architecture": ".run"}


def __getattr__(name: str) -> Any:
    """Load the model on first use: ``cqrs-sim check`` needs none of it, nor SimPy."""
    if name in _HOMES:
        return getattr(import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
