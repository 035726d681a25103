"""Capacity search: the largest (or, with ``minimize``, smallest) value of one path at which every SLO holds.

Per architecture, by bisection over [lo, hi]: counts are bisected as
integers, anything else until the bracket is narrower than ``precision``
(in the path's unit) or, without one, than ``tolerance`` of the range.

By default each probed value is decided as ``optimize`` decides a design
(:mod:`cqrs_sim.experiments.sequential`): first screened with the analytic twin
(:func:`cqrs_sim.experiments.screen.screen`: an overloaded tier fails without
simulating), then replicated one look at a time until every SLO is proven
met or missed, the error split by Bonferroni over the values the search may
probe (``max_steps`` + 2), the SLOs and the looks; a value holds when it is
proven, and an undecided one does not. Before bisecting, the analytic twin
brackets the search: when the far end of the range is screened, the first
screened value is found analytically and the bisection starts from there.
With ``fixed``, each value simulates the scenario's replications and is
judged by :mod:`cqrs_sim.analysis.slo`'s rule at 95%, as before.

Every evaluation uses the same seeds, so the comparison between values is
paired (common random numbers) and the boundary is not blurred by
independent noise. A replication without a value, or a run stopped by
``limits.max_in_system``, misses the SLO. The search assumes the SLOs are
monotone in the path (more load, worse latency; more replicas, better
latency) and says so when the ends of the range contradict that.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..core.errors import Problem, ScenarioError
from ..config.loader import load_scenario, parse_set
from .simulate import simulate
from ..config.scenario import Scenario
from .screen import screen
from .sequential import PROVEN, Guarantee, decide, looks
from ..analysis.slo import SLO, Judgement, all_met, check_priced, judge_all, needs_interval
from .sweep import _resolved_value, resolved_node
from ..analysis.values import format_value
from ..config.units import parse_duration, parse_rate

def parse_range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition("..")
    try:
        if not sep:
            raise ValueError
        return _number(lo), _number(hi)
    except ValueError:
        raise ScenarioError([Problem(f"--range {text}", 0, 0, "(--range)", "expected LO..HI, such as 100/s..2000/s or 1..32")]) from None


def parse_precision(text: str) -> float:
    """``--precision``: a positive width in the searched path's unit (10/s, 5ms, 2)."""
    try:
        value = _number(text)
        if not value > 0 or value == float("inf"):
            raise ValueError
        return value
    except ValueError:
        raise ScenarioError([Problem(f"--precision {text}", 0, 0, "(--precision)",
                                     "expected a positive width in the searched path's unit, such as 10/s, 5ms or 1")]) from None


def _number(text: str) -> float:
    text = text.strip()
    if "/" in text:
        return parse_rate(text)
    return parse_duration(text) if re.search(r"[a-z]", text) else float(text)


@dataclass
class Evaluation:
    value: float
    holds: bool  #: every SLO met
    incomplete: bool  #: a run was stopped by the runaway guard
    metrics: dict[str, tuple[float, Optional[float], Optional[float]]]  #: SLO metric -> (mean, ci_low, ci_high)
    judgements: list[Judgement] = field(default_factory=list)  #: one per SLO, in the order given
    screened: str = ""  #: why the analytic twin rules this value out without simulating it
    probes_left: int = 0  #: values the whole search may still probe after this one, at most (for an ETA)

    @property
    def n(self) -> int:
        """Replications simulated at this value."""
        return max((j.n for j in self.judgements), default=0)


@dataclass
class CapacityResult:
    architecture: str
    path: str
    minimize: bool
    answer: Optional[float]  #: None when no value in the range meets the SLOs
    bracket: tuple[Optional[float], Optional[float]]  #: (last value that held, first that failed)
    note: str
    evaluations: list[Evaluation] = field(default_factory=list)
    guarantee: str = ""  #: how each value was decided (sequential), or "" (the fixed 95% rule)

    @property
    def at_answer(self) -> Optional[Evaluation]:
        return next((e for e in self.evaluations if e.value == self.answer), None)


