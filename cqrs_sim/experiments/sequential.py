"""Sequential evaluation: replications of each design one at a time, until every SLO is decided.

The procedure (for ``optimize`` and ``capacity``): a design's SLOs are
judged by :func:`cqrs_sim.analysis.slo.judge` at fixed numbers of replications, the
*looks* (2, 3, 5, 8, 12, 18, … up to a maximum, 20 by default). At a look,
an SLO not yet decided is judged on the design's first n replications by a
one-sided Student-t test at level α_test in each direction: *met* when the
worse end of the two-sided interval at 1 − 2 α_test meets the bound,
*missed* when its better end fails it (or a replication has no value, or a
run was stopped by the runaway guard). A decided SLO stays decided; a
design is *proven* once every SLO is met, *rejected* once one is missed
(it gets no more replications), and *undecided* when the last look leaves
an SLO undecided.

The guarantee: α_test = α / (D × S × K), Bonferroni over the D designs that
may be simulated, their S SLOs and the K looks. So, if each design's
replication means are normal (the t tests' assumption), with probability at
least 1 − α every met or missed decision of the whole search is right, at
any look: a design proven meets every SLO, a design rejected misses one.
Every design's replication k uses seed stream k (common random numbers),
so designs are compared on the same arrivals and draws.

Replications run on any ``concurrent.futures.Executor`` (a local pool, a
Dask cluster); :class:`Evaluator` keeps up to ``width`` of them in flight,
giving them to the first candidates in the order given (the cheapest first)
up to each one's next look.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .executors import WorkerDied, default_jobs
from .simulate import format_eta, run_task
from ..analysis.slo import SLO, Judgement, Status, confidence_text, judge

#: the default largest number of replications of one design
MAX_REPLICATIONS = 20
#: the default probability that every decision is right
CONFIDENCE = 0.95

WAITING, PROVEN, REJECTED, UNDECIDED, SCREENED, NOT_NEEDED, FAILED = (
    "waiting", "proven", "rejected", "undecided", "screened", "not needed", "failed")


def looks(maximum: int = MAX_REPLICATIONS) -> tuple[int, ...]:
    """The replication counts at which SLOs are judged: 2, 3, then about 1.5 times the last, ending at ``maximum``."""
    if maximum < 2:
        raise ValueError("a design needs at least 2 replications to be judged")
    counts = [2]
    while counts[-1] < maximum:
        counts.append(min(maximum, max(counts[-1] + 1, math.ceil(counts[-1] * 1.5))))
    return tuple(counts)


@dataclass(frozen=True)
class Guarantee:
    """How the error probability ``1 − confidence`` is split (see the module docstring)."""

    confidence: float
    designs: int
    slos: int
    looks: tuple[int, ...]

    @property
    def alpha_test(self) -> float:
        """The error of one one-sided test."""
        return (1 - self.confidence) / (max(1, self.designs) * max(1, self.slos) * len(self.looks))

    @property
    def test_confidence(self) -> float:
        """The two-sided interval whose ends are the one-sided tests."""
        return 1 - 2 * self.alpha_test

    def text(self) -> str:
        looks_text = ", ".join(str(n) for n in self.looks)
        return (f"with probability at least {confidence_text(self.confidence)} every SLO decision is right "
                f"(one-sided Student-t tests on the replication means at level {self.alpha_test:.2g} each: "
                f"Bonferroni over {self.designs} design(s) × {self.slos} SLO(s) × {len(self.looks)} looks at "
                f"n = {looks_text} replications; a decided SLO stays decided; common random numbers)")

    def as_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "designs": self.designs, "slos": self.slos, "looks": list(self.looks),
                "alpha_per_test": self.alpha_test, "procedure": self.text()}


@dataclass
class Candidate:
    """One design under sequential evaluation."""

    index: int  #: its place in the grid
    label: str
    architecture: str
    scenario: Any  #: the design's Scenario
    key: str = ""  #: its sweep point's key
    bounds: Optional[tuple[float, float]] = None  #: of the minimised metric, known before simulating
    status: str = WAITING
    reason: str = ""  #: why screened, failed or not simulated
    rows: dict[int, dict] = field(default_factory=dict)  #: replication -> its metrics row
    running: set[int] = field(default_factory=set)  #: replications in flight
    decided: dict[int, Judgement] = field(default_factory=dict)  #: SLO index -> its decision, once decided
    judgements: list[Judgement] = field(default_factory=list)  #: at the latest look, decided ones kept
    seconds: float = 0.0  #: CPU seconds one replication is estimated to take (:mod:`.estimate`)
    judged_at: int = 0  #: replications at the latest look

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def stopped(self) -> bool:
        return any(not math.isnan(row.get("stopped_at", math.nan)) for row in self.rows.values())

    def values(self, metric: str, n: int) -> list[float]:
        return [self.rows[k].get(metric, math.nan) for k in range(n)]

    def next_look(self, all_looks: tuple[int, ...]) -> int:
        return next((n for n in all_looks if n > self.judged_at), all_looks[-1])


def run_replication(scenario, architecture: str, replication: int) -> dict:
    """One replication's metrics row (the task sent to a worker)."""
    row, _, _ = run_task(scenario, architecture, replication, replication, None, False)
    return row


