"""The prediction beside the measurement, and the negative controls that show the comparison can disagree.

:func:`prediction_table` puts a simulation of the calibrated scenario (the
prediction, A) beside a testbed run of the scenario (the measurement, B)
with the agreement targets of :data:`cqrs_sim.compare.TARGETS`.

A comparison is evidence only if a wrong model fails it. :data:`CONTROLS`
lists, per design, deliberately wrong predictions: the calibrated scenario
with one part changed (a lock it does not take, a copy time halved…). :func:`negative_controls` simulates each and reports the targets
it misses; :func:`smallest_detected` finds, for one part scaled by growing
factors, the smallest error the comparison rejects (its power).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import pandas as pd

from ..compare import agreement_failures, compare_results
from ..results import Results
from ..scenario import Scenario


def prediction_table(prediction: Results, measured: Results) -> pd.DataFrame:
    """:func:`cqrs_sim.compare.compare_results` of the prediction (A) and the measurement (B), targets judged."""
    return compare_results(prediction, measured)


def _scaled(spec: Any, factor: float) -> Any:
    """A distribution (as plain data) with every time multiplied by ``factor``."""
    if isinstance(spec, dict):
        return {k: (v * factor if k in ("mean", "scale", "value") and isinstance(v, (int, float)) else
                    [x * factor for x in v] if k == "samples" and isinstance(v, list) else _scaled(v, factor))
                for k, v in spec.items()}
    if isinstance(spec, list):
        return [_scaled(x, factor) for x in spec]
    return spec


def changed(scenario: Scenario, key: str, factor: Optional[float] = None, value: Any = None) -> Scenario:
    """``scenario`` with ``key`` (dotted) scaled by ``factor`` (a distribution or a number) or set to ``value``."""
    from ..scenario import resolved_dict

    data = resolved_dict(scenario)
    *parents, leaf = key.split(".")
    node = data
    for name in parents:
        node = node[name]
    if factor is not None:
        node[leaf] = node[leaf] * factor if isinstance(node[leaf], (int, float)) else _scaled(node[leaf], factor)
    else:
        node[leaf] = value
    return Scenario.model_validate(data, context={"base": "."})


@dataclass(frozen=True)
class Control:
    """A deliberately wrong prediction: the calibrated scenario with one part changed."""

    label: str
    key: str
    factor: Optional[float] = None
    value: Any = None

    def scenario(self, fitted: Scenario) -> Scenario:
        return changed(fitted, self.key, self.factor, self.value)


#: per design: wrong predictions every shipped testbed scenario of that design must reject
CONTROLS: dict[str, tuple[Control, ...]] = {
    "crud": (Control("mvcc instead of the exclusive lock", "crud.locking", value="mvcc"),
             Control("write apply time halved", "crud.apply_time", factor=0.5),
             Control("read query time doubled", "crud.query_time", factor=2.0)),
    "cqrs": (Control("copy time halved", "cqrs.sync.replace_time", factor=0.5),
             Control("rollouts ship a version late (on_write_during_rollout: restart)", "cqrs.sync.on_write_during_rollout",
                     value="restart"),
             Control("read query time doubled", "cqrs.replicas.query_time", factor=2.0)),
}

#: per design: the parts scaled to find the comparison's power
POWER_KEYS = {"crud": ("crud.apply_time", "crud.query_time"),
              "cqrs": ("cqrs.sync.replace_time", "cqrs.replicas.query_time")}
#: the factors tried, nearest to 1 first on each side
POWER_FACTORS = (1.05, 0.95, 1.1, 0.9, 1.2, 0.8, 1.3, 0.7, 1.5, 0.5, 2.0)


def _simulate(scenario: Scenario) -> Results:
    from ..simulate import simulate

    return simulate(scenario, jobs=1)


def negative_controls(fitted: Scenario, measured: Results,
                      simulate: Callable[[Scenario], Results] = _simulate) -> list[tuple[Control, list[str]]]:
    """Each control of ``fitted``'s designs, with the agreement targets its prediction misses against ``measured``
    (an empty list: the control was not rejected)."""
    out = []
    for arch in fitted.architectures:
        for control in CONTROLS.get(arch, ()):
            table = prediction_table(simulate(control.scenario(fitted)), measured)
            out.append((control, agreement_failures(table[table["architecture"] == arch])))
    return out


def smallest_detected(fitted: Scenario, measured: Results, key: str, factors=POWER_FACTORS,
                      simulate: Callable[[Scenario], Results] = _simulate) -> dict[str, Optional[float]]:
    """The smallest error in ``key`` the comparison rejects, above and below: {"above": factor or None,
    "below": factor or None}, trying ``factors`` in order (None: no factor tried on that side was rejected)."""
    found: dict[str, Optional[float]] = {"above": None, "below": None}
    for factor in factors:
        side = "above" if factor > 1 else "below"
        if found[side] is not None:
            continue
        if agreement_failures(prediction_table(simulate(changed(fitted, key, factor=factor)), measured)):
            found[side] = factor
    return found
