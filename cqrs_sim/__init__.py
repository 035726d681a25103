"""cqrs-sim: does CQRS with a swarm of read replicas beat a single CRUD database for your workload?

A discrete-event simulator on SimPy. ``load_scenario`` reads a YAML scenario,
``simulate`` runs every architecture and replication on common random
numbers, and the returned :class:`Results` holds tidy pandas tables.
"""

from .errors import Problem, ScenarioError
from .loader import load_scenario
from .results import Results, load_results
from .scenario import Scenario
from .simulate import simulate

__version__ = "0.1.0"

__all__ = ["Problem", "Results", "Scenario", "ScenarioError", "load_results", "load_scenario", "simulate", "__version__"]
