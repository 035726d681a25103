"""cqrs-sim: does CQRS with a swarm of read replicas beat a single CRUD database for your workload?

A discrete-event simulator on SimPy. ``load_scenario`` reads a YAML scenario,
``simulate`` runs every architecture and replication on common random
numbers, and the returned :class:`Results` holds tidy pandas tables.

The names below are imported on first use, so that ``import cqrs_sim`` (and
the ``cqrs-sim`` command's start) stays cheap: pandas, SciPy, SimPy and
matplotlib load only when a simulation or its results need them.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import Problem, ScenarioError

if TYPE_CHECKING:
    from .loader import load_scenario
    from .results import Results, load_results
    from .scenario import Scenario
    from .simulate import simulate

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "load_scenario": ".loader",
    "Results": ".results",
    "load_results": ".results",
    "Scenario": ".scenario",
    "simulate": ".simulate",
}

#: subpackages reachable as attributes (``cqrs_sim.plots.latency_cdf``) without their own import
_SUBMODULES = ("plots", "explore")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])


class _Package(types.ModuleType):
    """Importing the submodule ``cqrs_sim.simulate`` must not hide the function ``cqrs_sim.simulate``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = ["Problem", "Results", "Scenario", "ScenarioError", "load_results", "load_scenario", "simulate", "__version__"]
