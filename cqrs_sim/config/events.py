"""What one run schedules, counted before it starts: the event budget and the run-time estimate read it.

Every source of simulation events in :mod:`.model` is one :class:`Kind`
here, with its expected count in one run of one architecture (one
replication): reads (arrivals, plus the writers' read-backs), writes,
streaming replicas' applies, rollout swaps, projection applies and
replays, lag checks, failures and repairs, replication stalls,
autoscaler decisions, read retries.
The counts come from the scenario's rates, intervals and means (a
failure every mtbf + mttr on each instance, a decision every interval, a
swap per replica per rollout, …); they are expectations, not bounds.

:func:`budget_problems` refuses a scenario whose run would schedule more
events than ``limits.max_events``, or keep more rows in memory until it
ends than ``limits.max_rows``, naming the key that drives the count (a
kind over the limit on its own, else the largest kind). ``limits.max_reads``
stays the limit of the largest kind, the read arrivals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .expected import expected_rollout_length, mean_read_rate, write_rate
from .designs import Failures
from .scenario import Scenario, apply_time_of
from .limits import count_text, over_limit
from .format import format_duration


@dataclass(frozen=True)
class Kind:
    """One kind of occurrence a run schedules, and how many it expects."""

    name: str  #: plural noun for messages: "failures", "autoscaler decisions"
    key: str  #: dotted path of the scenario key that drives the count (named in errors)
    count: float  #: expected occurrences in one run
    what: str  #: how the count arises, for messages ("a failure every 2h (mean) on each of 8 replicas over …")
    events: float  #: simulation events each occurrence schedules (timeouts, process steps)
    kept: bool = False  #: each occurrence keeps a row in memory until the run ends (``limits.max_rows``)


def expected_reads(scenario: Scenario) -> float:
    """Reads one run simulates: arrivals over [0, duration), plus the writers' read-backs."""
    reads = mean_read_rate(scenario)[0] * scenario.duration
    writes = scenario.workload.writes
    if writes is not None and writes.read_back is not None:
        reads += expected_writes(scenario) * writes.read_back.probability
    return reads


def expected_writes(scenario: Scenario) -> float:
    """Writes one run simulates."""
    writes = scenario.workload.writes
    if writes is not None and writes.at is not None:
        return float(sum(1 for t in writes.at if t < scenario.duration))
    return write_rate(scenario) * scenario.duration


def write_key(scenario: Scenario) -> str:
    """The key that sets how often writes come."""
    writes = scenario.workload.writes
    given = next((k for k in ("rate", "interval", "trace", "at") if getattr(writes, k, None) is not None), "rate")
    return f"workload.writes.{given}"


def read_key(scenario: Scenario) -> str:
    """The key that sets how many reads come."""
    return "workload.reads.trace" if scenario.workload.reads.trace is not None else "workload.reads.rate"


def _time(seconds: float) -> str:
    return format_duration(seconds, exact=True)


def _duration(scenario: Scenario) -> str:
    return f"duration {_time(scenario.duration)}"


def _cycles(scenario: Scenario, failures: Failures, instances: int, key: str, what: str, events: float, kept: bool,
            back: float = 0.0, free: float = 0.0) -> Kind:
    """Failures of ``instances`` instances, each up for an mtbf draw, down for an mttr draw, then coming back for
    ``back`` seconds (loading a snapshot), until duration. ``free``: seconds at the start during which coming back
    takes no time (a projecting replica with no write yet to replay)."""
    up, down = failures.mtbf.mean, failures.mttr.mean
    free = min(free, scenario.duration)
    per_instance = 0.0
    for span, period in ((free, up + down), (scenario.duration - free, up + down + back)):
        if span > 0:
            per_instance += span / period if period > 0 else math.inf
    coming_back = f", {format_duration(back)} back" if back else ""
    return Kind("failures", f"{key}.mtbf", instances * per_instance,
                f"a failure every {_time(up)} (mean, then {_time(down)} down{coming_back}) on each of "
                f"{instances:,} {what} over {_duration(scenario)}", events, kept)


def _decisions(scenario: Scenario, key: str, interval: float) -> Kind:
    return Kind("autoscaler decisions", f"{key}.interval", math.floor(scenario.duration / interval),
                f"a decision every {_time(interval)} over {_duration(scenario)}", 2, kept=True)


def commit_rate(scenario: Scenario) -> float:
    """Commits per second on the CQRS write image while writes keep coming: the arrivals, or what the write servers
    can apply if that is less (a backlog then commits at that pace after the arrivals stop)."""
    apply = apply_time_of(scenario, "cqrs")
    capacity = scenario.cqrs.write_servers / apply.mean if apply is not None and apply.mean > 0 else math.inf
    return min(write_rate(scenario), capacity)


