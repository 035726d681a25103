"""The verdict written from the numbers: a decision first, then one line per headline metric.

The decision says what each design buys and what it pays (read latency,
fresh data, reliability, write latency, cost: per hour at the scenario's
prices when it gives them, else in instance-hours) and which
one wins for which priority. Only significant differences count
(:func:`cqrs_sim.core.intervals.compare`: the paired 95% interval of cqrs − crud
excludes zero and the difference reaches the smallest difference that
counts for the metric's kind, the scenario's ``verdict.min_difference``),
and the verdict says which threshold it used.
An architecture stopped by the runaway guard (``limits.max_in_system``)
has numbers that cover only what finished before: no conclusion is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

from .outages import outage_lines
from .definitions import LOWER_IS_BETTER, METRICS, NEUTRAL
from ..core.intervals import RELEVANT, compare, finite_or_none
from ..config.fields import ARCHITECTURES
from ..config.scenario import apply_time_of, MinDifference, query_time_of, threshold_parts
from ..config.format import format_duration, format_rate
from .values import format_value

if TYPE_CHECKING:
    import pandas as pd

    from ..config.scenario import Scenario
    from ..io.results import Results

#: metric -> what it is called in a sentence
HEADLINE = {
    "read_latency_p50": "median read latency",
    "read_latency_p99": "p99 read latency",
    "read_latency_p999": "p99.9 read latency",
    "read_latency_max": "worst read latency",
    "write_latency_mean": "mean write latency",
    "stale_read_fraction": "stale-read fraction",
    "staleness_mean": "mean staleness",
    "visibility_window_mean": "time for a write to reach every replica",
    "visibility_t99": "time until 99% of reads see a write",
    "read_your_writes_violations": "writers not seeing their own write",
    "monotonic_read_violations": "reads going back to an older version than the client saw",
    "reads_failed": "reads failed (client timeouts, server failures)",
    "replica_seconds": "instance time (the cost)",
    "cost_per_hour": "cost per hour (at the scenario's prices)",
    "db_utilization": "database connection utilisation",
}

#: the priorities a decision weighs: (what matters, metric, how a value reads, what the winner buys, what the loser pays)
PRIORITIES = (
    ("read latency", "read_latency_p99", "p99 {}", "lower read latency", "slower reads"),
    ("fresh data", "stale_read_fraction", "{} stale", "fresher data", "stale reads"),
    ("reliability", "reads_failed", "{} failed reads", "fewer failed reads", "more failed reads"),
    ("write latency", "write_latency_mean", "mean {}", "faster writes", "slower writes"),
    ("users seeing their own writes", "read_your_writes_violations", "{} of writers missing their write",
     "writers who see their own writes", "writers missing their own writes"),
    ("monotonic reads", "monotonic_read_violations", "{} of reads going back in time",
     "reads that never go back in time", "reads going back in time"),
)
#: the priorities named by a plural noun: "If monotonic reads matter most"
PLURAL = frozenset({"monotonic reads"})
COST = "replica_seconds"  #: the cost in instance-hours, always measured
PRICED = "cost_per_hour"  #: the cost at the scenario's prices, when it gives them (cost:); preferred
NAMES = {"crud": "CRUD", "cqrs": "CQRS"}


#: what each kind of metric is called in a sentence
KIND_NAMES = {"time": "times", "fraction": "shares", "rate": "rates", "count": "counts", "cost": "costs"}
DEFAULT_MIN_DIFFERENCE = MinDifference()


def threshold_for(metric: str, min_difference: Optional[MinDifference] = None) -> tuple[float, float]:
    """(share of the larger value, amount) below which a difference in ``metric`` does not count."""
    if metric not in METRICS:
        return RELEVANT, 0.0
    return threshold_parts(getattr(min_difference or DEFAULT_MIN_DIFFERENCE, METRICS[metric].kind))


def describe_threshold(kind: str, min_difference: Optional[MinDifference] = None) -> str:
    """A kind's threshold in words: "5% of the larger value", "1ms", "0.1 percentage points"."""
    value = getattr(min_difference or DEFAULT_MIN_DIFFERENCE, kind)
    share, amount = threshold_parts(value)
    if share or not amount:
        return f"{value} of the larger value" if isinstance(value, str) else "any amount"
    if kind == "time":
        return format_duration(amount)
    if kind == "rate":
        return format_rate(amount)
    if kind == "fraction":
        points = amount * 100
        return f"{points:g} percentage point{'' if points == 1 else 's'}"
    return f"{amount:g}"


