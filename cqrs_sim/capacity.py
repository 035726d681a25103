"""Capacity search: the largest (or, with ``minimize``, smallest) value of one path at which every SLO holds.

Per architecture, by bisection over [lo, hi]: counts are bisected as
integers, anything else until the bracket is narrower than ``tolerance`` of
the range. Each evaluation simulates every replication of the scenario with
the value set; every evaluation uses the same seeds, so the comparison
between values is paired (common random numbers) and the boundary is not
blurred by independent noise. An SLO holds when the replications' mean
meets it; a run stopped by ``limits.max_in_system`` fails every SLO. The
search assumes the SLOs are monotone in the path (more load, worse
latency; more replicas, better latency) and says so when the ends of the
range contradict that.
"""

from __future__ import annotations

import math
import operator
import re
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .errors import Problem, ScenarioError
from .intervals import finite_or_none
from .loader import load_scenario, parse_set
from .metrics import METRICS
from .simulate import simulate
from .scenario import Scenario
from .sweep import _resolved_value, resolved_node
from .units import format_value, parse_duration, parse_rate

OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class SLO:
    metric: str
    op: str
    value: float
    text: str

    def met(self, mean: float) -> bool:
        return math.isfinite(mean) and OPS[self.op](mean, self.value)


def _bound(number: str, raw: str, looks_like: str) -> float:
    try:
        return float(number)
    except ValueError:
        raise ValueError(f"cannot read the bound {raw!r}: write {looks_like}") from None


def parse_slo(text: str) -> SLO:
    """``read_latency_p99<50ms``, ``stale_read_fraction<1%``, ``read_throughput>=900/s``."""
    match = re.match(r"^\s*(\w+)\s*(<=|>=|<|>)\s*(\S.*?)\s*$", text)
    if not match:
        raise ScenarioError([Problem(f"--slo {text}", 0, 0, "(--slo)", "expected METRIC<VALUE, such as 'read_latency_p99<50ms'")])
    metric, op, raw = match.groups()
    if metric not in METRICS:
        raise ScenarioError([Problem(f"--slo {text}", 0, 0, metric, f"unknown metric; use one of {', '.join(METRICS)}")])
    unit = METRICS[metric][0]
    try:
        if unit == "s":
            value = parse_duration(raw)
        elif unit == "1/s":
            value = parse_rate(raw)
        elif unit == "/h":  # a price per hour: 4.5 or 4.5/h
            value = _bound(raw.removesuffix("/h"), raw, "a price per hour, such as 4.5 or 4.5/h")
        elif unit == "":  # a fraction: 0.01 or 1%
            value = (_bound(raw[:-1], raw, "a fraction, such as 0.01 or 1%") / 100 if raw.endswith("%")
                     else _bound(raw, raw, "a fraction, such as 0.01 or 1%"))
        else:
            value = _bound(raw, raw, f"a number of {unit}, such as 1000")
    except ValueError as exc:
        raise ScenarioError([Problem(f"--slo {text}", 0, 0, metric, str(exc))]) from None
    if not math.isfinite(value):
        raise ScenarioError([Problem(f"--slo {text}", 0, 0, metric, f"the bound must be a finite number, got {raw!r}: "
                                                                   "no mean could meet it")])
    return SLO(metric, op, value, text)


def parse_slos(texts: list[str]) -> list[SLO]:
    """Every ``--slo``; raises :class:`ScenarioError` with one problem per SLO that cannot be read and per pair that
    contradicts itself (no value of the metric meets both), before anything is simulated."""
    slos, problems = [], []
    for text in texts:
        try:
            slos.append(parse_slo(text))
        except ScenarioError as exc:
            problems += exc.problems
    problems += contradictions(slos)
    if problems:
        raise ScenarioError(problems)
    return slos


def contradictions(slos: list[SLO]) -> list[Problem]:
    """One problem per pair of SLOs on one metric that no value meets together (``p99<50ms`` with ``p99>1s``)."""
    problems = []
    for k, upper in enumerate(slos):
        if upper.op not in ("<", "<="):
            continue
        for lower in slos:
            if lower.metric != upper.metric or lower.op not in (">", ">="):
                continue
            if lower.value > upper.value or (lower.value == upper.value and (lower.op, upper.op) != (">=", "<=")):
                later, earlier = (lower, upper) if slos.index(lower) > k else (upper, lower)
                problems.append(Problem(
                    f"--slo {later.text}", 0, 0, later.metric,
                    f"contradicts --slo {earlier.text}: no {later.metric} is both {upper.op} "
                    f"{format_value(upper.metric, upper.value)} and {lower.op} {format_value(lower.metric, lower.value)}, "
                    "so no design can meet both"))
    return problems


