"""The cheapest design meeting every SLO, found cheapest first and proven, without simulating the rest.

The designs are those of ``optimize``'s grid (:func:`cqrs_sim.experiments.optimize.plan`).
Before anything runs, each design is

1. *screened* with the analytic twin (:func:`cqrs_sim.experiments.screen.screen`): an
   overloaded tier, or an analytic lower bound failing an SLO, marks it
   infeasible without simulating, with the reason;
2. *priced*: when the minimised metric is ``cost_per_hour`` (or
   ``replica_seconds``) its bounds are known from the settings
   (:func:`cqrs_sim.experiments.screen.metric_bounds`), and the designs are taken in
   order of their lower bound (then grid order).

Then :class:`cqrs_sim.experiments.sequential.Evaluator` gives replications to the
cheapest designs still open, one look at a time, until each is proven,
rejected or undecided. A design whose lower bound is not below the measured
cost of a design already proven is never simulated (``not simulated``). The
answer is the proven design with the lowest mean of the minimised metric
over the replications it was decided on (ties: grid order); a design stays
open until no proven design beats it on (lower bound, grid order), so the
answer does not depend on which worker finished first. Without bounds on the minimised metric every design is
evaluated sequentially and the answer is the proven design with the lowest
mean. The guarantee (:class:`cqrs_sim.experiments.sequential.Guarantee`) covers every
met/missed decision; cheaper designs left undecided are listed with the
answer, which then holds only among the designs decided.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable, Optional

from .estimate import run_seconds
from ..core.intervals import finite_or_none
from ..analysis.definitions import METRICS
from ..analysis.metrics import interval
from .optimize import (ANSWER_FILE, DESIGNS_FILE, Design, Optimum, check_optimize_dir, cheapest_lines, designs_table,
                       plan)
from ..io.outdir import Lock, atomic_file, write_text_atomic
from ..core.safetext import write_csv
from .screen import metric_bounds, screen
from .sequential import (CONFIDENCE, MAX_REPLICATIONS, NOT_NEEDED, PROVEN, REJECTED, SCREENED, UNDECIDED, WAITING,
                         Candidate, Evaluator, Guarantee, Tally, looks)
from ..analysis.slo import SLO
from .sweep import axis_values, plan_sweep, point_key
from ..config.format import format_duration
from ..analysis.values import format_value


def candidates(scenario_file: str | Path, grids: dict[str, list[str]], sets: Optional[list[str]], slos: list[SLO],
               minimize: str) -> tuple[list[Candidate], list[dict], dict[int, dict[str, Any]]]:
    """(every design as a candidate, screened ones marked; points that could not be built; settings per index)."""
    found: list[Candidate] = []
    failures: list[dict] = []
    settings: dict[int, dict[str, Any]] = {}
    for arch, texts in grids.items():
        _, axes, points = plan_sweep(scenario_file, texts, sets)
        valid = [p for p in points if p.scenario is not None]
        paths = [a.path for a in axes if a.path != "architectures"]
        columns = {path: axis_values([p.scenario for p in valid], path) for path in paths}
        failures += [{"architecture": arch, "point": p.overrides, "error": p.error} for p in points if p.scenario is None]
        for k, point in enumerate(valid):
            values = {path: _plain(columns[path][k]) for path in paths}
            label = arch + "".join(f" {path}={value}" for path, value in values.items())
            candidate = Candidate(len(found), label, arch, point.scenario, key=point_key(point.scenario),
                                  bounds=metric_bounds(point.scenario, arch, minimize))
            reason = screen(point.scenario, arch, slos)
            if reason is not None:
                candidate.status, candidate.reason = SCREENED, f"screened: {reason}"
            candidate.seconds = sum(run_seconds(point.scenario, arch).values())
            settings[candidate.index] = values
            found.append(candidate)
    return found, failures, settings


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def search(scenario_file: str | Path, vary: list[str], slos: list[SLO], directory: str | Path, executor: Executor,
           minimize: str = "cost_per_hour", sets: Optional[list[str]] = None, confidence: float = CONFIDENCE,
           max_replications: int = MAX_REPLICATIONS, width: int = 1,
           progress: Optional[Callable[[Tally], None]] = None) -> Optimum:
    """Search the grid cheapest first (see the module docstring); write ``optimize.json`` and ``designs.csv``."""
    directory = Path(directory)
    check_optimize_dir(directory)
    base, grids = plan(scenario_file, vary, sets, minimize, slos)  # bad input writes nothing
    began = time.perf_counter()
    found, failures, settings = candidates(scenario_file, grids, sets, slos, minimize)
    open_ = [c for c in found if c.status != SCREENED]
    guarantee = Guarantee(confidence, len(open_), len(slos), looks(max_replications))
    order = sorted(found, key=lambda c: (_low(c), c.index))  # screened ones are counted, never run

    def best() -> tuple[float, int]:
        """(mean of the minimised metric, grid index) of the best design proven so far."""
        proven = [(_mean(c, minimize), c.index) for c in found if c.status == PROVEN]
        return min((key for key in proven if math.isfinite(key[0])), default=(math.inf, len(found)))

    def eligible(candidate: Candidate) -> bool:
        # a design that might still beat the best proven one, ties going to grid order: so the answer does not
        # depend on which design a worker happened to finish first
        return (_low(candidate), candidate.index) < best() if candidate.bounds is not None else True

    directory.parent.mkdir(parents=True, exist_ok=True)
    with Lock(directory):
        check_optimize_dir(directory)
        evaluator = Evaluator(executor, slos, guarantee, width, progress)
        evaluator.run(order, eligible)
        answer_cost = best()[0]
        for candidate in order:
            if candidate.status == WAITING:  # more expensive than the answer (or its search was cut short)
                candidate.status = NOT_NEEDED
                candidate.reason = (f"{minimize} at least {format_value(minimize, _low(candidate))}, not below the "
                                    f"answer's {format_value(minimize, answer_cost)}")
        designs = [_design(c, settings[c.index]) for c in found]
        proven = [(_mean(c, minimize), c.index) for c in found if c.status == PROVEN and math.isfinite(_mean(c, minimize))]
        answer = designs[min(proven)[1]] if proven else None
        ties = [designs[k] for mean, k in proven if answer is not None and designs[k] is not answer
                and mean == min(proven)[0]]
        counts = {status: sum(1 for c in found if c.status == status)
                  for status in (SCREENED, PROVEN, REJECTED, UNDECIDED, NOT_NEEDED)}
        replications = sum(c.n for c in found)
        procedure = {**guarantee.as_dict(), "counts": counts, "replications": replications,
                     "simulated_seconds": sum(c.n * c.scenario.duration for c in found),
                     "wall_seconds": time.perf_counter() - began, "ordered_by": _ordered_by(found, minimize)}
        directory.mkdir(exist_ok=True)
        optimum = Optimum(directory, base.name, minimize, slos, designs, answer, ties, {}, failures,
                          simulated=sum(1 for c in found if c.n), procedure=procedure)
        write_text_atomic(directory / ANSWER_FILE, json.dumps(optimum.as_dict(), indent=2, default=str) + "\n")
        with atomic_file(directory / DESIGNS_FILE) as partial:
            write_csv(designs_table(optimum), partial)
    return optimum


def _low(candidate: Candidate) -> float:
    bounds = candidate.bounds
    return bounds[0] if bounds is not None else 0.0


def _mean(candidate: Candidate, metric: str) -> float:
    """The metric's mean over the replications the candidate was decided on (those that ran beside the decision,
    which depend on timing, are left out, so the answer does not)."""
    values = [candidate.rows[k].get(metric, math.nan) for k in range(candidate.judged_at) if k in candidate.rows]
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite and len(finite) == len(values) else math.nan


def _ordered_by(found: list[Candidate], minimize: str) -> str:
    if any(c.bounds is not None for c in found):
        return f"the lower bound of {minimize} known before simulating"
    return "grid order (no bound on the minimised metric is known before simulating)"


def _design(candidate: Candidate, settings: dict[str, Any]) -> Design:
    """The candidate as optimize's Design: its numbers over the replications it was decided on (95% intervals, as
    a table shows them) and its SLO decisions. Replications that ran beside a decision, or for a design found not
    needed, depend on which worker finished first: they count in the search's total, not in the design's numbers,
    so the same scenario and seed give the same table on any executor."""
    metrics = {}
    used = [k for k in range(candidate.judged_at) if k in candidate.rows]
    if used:
        for metric in METRICS:
            values = [candidate.rows[k].get(metric, math.nan) for k in used]
            if any(isinstance(v, float) and math.isfinite(v) for v in values):
                stats = interval(values)
                metrics[metric] = {"mean": finite_or_none(stats["mean"]), "ci_low": finite_or_none(stats["ci_low"]),
                                   "ci_high": finite_or_none(stats["ci_high"]), "n": int(stats["n"])}
    bounds = candidate.bounds
    if not used and bounds is not None and bounds[0] == bounds[1]:
        metric = "cost_per_hour" if candidate.scenario.cost is not None else "replica_seconds"
        if metric_bounds(candidate.scenario, candidate.architecture, metric) == bounds:  # known without simulating
            metrics[metric] = {"mean": bounds[0], "ci_low": bounds[0], "ci_high": bounds[0], "n": 0}
    stopped = any(not math.isnan(candidate.rows[k].get("stopped_at", math.nan)) for k in used)
    return Design(candidate.architecture, settings, candidate.key, metrics, stopped,
                  list(candidate.judgements) if used else [], len(used), candidate.status, candidate.reason)


def answer_lines(optimum: Optimum) -> list[str]:
    """The search's answer in words: the design proven cheapest with what it rests on, what was decided how,
    and the guarantee."""
    procedure = optimum.procedure or {}
    minimize = optimum.minimize

    best = optimum.best
    lines = cheapest_lines(optimum, "proven to meet") or ["No design is proven to meet every SLO."]
    cheaper = [d for d in optimum.designs if d.status == UNDECIDED
               and (best is None or not d.mean(minimize) >= best.mean(minimize))]
    if cheaper:
        lines.append("Undecided after the most replications (they may meet every SLO; raise --max-replications): "
                     + "; ".join(f"{d.label()} ({_open_slos(d)})" for d in cheaper) + ".")
    counts = procedure.get("counts", {})
    lines.append(f"Designs: {len(optimum.designs)}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in
                 (SCREENED, PROVEN, REJECTED, UNDECIDED, NOT_NEEDED)) + f" (taken in order of {procedure.get('ordered_by')}).")
    for design in optimum.designs:
        if design.status == SCREENED:
            lines.append(f"  {design.label()}: {design.reason}")
    lines.append(f"Guarantee: {procedure.get('procedure')}.")
    lines.append(f"Simulated {procedure.get('replications', 0)} replication(s), "
                 f"{format_duration(procedure.get('simulated_seconds', 0.0))} of simulated time, in "
                 f"{format_duration(procedure.get('wall_seconds', 0.0))}.")
    for failure in optimum.failures:
        lines.append(f"Not simulated ({failure['architecture']} {failure['point']}): {failure['error']}")
    return lines


def _open_slos(design: Design) -> str:
    return ", ".join(f"{c.slo.text} {c.describe()}" for c in design.checks if c.status.value == "undecided")


__all__ = ["answer_lines", "candidates", "search"]