def thresholds_sentence(min_difference: Optional[MinDifference] = None) -> str:
    """Which thresholds the verdict used, kinds sharing one grouped: "... 5% of the larger value for times,
    rates, counts and costs; 0.1 percentage points for shares (verdict.min_difference)."."""
    groups: dict[str, list[str]] = {}
    for kind, name in KIND_NAMES.items():
        groups.setdefault(describe_threshold(kind, min_difference), []).append(name)
    said = "; ".join(f"{text} for {_join(names)}" for text, names in groups.items())
    return (f"A difference counts when its paired 95% interval excludes 0 and it reaches {said} "
            "(verdict.min_difference).")


def _values(summary: pd.DataFrame, diff: pd.DataFrame, metric: str) -> tuple | None:
    """(crud, cqrs, mean, low, high) of one metric, or None when it is missing."""
    means = summary[summary["metric"] == metric].set_index("architecture")["mean"]
    row = diff[diff["metric"] == metric]
    if row.empty or "crud" not in means or "cqrs" not in means:
        return None
    row = row.iloc[0]
    return (finite_or_none(means["crud"]), finite_or_none(means["cqrs"]), finite_or_none(row["mean"]),
            finite_or_none(row.get("ci_low")), finite_or_none(row.get("ci_high")))


def winner(metric: str, crud: Any, cqrs: Any, mean: Any, low: Any, high: Any,
           min_difference: Optional[MinDifference] = None) -> str:
    """'crud' or 'cqrs' when the difference is significant and the metric has a better direction;
    'differs' for a significant difference in a neutral metric; else what :func:`compare` says."""
    state = compare(crud, cqrs, mean, low, high, threshold_for(metric, min_difference))
    if state != "significant":
        return state
    if metric in NEUTRAL:
        return "differs"
    return "cqrs" if (mean < 0) == (metric in LOWER_IS_BETTER) else "crud"


def stopped_architectures(incomplete: Iterable[dict]) -> list[str]:
    return sorted({run["architecture"] for run in incomplete})


#: counts that together hold every read arriving in the measured window
READ_COUNTS = ("reads_completed", "reads_failed")


def unmeasured(summary: pd.DataFrame) -> list[str]:
    """Architectures that measured no read in any replication: nothing about reads can be judged from them
    (a summary without the counts says nothing either way)."""
    counted = summary[summary["metric"].isin(READ_COUNTS)]
    totals = counted.groupby("architecture")["mean"].sum(min_count=len(READ_COUNTS))
    return [arch for arch in ARCHITECTURES if arch in totals.index and totals[arch] == 0]


