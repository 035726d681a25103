"""Service-level objectives: read once, and judged by one rule wherever an SLO is judged.

An SLO is ``METRIC OP BOUND`` with OP one of ``<``, ``<=``, ``>``, ``>=`` and
the bound in the metric's unit: ``read_latency_p99<50ms``,
``stale_read_fraction<1%``, ``read_throughput>=900/s``, ``cost_per_hour<=4.5``.
:func:`parse_slos` reads a list of them and reports every problem at once
(one :class:`~cqrs_sim.core.errors.Problem` per bad SLO), contradictions between
the SLOs on one metric included (``p99<50ms`` with ``p99>1s``), so nothing is
simulated for SLOs no value could meet.

The rule (:data:`RULE`), the same for ``capacity`` and ``optimize``: take
the metric's value in each of the n replications and the two-sided 95%
Student-t interval of their mean (the interval summary.csv shows). The SLO is

* **met** when the interval's worse end meets the bound: its upper end for
  ``<`` and ``<=``, its lower end for ``>`` and ``>=``;
* **missed** when its better end fails the bound too; when any replication
  has no value for the metric (``visibility_t99`` of a run that never
  reached 99%: that replication failed the SLO, it is not left out); or when
  a run was stopped by the runaway guard (``limits.max_in_system``);
* **undecided** otherwise: the interval straddles the bound, or one
  replication gives no interval.

Only *met* counts as holding. A :class:`Judgement` keeps the status, n, the
interval, which end was compared and its value, so every answer can say
what it rests on; a procedure that adds replications until an SLO is
decided can build on it.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterable, Optional, Sequence

from ..core.errors import Problem, ScenarioError
from .metrics import interval
from .definitions import METRICS
from .values import format_value
from ..config.units import parse_duration, parse_rate

#: the confidence of the interval an SLO is judged on
CONFIDENCE = 0.95
#: the rule in one sentence, for answers, tables and README
RULE = ("each SLO is judged on the two-sided 95% Student-t interval of the metric's mean over the n replications: "
        "met when the interval's worse end meets the bound (the upper end for < and <=, the lower end for > and >=), "
        "missed when its better end fails it too, when a replication has no value for the metric, or when a run was "
        "stopped by the runaway guard, and undecided otherwise (one replication gives no interval); only met counts")

OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SLO_RE = re.compile(r"^\s*(\w+)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
EXAMPLE = "read_latency_p99<50ms"


@dataclass(frozen=True)
class SLO:
    """One objective, as parsed; ``text`` is what the user wrote."""

    metric: str
    op: str
    bound: float  #: in the metric's base unit (seconds, per second, a fraction)
    text: str

    @property
    def upper(self) -> bool:
        """Whether the bound is an upper limit (``<``, ``<=``): then lower values are better."""
        return self.op in ("<", "<=")

    def holds(self, value: Optional[float]) -> bool:
        """Whether one value meets the bound (a missing or non-finite value never does)."""
        return value is not None and math.isfinite(value) and OPS[self.op](value, self.bound)

    def __str__(self) -> str:
        return self.text


class Status(str, Enum):
    MET = "met"
    MISSED = "missed"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Judgement:
    """One SLO judged on one design's replications (see the module docstring for the rule)."""

    slo: SLO
    status: Status
    n: int  #: replications judged, those without a value included
    missing: int  #: replications without a value for the metric (each fails the SLO)
    mean: Optional[float]  #: mean over the replications with a value
    ci_low: Optional[float]  #: the 95% interval of the mean (None: fewer than two values)
    ci_high: Optional[float]
    end: str  #: what was compared with the bound: "upper end", "lower end", or "" (nothing compared)
    value: Optional[float]  #: that end's value
    reason: str  #: why, in a phrase: "upper end of the 95% CI 41.2ms < 50ms"
    confidence: float = CONFIDENCE

    @property
    def met(self) -> bool:
        return self.status is Status.MET

    def describe(self) -> str:
        """``met (n=3): upper end of the 95% CI 41.2ms < 50ms``."""
        return f"{self.status.value} (n={self.n}): {self.reason}"

    def as_dict(self) -> dict:
        """Plain data for JSON answers."""
        return {"slo": self.slo.text, "status": self.status.value, "met": self.met, "n": self.n, "missing": self.missing,
                "mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high, "end": self.end,
                "value": self.value, "reason": self.reason}