def _first_delivery(scenario: Scenario) -> float:
    """When the first committed write reaches the projectors, on average: its arrival, apply and trigger delay
    (never, without writes)."""
    writes = scenario.workload.writes
    if writes is None:
        return scenario.duration
    if writes.at is not None:
        first = min(writes.at, default=scenario.duration)
    elif writes.trace is not None:
        first = float(writes.trace.times[0]) if len(writes.trace.times) else scenario.duration
    else:
        rate = write_rate(scenario)
        first = 1 / rate if rate > 0 else scenario.duration
    apply = apply_time_of(scenario, "cqrs")
    return first + (apply.mean if apply is not None else 0.0) + scenario.cqrs.sync.trigger_delay


def expected_rollouts(scenario: Scenario, writes: float) -> float:
    """Rollouts in one run. Rollouts are serialized and one follows a running one only if a commit came meanwhile,
    so a rollout of length L ships c·L + e^(−c·L) commits on average at c commits a second: every commit gets its
    own rollout when they are rare, and rollouts run back to back when they are not."""
    if writes <= 0:
        return 0.0
    shipped = commit_rate(scenario) * expected_rollout_length(scenario)
    return writes / (shipped + math.exp(-shipped)) if math.isfinite(shipped) else 1.0


def expected_attempts(scenario: Scenario) -> float:
    """Attempts per read with retries: an attempt times out when its handler and query time alone pass the
    timeout (queueing left out), with probability p, so 1 + p + … + p^retries of them."""
    reads = scenario.workload.reads
    if reads.timeout is None:
        return 1.0
    left = reads.timeout - reads.handler_time.mean
    late = 1.0 - float(reads.query_time.cdf(np.asarray([left]))[0]) if left > 0 else 1.0
    return sum(late**k for k in range(reads.retries + 1))


def run_kinds(scenario: Scenario, architecture: str) -> list[Kind]:
    """Every kind of occurrence one run of ``architecture`` schedules, with its expected count."""
    reads = scenario.workload.reads
    per_read = 2 + (reads.handler_time.mean > 0) + (reads.timeout is not None)  # arrival, handler, query, timeout
    rate = mean_read_rate(scenario)[0]
    kinds = [Kind("reads", read_key(scenario), rate * scenario.duration,
                  f"a mean {rate:g} reads/s over {_duration(scenario)}", per_read)]
    if reads.timeout is not None and reads.retries:
        attempts = expected_attempts(scenario)
        retries = f"{reads.retries} {'retry' if reads.retries == 1 else 'retries'}"
        kinds.append(Kind("read retries", "workload.reads.retries", rate * scenario.duration * (attempts - 1),
                          f"about {attempts:.3g} attempts per read ({retries} after a timeout of "
                          f"{_time(reads.timeout)}) at a mean {rate:g} reads/s over {_duration(scenario)}",
                          per_read, kept=True))
    writes = expected_writes(scenario)
    writing = scenario.workload.writes
    if writing is not None:
        key = write_key(scenario)
        kinds.append(Kind("writes", key, writes, f"{write_rate(scenario):g} writes/s over {_duration(scenario)}", 3,
                          kept=True))
        if writing.read_back is not None:
            kinds.append(Kind("read-backs", "workload.writes.read_back.probability",
                              writes * writing.read_back.probability,
                              f"{writing.read_back.probability:g} of {count_text(writes)} writes read back",
                              per_read + 1, kept=True))
    if architecture == "crud":
        kinds += _crud_kinds(scenario, writes)
    else:
        kinds += _cqrs_kinds(scenario, writes)
    return kinds


def _lag_checks(scenario: Scenario, writes: float, replicas: float) -> list[Kind]:
    """With a lag limit, each commit starts a clock on each replica that held every version until then."""
    if not writes:
        return []
    return [Kind("lag checks", write_key(scenario), writes * replicas,
                 f"{count_text(writes)} writes, each clocked on up to {replicas:,g} read replicas (max_lag)", 1)]


def _crud_kinds(scenario: Scenario, writes: float) -> list[Kind]:
    crud, kinds = scenario.crud, []
    auto = crud.replica_autoscale
    slots = auto.max if auto is not None else crud.replicas  # every slot applies the stream
    if crud.replicas and writes:
        kinds.append(Kind("replica applies", write_key(scenario), writes * slots,
                          f"{count_text(writes)} writes applied by each of {slots:,} read replicas", 1))
        if crud.max_lag is not None:
            kinds += _lag_checks(scenario, writes, slots)
    if crud.failures is not None:
        kinds.append(_cycles(scenario, crud.failures, 1 + crud.replicas, "crud.failures",
                             "instances (the primary and its read replicas)", 3, kept=True))
    if crud.replication_stalls is not None and crud.replicas:
        stalls = crud.replication_stalls
        period = stalls.every.mean + stalls.duration.mean
        kinds.append(Kind("stalls", "crud.replication_stalls.every",
                          crud.replicas * scenario.duration / period if period > 0 else math.inf,
                          f"a stall every {_time(stalls.every.mean)} (mean) on each of {crud.replicas:,} read replicas "
                          f"over {_duration(scenario)}", 3))
    if auto is not None:
        kinds.append(_decisions(scenario, "crud.replica_autoscale", auto.interval))
    return kinds