def verdict(summary: pd.DataFrame, diff: pd.DataFrame, incomplete: Iterable[dict] = (),
            min_difference: Optional[MinDifference] = None) -> list[tuple[str, str, str]]:
    """(metric, winner: 'crud' | 'cqrs' | 'none' | 'unknown', sentence) per headline metric, a difference
    counting from ``min_difference`` (default: the schema's).

    With a stopped architecture every line only reports the numbers (winner 'unknown').
    """
    archs = set(summary["architecture"])
    if not set(ARCHITECTURES) <= archs:
        return []
    stopped = stopped_architectures(incomplete)
    if unmeasured(summary):
        return []  # the decision says why there is no verdict
    out = []
    for metric, name in HEADLINE.items():
        values = _values(summary, diff, metric)
        if values is None or values[0] is None or values[1] is None:
            continue
        crud, cqrs, mean, low, high = values
        if metric == "reads_failed" and crud == 0 and cqrs == 0:
            continue  # no client timeouts configured, or none that failed: nothing to say
        both = f"crud {format_value(metric, crud)}, cqrs {format_value(metric, cqrs)}"
        title = name[0].upper() + name[1:]
        if stopped:
            out.append((metric, "unknown", f"{title}: {both} (incomplete: {' and '.join(stopped)} stopped, no verdict)."))
            continue
        state = winner(metric, crud, cqrs, mean, low, high, min_difference)
        if state == "unknown":
            out.append((metric, "unknown", f"{title}: {both}; one replication gives no interval, so no verdict."))
            continue
        interval = f"cqrs − crud {format_value(metric, mean)}, 95% CI {format_value(metric, low)} to {format_value(metric, high)}"
        if state == "same":
            out.append((metric, "none", f"{title}: the same in both ({both})."))
        elif state == "unclear":
            out.append((metric, "none", f"{title}: no clear difference ({both}; {interval})."))
        elif state == "negligible":
            kind = METRICS[metric].kind
            out.append((metric, "none", f"{title}: practically the same ({both}; the difference, "
                                        f"{format_value(metric, mean)}, is under "
                                        f"{describe_threshold(kind, min_difference)}, the smallest that counts for "
                                        f"{KIND_NAMES[kind]}: verdict.min_difference.{kind})."))
        elif state == "differs":
            busier = "cqrs" if mean > 0 else "crud"
            out.append((metric, "none", f"{title}: {busier} keeps its connections busier ({both}; {interval}); "
                                        "neither good nor bad in itself: busier connections leave less headroom "
                                        "before queues build."))
        else:
            better, worse = (cqrs, crud) if state == "cqrs" else (crud, cqrs)
            out.append((metric, state, f"{title}: {state} is better ({both}{_ratio(metric, better, worse)}; {interval})."))
    return out


def _ratio(metric: str, better: float, worse: float) -> str:
    if metric not in LOWER_IS_BETTER or better <= 0 or worse / better < 2:
        return ""
    ratio = worse / better
    return f": {ratio:,.0f}× lower" if ratio >= 10 else f": {ratio:.1f}× lower"


def _times(a: float, b: float) -> str:
    ratio = a / b
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def decision(summary: pd.DataFrame, diff: pd.DataFrame, incomplete: Iterable[dict] = (),
             scenario: Optional[Scenario] = None) -> str:
    """One paragraph: what each design buys and pays, and which wins for which priority
    (and, given the ``scenario``, what drives it: see :func:`reasons`; its ``verdict.min_difference`` says
    what counts as a difference), ending with the thresholds used."""
    incomplete = list(incomplete)
    min_difference = scenario.verdict.min_difference if scenario is not None else None
    archs = [a for a in ARCHITECTURES if a in set(summary["architecture"])]
    refusal = _no_comparison(summary, archs, incomplete)
    if refusal is not None:
        return refusal
    decided, even, unknown = _priority_outcomes(summary, diff, min_difference)
    cost_note = _cost_outcome(summary, diff, min_difference, decided, even, unknown)
    sentences = [_lead(decided, even, unknown)] + _priority_sentences(decided)
    if cost_note:
        sentences.append(cost_note)
    sentences += _undecided_sentences(even, unknown)
    sentences.append(thresholds_sentence(min_difference))
    if scenario is not None:
        why = reasons(scenario, summary)
        if why:
            sentences.append("Why: " + " ".join(why))
    return " ".join(sentences)


#: one decided priority: (priority, winning architecture, what it gains, what the other pays, the numbers)
Decided = tuple[str, str, str, str, str]


def _no_comparison(summary: pd.DataFrame, archs: list[str], incomplete: list[dict]) -> Optional[str]:
    """Why nothing is compared (a stopped run, no read in the window, one architecture), or None."""
    stopped = stopped_architectures(incomplete)
    if stopped:
        return _no_decision(archs, stopped, incomplete)
    empty = unmeasured(summary)
    if empty:
        return (f"No verdict: no read arrived in the measured window in any replication of {_join([NAMES[a] for a in empty])}, "
                "so every read metric is undefined and nothing is compared. Give the scenario reads that arrive "
                "between warmup and duration (a higher rate, a longer duration, or a trace that covers the window).")
    if len(archs) < 2:
        return "Only one architecture was simulated: nothing to compare."
    return None