def judge_look(candidate: Candidate, slos: list[SLO], guarantee: Guarantee, n: int) -> None:
    """Judge the SLOs not yet decided on the first ``n`` replications; set the candidate's status."""
    judgements = []
    for k, slo in enumerate(slos):
        if k in candidate.decided:
            judgements.append(candidate.decided[k])
            continue
        judged = judge(slo, candidate.values(slo.metric, n), candidate.stopped, guarantee.test_confidence)
        if judged.status is not Status.UNDECIDED:
            candidate.decided[k] = judged
        judgements.append(judged)
    candidate.judgements, candidate.judged_at = judgements, n
    if any(j.status is Status.MISSED for j in judgements):
        candidate.status = REJECTED
    elif all(j.status is Status.MET for j in judgements):
        candidate.status = PROVEN
    elif n >= guarantee.looks[-1]:
        candidate.status = UNDECIDED


@dataclass
class Tally:
    """What the evaluation has done so far, for the progress display."""

    counts: dict[str, int]
    replications: int  #: finished
    running: int
    eta: Optional[float]  #: seconds, None before anything is known

    def line(self, name: str) -> str:
        parts = ", ".join(f"{self.counts.get(s, 0)} {s}" for s in (SCREENED, PROVEN, REJECTED, UNDECIDED))
        eta = "" if self.eta is None else f", ETA {format_eta(self.eta)}"
        return f"{name}: {parts}; {self.replications} replications run, {self.running} running{eta}"