def _cqrs_kinds(scenario: Scenario, writes: float) -> list[Kind]:
    cqrs, kinds = scenario.cqrs, []
    count = cqrs.replicas.count
    auto = cqrs.autoscale
    members = count if auto is None else (count + auto.max) / 2  # the elastic pool's size is known only by running it
    sync, failing = cqrs.sync, cqrs.replicas.failures
    if sync.strategy == "projection":
        if failing is not None:  # a repaired replica replays the log: at once while it is empty, longer and longer
            replay = (writes / 2) * sync.projection_time.mean  # on average half the run's writes
            failures = _cycles(scenario, failing, count, "cqrs.replicas.failures", "read replicas", 4, kept=True,
                               back=replay, free=_first_delivery(scenario))
            kinds.append(failures)
            if writes:
                kinds.append(Kind("projection replays", failures.key, failures.count * writes / 2,
                                  f"{count_text(failures.count)} failures, each replaying about "
                                  f"{count_text(writes / 2)} writes", 1))
        if writes:
            kinds.append(Kind("projection applies", write_key(scenario), writes * count,
                              f"{count_text(writes)} writes applied by each of {count:,} projecting replicas", 1))
    else:
        rollouts = expected_rollouts(scenario, writes)
        if failing is not None:  # a repaired replica loads a snapshot; one being swapped draws its next failure again
            kinds.append(_cycles(scenario, failing, count, "cqrs.replicas.failures", "read replicas", 4, kept=True,
                                 back=sync.replace_time.mean))
            swapped = rollouts * sync.replace_time.mean  # seconds each replica spends swapped
            up = failing.mtbf.mean
            if swapped:
                kinds.append(Kind("failures skipped during swaps", "cqrs.replicas.failures.mtbf",
                                  count * swapped / up if up > 0 else math.inf,
                                  f"a failure every {_time(up)} (mean) falling due while each of {count:,} read "
                                  f"replicas is swapped ({format_duration(swapped)} in all)", 2))
        if writes:
            kinds.append(Kind("rollout swaps", write_key(scenario), rollouts * members,
                              f"about {count_text(rollouts)} rollouts of {members:,g} read replicas", 6, kept=True))
    if cqrs.replicas.max_lag is not None:
        kinds += _lag_checks(scenario, writes, members)
    if cqrs.write_server_failures is not None:
        kinds.append(_cycles(scenario, cqrs.write_server_failures, cqrs.write_servers, "cqrs.write_server_failures",
                             "write servers", 3, kept=False))
    if auto is not None:
        kinds.append(_decisions(scenario, "cqrs.autoscale", auto.interval))
    return kinds


def events_per_run(kinds: list[Kind]) -> float:
    return sum(k.count * k.events for k in kinds)


def rows_per_run(kinds: list[Kind]) -> float:
    return sum(k.count for k in kinds if k.kept)


def budget_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Runs too large to simulate, as (key, message): over ``limits.max_reads`` (read arrivals),
    ``limits.max_events`` (every event of a run) or ``limits.max_rows`` (rows a run keeps until it ends).

    A kind over a limit on its own is named by its key; when only the sum of the
    kinds is over, the largest kind's key is named. One line per key.
    """
    limits = scenario.limits
    found: dict[str, str] = {}

    def check(path: str, limit: str, value: float, what: str) -> None:
        message = over_limit(limit, value, what, limits)
        if message is not None and path not in found:
            found[path] = message

    rate = mean_read_rate(scenario)[0]
    check(read_key(scenario), "max_reads", rate * scenario.duration,
          f"a mean {rate:g} reads/s over duration {scenario.duration:g}s gives about {{n}} reads per run")
    for architecture in scenario.architectures:
        kinds = run_kinds(scenario, architecture)
        for kind in kinds:
            check(kind.key, "max_events", kind.count * kind.events, f"{kind.what} gives about "
                  f"{count_text(kind.count)} {kind.name} per run, that is {{n}} simulation events")
            if kind.kept:
                check(kind.key, "max_rows", kind.count,
                      f"{kind.what} gives about {{n}} {kind.name} per run, each kept in memory until the run ends")
        for limit, total, share, unit in (("max_events", events_per_run(kinds), lambda k: k.count * k.events, "events"),
                                          ("max_rows", rows_per_run(kinds), lambda k: k.count * k.kept,
                                           "rows kept in memory until the run ends")):
            if total > getattr(limits, limit):
                largest = max(kinds, key=share)
                check(largest.key, limit, total,
                      f"{largest.what} gives about {count_text(largest.count)} {largest.name} per run; with every "
                      f"other kind, a {architecture} run has about {{n}} {unit}")
    return list(found.items())