def _priority_outcomes(summary: pd.DataFrame, diff: pd.DataFrame,
                       min_difference: Optional[MinDifference]) -> tuple[list[Decided], list[str], list[str]]:
    """Each priority of :data:`PRIORITIES` judged: (decided, even, unknown)."""
    decided: list[Decided] = []
    even: list[str] = []
    unknown: list[str] = []
    for priority, metric, template, gain, loss in PRIORITIES:
        values = _values(summary, diff, metric)
        if values is None or values[0] is None or values[1] is None:
            continue
        crud, cqrs = values[0], values[1]
        if metric == "reads_failed" and crud == 0 and cqrs == 0:
            continue
        state = winner(metric, *values, min_difference)
        if state in ARCHITECTURES:
            mine, theirs = (crud, cqrs) if state == "crud" else (cqrs, crud)
            detail = f"{template.format(format_value(metric, mine))} vs {format_value(metric, theirs)}"
            decided.append((priority, state, gain, loss, detail))
        else:
            (unknown if state == "unknown" else even).append(priority)
    return decided, even, unknown


def _cost_outcome(summary: pd.DataFrame, diff: pd.DataFrame, min_difference: Optional[MinDifference],
                  decided: list[Decided], even: list[str], unknown: list[str]) -> str:
    """Cost judged like a priority (added to ``decided``, ``even`` or ``unknown``); the sentence saying how much
    more the dearer design costs, or "" when neither is cheaper."""
    metric = PRICED if _values(summary, diff, PRICED) is not None else COST
    cost = _values(summary, diff, metric)
    cost_state = winner(metric, *cost, min_difference) if cost is not None and None not in cost[:2] else "missing"
    if cost_state in ARCHITECTURES:
        cheap, dear = (cost_state, "cqrs" if cost_state == "crud" else "crud")
        cheap_value, dear_value = (cost[0], cost[1]) if cheap == "crud" else (cost[1], cost[0])
        if metric == PRICED:
            more = f"{_times(dear_value, cheap_value)} as much per hour" if cheap_value > 0 else "more per hour"
        else:
            more = f"{_times(dear_value, cheap_value)} the instance-hours" if cheap_value > 0 else "more instance-hours"
        decided.append(("cost", cheap, "lower cost", more,
                        f"{format_value(metric, cheap_value)} vs {format_value(metric, dear_value)}"))
        return f"{NAMES[dear]} costs {more}."
    if cost_state != "missing":
        (unknown if cost_state == "unknown" else even).append("cost")
    return ""


def _lead(decided: list[Decided], even: list[str], unknown: list[str]) -> str:
    """The paragraph's first sentence: what CQRS buys and pays, or who wins, or that nothing is decided."""
    cqrs_wins = [d for d in decided if d[1] == "cqrs"]
    crud_wins = [d for d in decided if d[1] == "crud"]
    if cqrs_wins and crud_wins:
        return f"CQRS buys {_join([d[2] for d in cqrs_wins])} and pays with {_join([d[3] for d in crud_wins])}."
    if decided:
        best = "CQRS" if cqrs_wins else "CRUD"
        return f"{best} wins on everything that differs significantly: {_join([d[2] for d in decided])}."
    if unknown and not even:
        return "No decision yet."
    return "Neither design wins on anything that differs significantly here."


def _priority_sentences(decided: list[Decided]) -> list[str]:
    """One sentence per decided priority: which design to pick if it matters most."""
    return [f"If {priority} {'matter' if priority in PLURAL else 'matters'} most: {NAMES[arch]} ({detail})."
            for priority, arch, _, _, detail in decided]


def _undecided_sentences(even: list[str], unknown: list[str]) -> list[str]:
    """What differs by no significant amount, and what one replication cannot decide."""
    out = []
    if even:
        out.append(f"No significant difference in {_join(even)}.")
    if unknown:
        out.append(f"One replication gives no interval, so nothing is decided on {_join(unknown)}: "
                   "run more replications.")
    return out