def capacity_search(scenario_file: str | Path, path: str, slos: list[SLO], executor: Optional[Executor] = None,
                    value_range: Optional[tuple[float, float]] = None, minimize: bool = False,
                    sets: Optional[list[str]] = None, tolerance: float = 0.01, max_steps: int = 14,
                    report: Callable[[str, Evaluation], None] = lambda arch, e: None, precision: Optional[float] = None,
                    fixed: bool = False, confidence: float = 0.95, max_replications: int = 20,
                    width: int = 1) -> list[CapacityResult]:
    base = load_scenario(scenario_file, sets)
    target, scaled = searched_path(base, path)
    needs_interval(base.replications)
    check_priced([(s.metric, f"--slo {s.text}") for s in slos], base.cost is not None or path.startswith("cost."))
    current = _resolved_value(base, target)
    if not isinstance(current, (int, float)) or isinstance(current, bool):
        raise ScenarioError([Problem(f"--search {path}", 0, 0, path, "is not a number in this scenario, so it cannot be searched")])
    integer = isinstance(current, int)
    lo, hi = value_range if value_range else ((1, 4 * current) if integer else (current / 8, current * 8))
    if integer:
        lo, hi = int(math.ceil(lo)), int(math.floor(hi))
    if not lo < hi:
        raise ScenarioError([Problem(f"--range {lo}..{hi}", 0, 0, path, "the range must have LO < HI")])
    base_pairs = dict(parse_set(text) for text in sets or [])
    guarantee = None if fixed else Guarantee(confidence, max_steps + 2, len(slos), looks(max_replications))
    results = []
    # a path inside one architecture's section cannot move the other: search only where it matters
    archs = [a for a in base.architectures if not (path.startswith(("crud.", "cqrs.")) and not path.startswith(a + "."))]
    planned = {"probes": max_steps + 2}
    for position, arch in enumerate(archs):
        cache: dict[float, Evaluation] = {}
        loaded: dict[float, Scenario] = {}

        def scenario_at(value: float, arch: str = arch) -> Scenario:
            if value not in loaded:
                loaded[value] = load_scenario(scenario_file, {**base_pairs, target: value, "architectures": [arch],
                                                              "sweep": None})
            return loaded[value]

        def evaluate(value: float, position: int = position) -> Evaluation:
            if value in cache:
                return cache[value]
            scenario = scenario_at(value)
            if guarantee is not None:
                cache[value] = evaluation = _sequential(scenario, arch, value, slos, guarantee, executor, width)
                evaluation.probes_left = max(0, planned["probes"] - len(cache)) + planned["probes"] * (len(archs) - 1 - position)
                report(arch, evaluation)
                return evaluation
            results_ = simulate(scenario, executor=executor)
            runs = results_.per_replication
            runs = runs[runs["architecture"] == arch]
            incomplete = bool(results_.incomplete)
            judgements = judge_all(slos, lambda metric: list(runs[metric]) if metric in runs else [math.nan] * len(runs),
                                   stopped=incomplete)
            metrics = {j.slo.metric: (j.mean, j.ci_low, j.ci_high) for j in judgements}
            cache[value] = evaluation = Evaluation(value, all_met(judgements), incomplete, metrics, judgements)
            report(arch, evaluation)
            return evaluation

        bracket_note = ""
        far = lo if minimize else hi
        if guarantee is not None:
            far, bracket_note = _analytic_bracket(scenario_at, path, arch, slos, lo, hi, integer, minimize)
        low, high = (far, hi) if minimize else (lo, far)
        width_ = precision if precision is not None else tolerance * (hi - lo)
        span = abs(high - low) / (1 if integer else width_)
        planned["probes"] = 2 + min(max_steps, math.ceil(math.log2(span)) if span > 1 else 0)
        result = _bisect(arch, path, evaluate, low, high, integer, minimize, width_, max_steps, cache)
        result.guarantee = "" if guarantee is None else guarantee.text()
        for note in (bracket_note, scaled):
            if note:
                result.note = f"{note}; {result.note}"
        results.append(result)
    return results


