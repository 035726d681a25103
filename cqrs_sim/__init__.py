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
from importlib.abc import Loader, MetaPathFinder
from importlib.util import spec_from_loader
from typing import TYPE_CHECKING, Any

from .core.errors import Problem, ScenarioError

if TYPE_CHECKING:
    from .config.loader import load_scenario
    from .io.results import Results, load_results
    from .config.scenario import Scenario
    from .experiments.simulate import simulate

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "load_scenario": ".config.loader",
    "Results": ".io.results",
    "load_results": ".io.results",
    "Scenario": ".config.scenario",
    "simulate": ".experiments.simulate",
}

#: public module paths -> the module that holds them: ``cqrs_sim.present.plots.latency_cdf`` works without its own
#: import, and ``from cqrs_sim.present.plots import latency_cdf`` or ``from cqrs_sim.experiments.designs import side_by_side`` as well
_PUBLIC_MODULES = {"plots": ".present.plots", "designs": ".experiments.designs"}
#: modules reachable as attributes without their own import (``cqrs_sim.explore.Explorer``)
_SUBMODULES = (*_PUBLIC_MODULES, "explore")


class _PublicPaths(MetaPathFinder, Loader):
    """``cqrs_sim.present.plots[.x]`` imports as the very module ``cqrs_sim.present.plots[.x]`` (no second copy)."""

    specs: dict[str, Any] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        root, _, rest = fullname.partition(".")
        public, _, tail = rest.partition(".")
        if root != __name__ or public not in _PUBLIC_MODULES:
            return None
        return spec_from_loader(fullname, self)

    def create_module(self, spec):
        public, _, tail = spec.name.partition(".")[2].partition(".")
        module = import_module(_PUBLIC_MODULES[public] + (f".{tail}" if tail else ""), __name__)
        self.specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self.specs[module.__name__]  # executed already: it keeps its own spec


sys.meta_path.insert(0, _PublicPaths())


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(_PUBLIC_MODULES.get(name, f".{name}"), __name__)
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