def _no_decision(archs: list[str], stopped: list[str], incomplete: list[dict]) -> str:
    runs = "; ".join(f"{run['architecture']} replication {run['replication'] + 1} stopped at t = "
                     f"{format_duration(run['stopped_at'])}" for run in incomplete)
    finished = [NAMES[a] for a in archs if a not in stopped]
    tail = (f" {_join(finished)} finished every replication, but is not compared with a stopped run."
            if finished else "")
    return (f"Incomplete run: no decision. {_join([NAMES[a] for a in stopped])} was stopped by the runaway guard "
            f"(limits.max_in_system: {runs}): it cannot keep up with this load, and its numbers cover only what "
            f"finished before the stop, so no conclusion is drawn from them.{tail} "
            "See `cqrs-sim check` for the offered load.")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


#: a ratio of the designs' own costs below this is not called a driver
_DRIVER_RATIO = 1.2


def reasons(scenario: Scenario, summary: pd.DataFrame) -> list[str]:
    """What drives the result, one sentence each: the designs' own query and apply times (when they differ), and
    how much of CQRS's staleness a reader actually meets (stale for the key it reads, against a replica that is
    merely behind)."""

    out = []
    archs = set(summary["architecture"])
    if set(ARCHITECTURES) <= archs:
        crud_q, cqrs_q = query_time_of(scenario, "crud").mean, query_time_of(scenario, "cqrs").mean
        if max(crud_q, cqrs_q) >= _DRIVER_RATIO * min(crud_q, cqrs_q) > 0:
            if cqrs_q < crud_q:
                out.append(f"CQRS reads are {_times(crud_q, cqrs_q)} cheaper on the read model "
                           f"(mean query {format_duration(cqrs_q)} against {format_duration(crud_q)} on CRUD's schema).")
            else:
                out.append(f"CQRS's read model is {_times(cqrs_q, crud_q)} slower to query "
                           f"(mean {format_duration(cqrs_q)} against {format_duration(crud_q)} on CRUD's schema).")
        crud_a, cqrs_a = apply_time_of(scenario, "crud"), apply_time_of(scenario, "cqrs")
        if crud_a is not None and cqrs_a is not None:
            a, b = crud_a.mean, cqrs_a.mean
            if max(a, b) >= _DRIVER_RATIO * min(a, b) > 0:
                faster, slower = ("CQRS", "CRUD") if b < a else ("CRUD", "CQRS")
                out.append(f"{faster} writes apply {_times(max(a, b), min(a, b))} faster "
                           f"(mean {format_duration(min(a, b))} against {format_duration(max(a, b))} on {slower}).")
        crud = scenario.crud
        if crud_a is not None and crud.locking == "exclusive" and not crud.replicas:
            out.append(f"Each CRUD write locks the whole database while it applies (mean {format_duration(crud_a.mean)}): "
                       "reads arriving meanwhile wait for it.")
    means = summary.set_index(["architecture", "metric"])["mean"]
    for arch in ARCHITECTURES:
        by_key = finite_or_none(means.get((arch, "stale_read_fraction")))
        by_version = finite_or_none(means.get((arch, "stale_version_fraction")))
        if by_key is None or by_version is None or by_version <= 0 or getattr(scenario.workload, "keys", None) is None:
            continue
        out.append(f"{format_value('stale_read_fraction', by_key)} of {NAMES[arch]} reads were stale for the key "
                   f"they read; {format_value('stale_version_fraction', by_version)} hit a replica at least one "
                   "version behind.")
    return out


def format_headline(results: Results) -> list[str]:
    """The verdict for the terminal: the decision paragraph, then one sentence per headline metric."""
    summary, diff = results.summary(), results.differences()
    lines = verdict(summary, diff, results.incomplete, results.scenario.verdict.min_difference)
    return ([decision(summary, diff, results.incomplete, results.scenario)] + [text for _, _, text in lines]
            + outage_lines(results))