def searched_path(scenario: Scenario, path: str) -> tuple[str, str]:
    """The path a search sets, and what that means when it is not ``path`` itself.

    A daily pattern is scaled (its mean is searched; amplitude, period and
    phase stay); a distribution other than a constant is refused, since
    setting it to a number would replace its shape with a constant.
    """
    node = resolved_node(scenario, path)
    if isinstance(node, dict) and set(node) == {"diurnal"}:
        return f"{path}.diurnal.mean", (f"scaled the daily pattern: searched {path}.diurnal.mean, keeping its amplitude, "
                                        "period and phase")
    if isinstance(node, dict) and "dist" in node and node["dist"] != "constant":
        hint = f": search one of its parameters instead, such as --search {path}.mean" if "mean" in node else ""
        raise ScenarioError([Problem(f"--search {path}", 0, 0, path,
                                     f"is {'an' if node['dist'][0] in 'aeiou' else 'a'} {node['dist']} distribution, and searching it would replace it with a "
                                     f"constant{hint}")])
    return path, ""


def _sequential(scenario: Scenario, arch: str, value: float, slos: list[SLO], guarantee, executor, width: int) -> Evaluation:
    """One value screened, then decided sequentially (see the module docstring)."""
    reason = screen(scenario, arch, slos)
    if reason is not None:
        return Evaluation(value, False, False, {}, [], screened=reason)
    candidate = decide(executor, scenario, arch, slos, guarantee, width)
    judgements = candidate.judgements
    metrics = {j.slo.metric: (j.mean, j.ci_low, j.ci_high) for j in judgements}
    return Evaluation(value, candidate.status == PROVEN, candidate.stopped, metrics, judgements)


def _analytic_bracket(scenario_at, path, arch, slos, lo, hi, integer, minimize) -> tuple[float, str]:
    """The far end of the range for the bisection: the range's own, or, when the analytic twin screens that end
    out, the first screened value next to the values it does not screen (found without simulating)."""
    def screened(value: float) -> Optional[str]:
        return screen(scenario_at(value), arch, slos)

    near, far = (hi, lo) if minimize else (lo, hi)
    reason = screened(far)
    if reason is None or screened(near) is not None:
        return far, ""
    for _ in range(60):
        if (integer and abs(far - near) <= 1) or (not integer and abs(far - near) <= 1e-4 * abs(hi - lo)):
            break
        mid = (near + far) // 2 if integer else (near + far) / 2
        found = screened(mid)
        if found is None:
            near = mid
        else:
            far, reason = mid, found
    return far, f"bracketed by the analytic twin: screened from {format_value(path, far)} ({reason})"


def _bisect(arch, path, evaluate, lo, hi, integer, minimize, tolerance, max_steps, cache) -> CapacityResult:
    inside, outside = (hi, lo) if minimize else (lo, hi)  # where the SLOs should hold, and where they should not
    if not evaluate(inside).holds:
        show = lambda x: format_value(path, x)  # noqa: E731
        note = f"the SLOs are not all met even at {show(inside)}: no value in [{show(lo)}, {show(hi)}] meets them"
        return CapacityResult(arch, path, minimize, None, (None, inside), note, sorted(cache.values(), key=lambda e: e.value))
    if evaluate(outside).holds:
        note = f"the SLOs are met across the whole range, at {format_value(path, outside)} too: widen --range"
        return CapacityResult(arch, path, minimize, outside, (outside, None), note, sorted(cache.values(), key=lambda e: e.value))
    good, bad = inside, outside
    steps = 0
    while steps < max_steps:
        if integer and abs(bad - good) <= 1:
            break
        if not integer and abs(bad - good) <= tolerance:
            break
        mid = (good + bad) // 2 if integer else (good + bad) / 2
        if evaluate(mid).holds:
            good = mid
        else:
            bad = mid
        steps += 1
    resolution = "exact (integers)" if integer else f"to within {format_value(path, abs(bad - good), exact=False)}"
    word = "smallest" if minimize else "largest"
    note = (f"{word} value meeting every SLO, {resolution}; met at {format_value(path, good)}, not met at "
            f"{format_value(path, bad)}")
    return CapacityResult(arch, path, minimize, good, (good, bad), note, sorted(cache.values(), key=lambda e: e.value))
