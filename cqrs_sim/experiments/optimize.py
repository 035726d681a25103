"""The cheapest design that meets every SLO, by an exhaustive grid on the sweep machinery.

A design is one architecture at one point of a grid. Each architecture gets
its own grid, the cartesian product of the varied values that can affect it
(a path under ``crud.`` does not move CQRS, nor one under ``cqrs.`` CRUD),
run as an ordinary sweep in ``DIR/<architecture>/`` on the executor given (a
local pool or a Dask cluster). A sweep skips points already done, so a rerun
with other SLOs simulates nothing new, and an interrupted one keeps its
finished points.

Judging: every SLO by :mod:`cqrs_sim.analysis.slo`'s rule, on the replications of
the design's sweep point (its ``replications.csv``): met when the worse end
of the metric's 95% interval over replications meets the bound; a
replication without a value for the metric, or a run stopped by the runaway
guard (``limits.max_in_system``), misses it; an undecided SLO is not met.
The answer is the design with the lowest mean of the minimised metric among
those meeting every SLO; a tie goes to the first in grid order (crud before
cqrs, then the order of the values given).

The Pareto front of the minimised metric against one SLO metric holds the
designs (of either architecture, whether or not they meet the SLOs) that no
other design beats on both means: lower cost, and better on that metric (its
SLO says which way is better). Stopped designs are left out. An SLO on the
minimised metric itself has no front.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd

from ..core.errors import Problem, ScenarioError
from ..core.intervals import finite_or_none
from ..config.loader import load_scenario
from ..analysis.definitions import METRICS
from ..io.outdir import Lock, atomic_file, write_text_atomic
from ..io.resultdir import check_outside_outputs, check_placement, kind_refusal, output_error
from ..core.safetext import read_csv, write_csv
from ..config.fields import ARCHITECTURES
from ..config.scenario import Scenario
from ..analysis.slo import RULE, SLO, Judgement, Status, all_met, check_priced, judge_all, needs_interval
from .sweep import Axis, axes_of, run_sweep
from ..analysis.values import format_interval, format_value

ANSWER_FILE = "optimize.json"
DESIGNS_FILE = "designs.csv"
ProgressFn = Callable[[float, int, str], None]


@dataclass
class Design:
    architecture: str
    settings: dict[str, Any]  #: varied path -> value, for the paths that affect this architecture
    point: str  #: the sweep point's key (``DIR/<architecture>/points/<point>/``)
    metrics: dict[str, dict[str, Any]]  #: metric -> {mean, ci_low, ci_high, n}
    incomplete: bool = False
    checks: list[Judgement] = field(default_factory=list)  #: one per SLO, in the order given
    n: int = 0  #: replications simulated
    status: str = ""  #: the search's word for it (proven, rejected, undecided, screened, not simulated); "" on a grid
    reason: str = ""  #: why screened or not simulated

    @property
    def meets(self) -> bool:
        return not self.incomplete and bool(self.checks) and all_met(self.checks)

    def mean(self, metric: str) -> float:
        value = finite_or_none(self.metrics.get(metric, {}).get("mean"))
        return math.nan if value is None else value

    def label(self) -> str:
        return self.architecture + "".join(f" {path}={value}" for path, value in self.settings.items())


@dataclass
class Optimum:
    """What ``optimize`` found: every design judged, the answer, and the Pareto fronts."""

    directory: Path
    scenario: str
    minimize: str
    slos: list[SLO]
    designs: list[Design]
    best: Optional[Design]
    ties: list[Design]  #: other designs meeting every SLO at exactly the best's mean
    fronts: dict[str, list[Design]]  #: SLO metric -> its Pareto front against ``minimize``, cheapest first
    failures: list[dict]  #: points that could not run (invalid overrides), per architecture
    simulated: int = 0  #: points simulated now
    skipped: int = 0  #: points already done in the directory
    procedure: Optional[dict] = None  #: the sequential search: its guarantee and what it did (None: the grid)

    def as_dict(self) -> dict[str, Any]:
        """The answer as plain data (``optimize.json``); :func:`cqrs_sim.present.plots.pareto.pareto_fronts` draws it."""
        index = {id(d): k for k, d in enumerate(self.designs)}
        return {
            "scenario": self.scenario,
            "minimize": self.minimize,
            "slos": [slo.text for slo in self.slos],
            "slo_metrics": list(dict.fromkeys(slo.metric for slo in self.slos)),
            "lower_is_better": {slo.metric: slo.upper for slo in self.slos},
            "judged": RULE,
            "answer": None if self.best is None else index[id(self.best)],
            "ties": [index[id(d)] for d in self.ties],
            "pareto": {metric: [index[id(d)] for d in front] for metric, front in self.fronts.items()},
            "designs": [_design_dict(d) for d in self.designs],
            "failures": self.failures,
            **({"search": self.procedure} if self.procedure is not None else {}),
        }


def _design_dict(design: Design) -> dict[str, Any]:
    return {"architecture": design.architecture, "settings": design.settings, "point": design.point,
            "label": design.label(), "meets": design.meets, "incomplete": design.incomplete, "n": design.n,
            "checks": [c.as_dict() for c in design.checks], "metrics": design.metrics,
            **({"status": design.status, "reason": design.reason} if design.status else {})}


def check_metric(metric: str, option: str) -> None:
    """Raise unless ``metric`` (given with ``option``) is a metric's name."""
    if metric not in METRICS:
        raise ScenarioError([Problem(f"{option} {metric}", 0, 0, metric, f"unknown metric; use one of {', '.join(METRICS)}")])


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, both coordinates minimised; by x, then y.

    ``q`` dominates ``p`` when it is no worse in both and better in one; equal points are all kept.
    Points with a non-finite coordinate are left out.
    """
    finite = [k for k, (x, y) in enumerate(points) if math.isfinite(x) and math.isfinite(y)]
    front = []
    for k in finite:
        x, y = points[k]
        if not any(points[j][0] <= x and points[j][1] <= y and (points[j][0] < x or points[j][1] < y) for j in finite):
            front.append(k)
    return sorted(front, key=lambda k: (points[k][0], points[k][1], k))


def affects(path: str, architecture: str) -> bool:
    """Whether setting ``path`` can change a design of ``architecture``."""
    other = [a for a in ARCHITECTURES if a != architecture]
    return not any(path == a or path.startswith(a + ".") for a in other)


def check_optimize_dir(directory: Path) -> None:
    """Raise unless ``directory`` is missing, an empty directory, or one ``optimize`` wrote."""
    check_placement(directory)
    check_outside_outputs(directory)
    if not os.path.lexists(directory):
        return
    if directory.is_symlink() or not directory.is_dir():
        raise output_error(directory, "exists and is not a directory; give a new or an optimize directory")
    refusal = kind_refusal(directory, "optimize")
    if refusal is not None:
        raise output_error(directory, refusal)
    ours = (directory / ANSWER_FILE).is_file() or any((directory / a / "sweep.json").is_file() or (directory / a / "points").is_dir()
                                                      for a in ARCHITECTURES)
    if any(directory.iterdir()) and not ours:
        raise output_error(directory, f"exists and is not a cqrs-sim optimize directory (no {ANSWER_FILE}); "
                                      "give a new or an empty directory")


def plan(scenario_file: str | Path, vary: list[str], sets: Optional[list[str]], minimize: str,
         slos: list[SLO]) -> tuple[Scenario, dict[str, list[str]]]:
    """(base scenario, architecture -> its sweep's --vary texts); raises ScenarioError for bad input."""
    base = load_scenario(scenario_file, sets)
    needs_interval(base.replications)
    check_metric(minimize, "--minimize")
    axes = axes_of(base, vary)
    for axis, text in zip(axes, vary or [None] * len(axes)):
        if axis.path == "architectures":
            raise ScenarioError([Problem(f"--vary {text}" if text else "(sweep)", 0, 0, axis.path,
                                         "optimize compares the architectures itself; restrict them with "
                                         "--set architectures=[cqrs] instead")])
    priced = base.cost is not None or any(a.path == "cost" or a.path.startswith("cost.") for a in axes)
    check_priced([(minimize, f"--minimize {minimize}")] + [(s.metric, f"--slo {s.text}") for s in slos], priced)
    texts = list(vary) if vary else [_vary_text(axis) for axis in axes]
    # the architecture is one more axis of one value, last, so that each sweep's plots run along the first varied path
    grids = {arch: [text for axis, text in zip(axes, texts) if affects(axis.path, arch)] + [f"architectures=[{arch}]"]
             for arch in ARCHITECTURES if arch in base.architectures}
    return base, grids


def _vary_text(axis: Axis) -> str:
    """An axis of the scenario's ``sweep:`` block as a --vary option (each value as JSON, which YAML reads)."""
    return f"{axis.path}=" + ",".join(json.dumps(value) for value in axis.values)


def optimize(scenario_file: str | Path, vary: list[str], slos: list[SLO], directory: str | Path, executor: Executor,
             minimize: str = "cost_per_hour", sets: Optional[list[str]] = None,
             progress: Optional[ProgressFn] = None, notify: Optional[Callable[[str], None]] = None) -> Optimum:
    """Simulate every design not already in ``directory``, judge it, and write the answer there.

    ``vary``: ``PATH=V1,V2,...`` texts (empty: the scenario's ``sweep:`` block). Writes
    ``DIR/optimize.json`` and ``DIR/designs.csv``; each architecture's sweep is in ``DIR/<architecture>/``.
    """
    directory = Path(directory)
    check_optimize_dir(directory)
    base, grids = plan(scenario_file, vary, sets, minimize, slos)  # bad input writes nothing
    directory.parent.mkdir(parents=True, exist_ok=True)
    with Lock(directory):
        check_optimize_dir(directory)
        designs, failures, simulated, skipped = [], [], 0, 0
        for arch, texts in grids.items():
            tick = None if progress is None else (lambda a: (lambda done, total, label: progress(done, total, f"{a}: {label}")))(arch)
            result = run_sweep(scenario_file, texts, directory / arch, executor, sets, tick, notify, inside=directory)
            designs += _designs(result.table, directory / arch, arch, slos)
            failures += [{"architecture": arch, **failure} for failure in result.failures]
            simulated, skipped = simulated + result.ran, skipped + result.skipped
        optimum = choose(directory, base.name, minimize, slos, designs, failures)
        optimum.simulated, optimum.skipped = simulated, skipped
        write_text_atomic(directory / ANSWER_FILE, json.dumps(optimum.as_dict(), indent=2, default=str) + "\n")
        with atomic_file(directory / DESIGNS_FILE) as partial:
            write_csv(designs_table(optimum), partial)
    return optimum


def _designs(table: pd.DataFrame, directory: Path, arch: str, slos: list[SLO]) -> list[Design]:
    """One design per point of an architecture's sweep table, in grid order, judged against the SLOs."""
    fixed = {"point", "architecture", "metric", "mean", "ci_low", "ci_high", "n", "architectures"}
    paths = [c for c in table.columns if c not in fixed]
    designs = []
    for key in table["point"].unique():
        rows = table[(table["point"] == key) & (table["architecture"] == arch)]
        if rows.empty:
            continue
        first = rows.iloc[0]
        metrics = {r.metric: {"mean": finite_or_none(r.mean), "ci_low": finite_or_none(r.ci_low),
                              "ci_high": finite_or_none(r.ci_high), "n": int(r.n)} for r in rows.itertuples()}
        settings = {path: _plain(first[path]) for path in paths}
        runs = read_csv(directory / "points" / str(key) / "replications.csv")
        runs = runs[runs["architecture"] == arch]
        stopped = _stopped(runs)
        design = Design(arch, settings, str(key), metrics, stopped, n=len(runs))
        design.checks = judge_all(slos, lambda metric: list(runs[metric]) if metric in runs else [math.nan] * len(runs),
                                  stopped=stopped)
        designs.append(design)
    return designs


def _plain(value: Any) -> Any:
    """A table cell as plain JSON data (numpy scalars become numbers)."""
    return value.item() if hasattr(value, "item") else value


def _stopped(runs: pd.DataFrame) -> bool:
    """Whether any of these runs (rows of a point's replications.csv) was stopped by the runaway guard."""
    return "stopped_at" in runs and bool(runs["stopped_at"].notna().any())


def choose(directory: Path, scenario: str, minimize: str, slos: list[SLO], designs: list[Design],
           failures: list[dict]) -> Optimum:
    """The answer and the Pareto fronts from judged designs (see the module's docstring for the rules)."""
    feasible = [d for d in designs if d.meets and math.isfinite(d.mean(minimize))]
    best = min(feasible, key=lambda d: d.mean(minimize)) if feasible else None  # min keeps the first of equals
    ties = [d for d in feasible if best is not None and d is not best and d.mean(minimize) == best.mean(minimize)]
    fronts = {}
    candidates = [d for d in designs if not d.incomplete]
    for slo in slos:
        if slo.metric in fronts or slo.metric == minimize:  # a metric against itself has no front
            continue
        sign = 1.0 if slo.upper else -1.0
        front = pareto_front([(d.mean(minimize), sign * d.mean(slo.metric)) for d in candidates])
        fronts[slo.metric] = [candidates[k] for k in front]
    return Optimum(directory, scenario, minimize, slos, designs, best, ties, fronts, failures)


def designs_table(optimum: Optimum) -> pd.DataFrame:
    """One row per design: architecture, varied values, then mean and 95% CI of each judged metric, and the verdicts."""
    metrics = list(dict.fromkeys([optimum.minimize] + [slo.metric for slo in optimum.slos]))
    paths = list(dict.fromkeys(path for design in optimum.designs for path in design.settings))
    rows = []
    for design in optimum.designs:
        row: dict[str, Any] = {"architecture": design.architecture, **{p: design.settings.get(p) for p in paths}}
        for metric in metrics:
            stats = design.metrics.get(metric, {})
            row.update({metric: stats.get("mean"), f"{metric}_ci_low": stats.get("ci_low"),
                        f"{metric}_ci_high": stats.get("ci_high")})
        row.update({f"slo {c.slo.text}": c.status.value for c in design.checks})
        row.update({"meets_every_slo": design.meets, "incomplete": design.incomplete, "n": design.n,
                    "answer": design is optimum.best, "point": design.point})
        if design.status:
            row.update({"status": design.status, "reason": design.reason})
        for metric, front in optimum.fronts.items():
            row[f"pareto_{metric}"] = any(design is d for d in front)
        rows.append(row)
    return pd.DataFrame(rows)


def shown(design: Design, metric: str) -> str:
    """A design's value of ``metric`` with its interval, as the answers show it."""
    stats = design.metrics.get(metric, {})
    return format_interval(metric, stats.get("mean"), stats.get("ci_low"), stats.get("ci_high"))


def cheapest_lines(optimum: Optimum, claim: str) -> list[str]:
    """The cheapest design with each SLO's judgement, and the designs as cheap: "Cheapest design {claim} every
    SLO: …" ("meeting", or the search's "proven to meet"); nothing when no design is best."""
    best = optimum.best
    if best is None:
        return []
    checks = "; ".join(f"{c.slo.metric} {shown(best, c.slo.metric)} ({c.slo.text} {c.describe()})" for c in best.checks)
    lines = [f"Cheapest design {claim} every SLO: {best.label()}: {optimum.minimize} "
             f"{shown(best, optimum.minimize)}; {checks}."]
    if optimum.ties:
        lines.append(f"Equally cheap and {claim} every SLO: " + "; ".join(d.label() for d in optimum.ties) + ".")
    return lines


def answer_lines(optimum: Optimum) -> list[str]:
    """The answer in words: the cheapest design meeting every SLO with its intervals, then each Pareto front."""
    lines = cheapest_lines(optimum, "meeting")
    replications = sorted({d.n for d in optimum.designs})
    n = "n=" + "/".join(str(k) for k in replications) + " replications"
    if optimum.best is None:
        counts = "; ".join(_status_counts(optimum, slo) for slo in optimum.slos)
        lines.append(f"No design meets every SLO ({len(optimum.designs)} simulated, {n} each; {counts}).")
    lines.append(f"Judged: {RULE}.")
    for metric, front in optimum.fronts.items():
        points = "; ".join(f"{d.label()} ({format_value(optimum.minimize, d.mean(optimum.minimize))}, "
                           f"{format_value(metric, d.mean(metric))})" for d in front)
        lines.append(f"Pareto front of {optimum.minimize} against {metric}: {points or 'none'}.")
    if any(slo.metric == optimum.minimize for slo in optimum.slos):
        lines.append(f"No Pareto front for the SLO on {optimum.minimize}: it is the minimised metric itself.")
    for failure in optimum.failures:
        lines.append(f"Not simulated ({failure['architecture']} {failure['point']}): {failure['error']}")
    return lines


def _status_counts(optimum: Optimum, slo: SLO) -> str:
    """``read_latency_p99<50ms met by 2, missed by 3, undecided for 1``."""
    statuses = [c.status for d in optimum.designs for c in d.checks if c.slo == slo]
    words = {Status.MET: "met by", Status.MISSED: "missed by", Status.UNDECIDED: "undecided for"}
    parts = [f"{words[s]} {statuses.count(s)}" for s in Status if statuses.count(s)]
    return f"{slo.text} {', '.join(parts) or 'not judged'}"


__all__ = ["Design", "Optimum", "answer_lines", "check_optimize_dir", "choose", "designs_table", "optimize",
           "pareto_front", "plan"]
