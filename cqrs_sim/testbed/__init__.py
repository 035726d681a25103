"""The testbed: a scenario played in real time against a real PostgreSQL server.

``run_testbed(scenario)`` starts an embedded server (or uses ``dsn``),
plays every replication of every architecture with the simulation's own
random numbers (so measured and simulated runs are paired), and returns
:class:`~cqrs_sim.io.results.Results` written like ``simulate``'s.
Modules: :mod:`.server` (the server and the run's own databases),
:mod:`.schema` (the tables and the SQL), :mod:`.client` (arrivals, load
balancer, handlers), :mod:`.crud` and :mod:`.cqrs` (the two designs on
PostgreSQL), :mod:`.snapshot` (a rollout's snapshot and real copies),
:mod:`.measure` (client overhead), :mod:`.support` (what it can play),
:mod:`.run` (putting it together), :mod:`.calibrate` (the parts measured
and fitted) and :mod:`.predict` (the prediction beside the measurement,
and the negative controls).

May import: experiments (to predict what it measures: fits and simulations), io, present, analysis, model, workload, config, core.
"""

from .run import run_testbed
from .server import ServerError

__all__ = ["run_testbed", "ServerError"]