def judge(slo: SLO, values: Iterable[float], stopped: bool = False, confidence: float = CONFIDENCE) -> Judgement:
    """``slo`` against the metric's value in each replication (NaN or None: that replication has no value), on the
    two-sided interval at ``confidence`` (each end of it is a one-sided test at (1 − confidence) / 2)."""

    raw = [math.nan if v is None else float(v) for v in values]
    n = len(raw)
    finite = [v for v in raw if math.isfinite(v)]
    missing = n - len(finite)
    stats = interval(finite, confidence) if finite else {"mean": None, "ci_low": None, "ci_high": None}
    mean = stats["mean"] if finite else None
    low, high = stats["ci_low"], stats["ci_high"]

    def result(status: Status, reason: str, end: str = "", value: Optional[float] = None) -> Judgement:
        return Judgement(slo, status, n, missing, mean, low, high, end, value, reason, confidence)

    show = lambda v: format_value(slo.metric, v)  # noqa: E731
    bound = f"{slo.op} {show(slo.bound)}"
    ci = f"{confidence_text(confidence)} CI"
    if stopped:
        return result(Status.MISSED, "a run was stopped by the runaway guard (limits.max_in_system)")
    if n == 0:
        return result(Status.UNDECIDED, "no replication to judge")
    if missing:
        what = "no replication has a value" if missing == n else f"{missing} of {n} replications have no value"
        return result(Status.MISSED, f"{what} of {slo.metric}, which fails the SLO")
    if low is None or high is None:
        return result(Status.UNDECIDED, f"one replication gives no interval (its value {show(mean)})")
    worse, better = (high, low) if slo.upper else (low, high)
    end, other = ("upper end", "lower end") if slo.upper else ("lower end", "upper end")
    if slo.holds(worse):
        return result(Status.MET, f"{end} of the {ci} {show(worse)} {bound}", end, worse)
    if not slo.holds(better):
        return result(Status.MISSED, f"{other} of the {ci} {show(better)} fails {bound}", other, better)
    return result(Status.UNDECIDED, f"the {ci} {show(low)} to {show(high)} straddles {show(slo.bound)}", end, worse)


def judge_all(slos: Sequence[SLO], per_replication: Callable[[str], Sequence[float]],
              stopped: bool = False, confidence: float = CONFIDENCE) -> list[Judgement]:
    """Every SLO, each against ``per_replication(metric)`` (one value per replication, NaN where none)."""
    return [judge(slo, per_replication(slo.metric), stopped, confidence) for slo in slos]


def all_met(judgements: Iterable[Judgement]) -> bool:
    return all(j.met for j in judgements)


def confidence_text(confidence: float) -> str:
    """``95%``, ``99.3%``, ``99.98%``: a confidence as a percentage, with digits enough that rounding changes what is
    left to 100% by less than 5% of it."""
    percent = confidence * 100
    left = 100 - percent
    for digits in range(0, 8):
        text = f"{percent:.{digits}f}"
        if abs(float(text) - percent) <= 0.05 * left or digits == 7:
            return text + "%"
    return f"{percent}%"


# --- parsing -----------------------------------------------------------------------------------------------
def _number(number: str, raw: str, looks_like: str) -> float:
    try:
        return float(number)
    except ValueError:
        raise ValueError(f"cannot read the bound {raw!r}: write {looks_like}") from None


def _bound(metric: str, raw: str) -> float:
    unit = METRICS[metric][0]
    if unit == "s":
        return parse_duration(raw)
    if unit == "1/s":
        return parse_rate(raw)
    if unit == "/h":  # a price per hour: 4.5 or 4.5/h
        return _number(raw.removesuffix("/h"), raw, "a price per hour, such as 4.5 or 4.5/h")
    if unit == "":  # a fraction: 0.01 or 1%
        fraction = "a fraction, such as 0.01 or 1%"
        return _number(raw[:-1], raw, fraction) / 100 if raw.endswith("%") else _number(raw, raw, fraction)
    return _number(raw, raw, f"a number of {unit}, such as 1000")


def _unknown(metric: str) -> str:
    near = [m for m in METRICS if m.endswith("_" + metric)] or difflib.get_close_matches(metric, METRICS, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(near)}?)" if near else ""
    return f"unknown metric{hint}; use one of {', '.join(METRICS)}"


def _problem(text: str, path: str, message: str) -> Problem:
    return Problem(f"--slo {text}", 0, 0, path, message)


def parse_slo(text: str) -> SLO:
    """One SLO; raises :class:`ScenarioError` with its problem."""
    slo, problem = _parse(text)
    if problem is not None:
        raise ScenarioError([problem])
    assert slo is not None
    return slo