class Evaluator:
    """Runs replications of candidates on an executor until each is decided (or not eligible any more)."""

    def __init__(self, executor: Executor, slos: list[SLO], guarantee: Guarantee, width: int,
                 progress: Optional[Callable[[Tally], None]] = None, clock: Callable[[], float] = time.monotonic):
        self.executor, self.slos, self.guarantee = executor, slos, guarantee
        self.width = max(1, width)
        self.progress = progress
        self.clock = clock
        self.finished = 0  #: replications finished
        self.began = clock()
        self.spent_estimate = 0.0  #: estimated CPU seconds of the finished replications

    def run(self, candidates: list[Candidate], eligible: Callable[[Candidate], bool] = lambda c: True) -> None:
        """Evaluate ``candidates`` (in the order given: the first get workers first) while ``eligible``."""
        futures: dict[Future, tuple[Candidate, int]] = {}
        try:
            while True:
                self._submit(candidates, eligible, futures)
                if not futures:
                    break
                done, _ = wait(list(futures), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    candidate, replication = futures.pop(future)
                    candidate.running.discard(replication)
                    self._finished(candidate, replication, future)
                self._report(candidates, futures, eligible)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        self._report(candidates, futures, eligible)

    def _submit(self, candidates, eligible, futures) -> None:
        for candidate in candidates:
            if len(futures) >= self.width:
                return
            if candidate.status != WAITING or not eligible(candidate):
                continue
            target = candidate.next_look(self.guarantee.looks)
            replication = candidate.n + len(candidate.running)
            while replication < target and len(futures) < self.width:
                future = self.executor.submit(run_replication, candidate.scenario, candidate.architecture, replication)
                futures[future] = (candidate, replication)
                candidate.running.add(replication)
                replication += 1

    def _finished(self, candidate: Candidate, replication: int, future: Future) -> None:
        try:
            row = future.result()
        except WorkerDied:
            raise
        except Exception as exc:  # a design that fails while running: reported, the others go on
            candidate.status, candidate.reason = FAILED, f"{type(exc).__name__}: {exc}"
            return
        self.finished += 1
        self.spent_estimate += candidate.seconds
        candidate.rows[replication] = row
        if candidate.status != WAITING:
            return  # decided while this replication ran: it is kept in the numbers, not judged again
        target = candidate.next_look(self.guarantee.looks)
        if all(k in candidate.rows for k in range(target)):
            judge_look(candidate, self.slos, self.guarantee, target)

    def _report(self, candidates, futures, eligible) -> None:
        if self.progress is None:
            return
        counts: dict[str, int] = {}
        for candidate in candidates:
            counts[candidate.status] = counts.get(candidate.status, 0) + 1
        # what is left: every eligible design still waiting, up to its next look, at the measured pace
        left = sum(max(0, c.next_look(self.guarantee.looks) - c.n) * c.seconds for c in candidates
                   if c.status == WAITING and eligible(c))
        eta = None
        if self.spent_estimate > 0:
            pace = (self.clock() - self.began) / self.spent_estimate  # wall seconds per estimated CPU second
            eta = left * pace
        elif left:
            eta = left / self.width
        self.progress(Tally(counts, self.finished, len(futures), eta))


class InProcess(Executor):
    """An executor that runs each task in this process as it is submitted (no pool given)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # the caller's future.result() raises it
            future.set_exception(exc)
        return future


def decide(executor: Optional[Executor], scenario, architecture: str, slos: list[SLO], guarantee: Guarantee,
           width: int = 1) -> Candidate:
    """One design evaluated sequentially until its SLOs are decided (or the last look): the candidate, judged."""
    candidate = Candidate(0, architecture, architecture, scenario)
    Evaluator(executor if executor is not None else InProcess(), slos, guarantee, width).run([candidate])
    return candidate


def executor_width(executor: Executor, jobs: Optional[int] = None) -> int:
    """How many replications ``executor`` runs at once: a local pool's workers, a Dask cluster's threads."""
    workers = getattr(executor, "_workers", None)
    if isinstance(workers, list) and workers:
        return len(workers)
    client = getattr(executor, "_client", None)
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # a cluster that cannot say: as many as asked for
            pass
    return jobs or default_jobs()


def tally_lines(name: str, emit: Callable[[str], None], every: float = 5.0,
                clock: Callable[[], float] = time.monotonic) -> Callable[[Tally], None]:
    """A progress function for :class:`Evaluator`: one line whenever a design is decided, and at least every
    ``every`` seconds while replications run."""
    state: dict[str, Any] = {"counts": None, "last": clock()}

    def progress(tally: Tally) -> None:
        now = clock()
        if tally.counts == state["counts"] and now - state["last"] < every:
            return
        state["counts"], state["last"] = dict(tally.counts), now
        emit(tally.line(name))

    return progress


__all__ = ["InProcess", "decide", "executor_width", "tally_lines", "CONFIDENCE", "Candidate", "Evaluator", "Guarantee", "MAX_REPLICATIONS", "Tally", "judge_look", "looks"]