def parse_range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition("..")
    try:
        if not sep:
            raise ValueError
        return _number(lo), _number(hi)
    except ValueError:
        raise ScenarioError([Problem(f"--range {text}", 0, 0, "(--range)", "expected LO..HI, such as 100/s..2000/s or 1..32")]) from None


def _number(text: str) -> float:
    text = text.strip()
    if "/" in text:
        return parse_rate(text)
    return parse_duration(text) if re.search(r"[a-z]", text) else float(text)


@dataclass
class Evaluation:
    value: float
    holds: bool
    incomplete: bool
    metrics: dict[str, tuple[float, Optional[float], Optional[float]]]  #: SLO metric -> (mean, ci_low, ci_high)


@dataclass
class CapacityResult:
    architecture: str
    path: str
    minimize: bool
    answer: Optional[float]  #: None when no value in the range meets the SLOs
    bracket: tuple[Optional[float], Optional[float]]  #: (last value that held, first that failed)
    note: str
    evaluations: list[Evaluation] = field(default_factory=list)

    @property
    def at_answer(self) -> Optional[Evaluation]:
        return next((e for e in self.evaluations if e.value == self.answer), None)


def capacity_search(scenario_file: str | Path, path: str, slos: list[SLO], executor: Optional[Executor] = None,
                    value_range: Optional[tuple[float, float]] = None, minimize: bool = False,
                    sets: Optional[list[str]] = None, tolerance: float = 0.01, max_steps: int = 14,
                    report: Callable[[str, Evaluation], None] = lambda arch, e: None) -> list[CapacityResult]:
    base = load_scenario(scenario_file, sets)
    target, scaled = searched_path(base, path)
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
    results = []
    # a path inside one architecture's section cannot move the other: search only where it matters
    archs = [a for a in base.architectures if not (path.startswith(("crud.", "cqrs.")) and not path.startswith(a + "."))]
    for arch in archs:
        cache: dict[float, Evaluation] = {}

        def evaluate(value: float) -> Evaluation:
            if value in cache:
                return cache[value]
            scenario = load_scenario(scenario_file, {**base_pairs, target: value, "architectures": [arch], "sweep": None})
            results_ = simulate(scenario, executor=executor)
            summary = results_.summary().set_index("metric")
            metrics = {}
            for slo in slos:
                row = summary.loc[slo.metric]
                metrics[slo.metric] = (float(row["mean"]), finite_or_none(row["ci_low"]), finite_or_none(row["ci_high"]))
            incomplete = bool(results_.incomplete)
            holds = not incomplete and all(slo.met(metrics[slo.metric][0]) for slo in slos)
            cache[value] = evaluation = Evaluation(value, holds, incomplete, metrics)
            report(arch, evaluation)
            return evaluation

        result = _bisect(arch, path, evaluate, lo, hi, integer, minimize, tolerance, max_steps, cache)
        if scaled:
            result.note = f"{scaled}; {result.note}"
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


def _bisect(arch, path, evaluate, lo, hi, integer, minimize, tolerance, max_steps, cache) -> CapacityResult:
    inside, outside = (hi, lo) if minimize else (lo, hi)  # where the SLOs should hold, and where they should not
    if not evaluate(inside).holds:
        show = lambda x: format_value(path, x)  # noqa: E731
        note = f"the SLOs fail even at {show(inside)}: no value in [{show(lo)}, {show(hi)}] meets them"
        return CapacityResult(arch, path, minimize, None, (None, inside), note, sorted(cache.values(), key=lambda e: e.value))
    if evaluate(outside).holds:
        note = f"the SLOs hold across the whole range, at {format_value(path, outside)} too: widen --range"
        return CapacityResult(arch, path, minimize, outside, (outside, None), note, sorted(cache.values(), key=lambda e: e.value))
    good, bad = inside, outside
    steps = 0
    while steps < max_steps:
        if integer and abs(bad - good) <= 1:
            break
        if not integer and abs(bad - good) <= tolerance * (hi - lo):
            break
        mid = (good + bad) // 2 if integer else (good + bad) / 2
        if evaluate(mid).holds:
            good = mid
        else:
            bad = mid
        steps += 1
    resolution = "exact (integers)" if integer else f"to within {format_value(path, abs(bad - good), exact=False)}"
    word = "smallest" if minimize else "largest"
    note = f"{word} value meeting every SLO, {resolution}; holds at {format_value(path, good)}, fails at {format_value(path, bad)}"
    return CapacityResult(arch, path, minimize, good, (good, bad), note, sorted(cache.values(), key=lambda e: e.value))