def _parse(text: str) -> tuple[Optional[SLO], Optional[Problem]]:
    match = _SLO_RE.match(text)
    if not match:
        return None, _problem(text, "(--slo)", f"expected METRIC<VALUE, such as '{EXAMPLE}'")
    metric, op, raw = match.groups()
    if metric not in METRICS:
        return None, _problem(text, metric, _unknown(metric))
    try:
        bound = _bound(metric, raw)
    except ValueError as exc:
        return None, _problem(text, metric, str(exc))
    if not math.isfinite(bound):
        return None, _problem(text, metric, f"the bound must be a finite number, got {raw!r}: no value could meet it")
    return SLO(metric, op, bound, text.strip()), None


def parse_slos(texts: Sequence[str], required: bool = True) -> list[SLO]:
    """The ``--slo`` options; raises :class:`ScenarioError` holding one problem per bad SLO, and one per
    metric whose SLOs no value could meet together (or one that no value of the metric can meet)."""
    if not texts and required:
        raise ScenarioError([_problem("", "(--slo)", f"give at least one SLO, such as --slo '{EXAMPLE}'")])
    slos, problems = [], []
    for text in texts:
        slo, problem = _parse(text)
        if problem is not None:
            problems.append(problem)
        else:
            slos.append(slo)
    for metric in dict.fromkeys(s.metric for s in slos):
        problem = _contradiction([s for s in slos if s.metric == metric])
        if problem is not None:
            problems.append(problem)
    if problems:
        raise ScenarioError(problems)
    return slos


def _range(metric: str) -> tuple[float, float]:
    """The values a metric can take: never negative; a fraction (no unit) at most 1."""
    return 0.0, 1.0 if METRICS[metric][0] == "" else math.inf


def _contradiction(slos: list[SLO]) -> Optional[Problem]:
    """Why no value of their metric meets every one of ``slos`` (all on one metric), or None.

    The SLOs bound the metric from below (``>``, ``>=``) and above (``<``, ``<=``); the tightest of each
    side, with the metric's own range, must leave some value.
    """
    metric = slos[0].metric
    show = lambda v: format_value(metric, v)  # noqa: E731
    lowest, highest = _range(metric)
    uppers = [s for s in slos if s.upper]
    lowers = [s for s in slos if not s.upper]
    # the tightest bound of each side: the smallest upper (strict before inclusive), the largest lower
    upper = min(uppers, key=lambda s: (s.bound, s.op == "<="), default=None)
    lower = max(lowers, key=lambda s: (s.bound, s.op == ">"), default=None)
    if upper is not None and lower is not None:
        empty = lower.bound > upper.bound or (lower.bound == upper.bound and (lower.op == ">" or upper.op == "<"))
        if empty:
            return _problem(lower.text, metric, f"contradicts --slo '{upper.text}': no value is both "
                                                f"{lower.op} {show(lower.bound)} and {upper.op} {show(upper.bound)}")
    if upper is not None and (upper.bound < lowest or (upper.bound == lowest and upper.op == "<")):
        return _problem(upper.text, metric, f"no value can be {upper.op} {show(upper.bound)}: "
                                            f"{metric} is never below {show(lowest)}")
    if upper is not None and upper.bound > highest:
        return _problem(upper.text, metric, f"every value is {upper.op} {show(upper.bound)}: {metric} is a fraction, "
                                            f"at most {show(highest)}, so this SLO says nothing (a fraction's bound "
                                            "is 0 to 1, or 0% to 100%)")
    if lower is not None and (lower.bound > highest or (lower.bound == highest and lower.op == ">")):
        return _problem(lower.text, metric, f"no value can be {lower.op} {show(lower.bound)}: "
                                            f"{metric} is a fraction, at most {show(highest)}")
    return None


def check_priced(sources: Sequence[tuple[str, str]], priced: bool) -> None:
    """Refuse cost_per_hour (an SLO's metric, or the minimised one) when the scenario gives no prices:
    ``sources`` are (metric, the option that names it)."""
    for metric, source in sources:
        if metric == "cost_per_hour" and not priced:
            raise ScenarioError([Problem(source, 0, 0, "cost", "the scenario gives no prices, so there is no "
                                         "cost_per_hour: add a cost: block, such as cost: {instance_hour: 0.5}, or "
                                         "--set cost.instance_hour=0.5")])


def needs_interval(replications: int, source: str = "replications") -> None:
    """Refuse a scenario whose replications give no interval to judge an SLO on."""
    if replications < 2:
        raise ScenarioError([Problem(source, 0, 0, "replications",
                                     f"is {replications}: an SLO is judged on the 95% interval over replications, "
                                     "which one replication does not give; set 2 or more, such as "
                                     "--set replications=3")])


__all__ = ["CONFIDENCE", "Judgement", "OPS", "RULE", "SLO", "Status", "all_met", "check_priced", "confidence_text",
           "judge", "judge_all", "needs_interval", "parse_slo", "parse_slos"]
