"""Client overhead: what a query or a write costs beyond its server-side sleep, measured before each run.

A read's query time as the client sees it is the server's ``pg_sleep`` plus
the round trip, parsing, planning, the row fetch and ``pg_sleep``'s own
rounding (it sleeps in whole milliseconds, rounding up). Before a run the
testbed times ``CALIBRATION`` reads and writes, one at a time on an idle
database, with sleeps drawn from the scenario's own distributions (from a
stream of their own, so the run's draws are untouched), and reports the
mean excess over the drawn time as the overhead. It is a fixed
measurement, reported, and never subtracted: the run sleeps what the
scenario draws, and its latencies are what the client measured. After the
run the manifest reports the residual too: the mean of (measured − drawn)
query time over the run's reads that did not wait for a lock, so the
server's slowdown at full load shows beside the overhead at low load.
The calibrated scenario (:mod:`.calibrate`) is how a prediction accounts
for the overhead: its service times are the measured ones. With
``testbed.work: queries`` nothing drawn is played, so the overhead and the
residual are the whole measured query and write times.

The machine itself is measured too: during every run a probe in the
client's event loop asks to be woken every ``PROBE_PERIOD`` and records how
late each wake-up came (:func:`probe_timer`). That lateness is what the
machine's load adds to every timed step of a request (the client's timers,
and the server's, which share the same cores); the manifest reports it,
and :mod:`cqrs_sim.experiments.compare` widens its agreement targets by it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..config.scenario import Scenario
from ..workload.streams import stream
from . import schema
from .transactions import write_transaction, written_keys

CALIBRATION = 40  #: timed reads and timed writes before a run
PROBE_PERIOD = 0.01  #: seconds between the timer probe's wake-ups


@dataclass(frozen=True)
class Overhead:
    read_mean: float  #: seconds: mean client-seen query time minus the drawn time
    read_sd: float
    write_mean: float  #: seconds: the same for a write transaction
    write_sd: float
    round_trip: float  #: seconds: mean of a bare ``SELECT 1``

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}


async def measure_overhead(conn, scenario: Scenario, exclusive: bool) -> Overhead:
    """Time reads and writes on ``conn`` (a scratch database holding the table); see the module docstring."""
    rng = stream(scenario.seed, 0, "testbed.calibration")
    queries = scenario.workload.reads.query_time.sample(rng, CALIBRATION)
    writes = scenario.workload.writes
    applies = writes.apply_time.sample(rng, CALIBRATION // 4) if writes is not None else np.zeros(0)
    applies = np.minimum(applies, 0.05)  # the overhead does not grow with the sleep; keep calibration short
    work = scenario.testbed.work
    if work != "sleep":  # real queries play no drawn time: all they take is beyond it
        queries, applies = np.zeros_like(queries), np.zeros_like(applies)
    trips = []
    for _ in range(CALIBRATION):
        began = time.perf_counter()
        await (await conn.execute("SELECT 1")).fetchone()
        trips.append(time.perf_counter() - began)
    read_excess = []
    for k, q in enumerate(queries.tolist()):
        began = time.perf_counter()
        await (await conn.execute(*schema.read(work, k % schema.rows(scenario), q))).fetchone()
        read_excess.append(time.perf_counter() - began - q)
    write_excess = []
    for a in applies.tolist():
        began = time.perf_counter()
        await write_transaction(conn, a, schema.LOCK if exclusive else None, keys=written_keys(scenario), work=work)
        write_excess.append(time.perf_counter() - began - a)
    return Overhead(float(np.mean(read_excess)), float(np.std(read_excess)),
                    float(np.mean(write_excess)) if write_excess else 0.0,
                    float(np.std(write_excess)) if write_excess else 0.0, float(np.mean(trips)))


async def probe_timer(clock, lateness: list[float], period: float = PROBE_PERIOD) -> None:
    """Until cancelled: sleep ``period`` at a time on ``clock`` and append how late each wake-up was (seconds)."""
    while True:
        due = clock() + period
        await asyncio.sleep(period)
        lateness.append(max(0.0, clock() - due))


def lateness_summary(lateness) -> dict:
    """mean, p50, p99, max (seconds) and the number of samples of a timer probe's lateness; {} without samples."""
    values = np.asarray(lateness, dtype=float)
    if not len(values):
        return {}
    p50, p99 = np.quantile(values, [0.5, 0.99])
    return {"mean": round(float(values.mean()), 6), "p50": round(float(p50), 6), "p99": round(float(p99), 6),
            "max": round(float(values.max()), 6), "samples": int(len(values))}
