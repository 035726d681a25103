"""The simulated systems: a shared read front end and one back end per architecture.

The per-read path is driven by SimPy timeout callbacks and FIFO slot pools
(:class:`~cqrs_sim.model.slots.Slots`) rather than a process per request,
and every request writes into preallocated per-field lists. Rare events
(rollouts) are ordinary SimPy processes.
"""

from .record import RunRecord
from .run import run_architecture

__all__ = ["RunRecord", "run_architecture"]
