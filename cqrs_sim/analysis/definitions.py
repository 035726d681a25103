"""What every summary metric means: one table, read by the summary, the verdict, README and the report.

Each metric has a unit, a definition written once, a kind (which smallest
difference that counts applies to it in a verdict: ``verdict.relevant``),
the direction that is better, and, where the designs differ, what it is for
each of them. Every metric a run reports is in this table (a test checks
it), in report order; README's metric table is :func:`markdown_table`'s
output (a test checks that too).

Imports nothing heavy: ``cqrs-sim check`` and the SLO parsers read it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

#: the kinds of metric a verdict threshold applies to (see scenario.Relevant)
Kind = Literal["time", "fraction", "rate", "count", "cost"]
Better = Literal["lower", "higher", "neutral"]
DESIGN_NAMES = {"crud": "CRUD", "cqrs": "CQRS"}


class Metric(NamedTuple):
    """One summary metric. ``unit`` and ``definition`` come first, so ``METRICS[name][0]`` is the unit."""

    unit: str  #: "s", "1/s", "" (a share), "reads", "writes", "/h"
    definition: str  #: what it measures, for both designs unless ``designs`` says otherwise
    kind: Kind  #: which verdict threshold applies
    better: Better  #: the direction that is better (neutral: neither)
    designs: tuple[tuple[str, str], ...] = ()  #: (design, what it is there) where the designs differ

    def text(self) -> str:
        """The definition with each design's note: "… CRUD: …. CQRS: …."."""
        notes = " ".join(f"{DESIGN_NAMES[design]}: {note}." for design, note in self.designs)
        return f"{self.definition}. {notes}".strip() if notes else f"{self.definition}."


_SERVED = "over served reads"
_POOL_CRUD = "with crud.replicas, the streaming replicas, as for CQRS"

#: metric name -> definition, in report order
METRICS: dict[str, Metric] = {
    "reads_completed": Metric("reads", "reads served (answered to their client) of those arriving in the window; a failed read is not counted (reads_failed)", "count", "neutral"),
    "read_throughput": Metric("1/s", "reads finished, served or failed, per second: (reads_completed + reads_failed) / (duration − warmup)", "rate", "neutral"),
    "read_goodput": Metric("1/s", "reads served per second: reads_completed / (duration − warmup) = read_throughput × read_availability", "rate", "neutral"),
    "reads_failed": Metric("reads", "reads that failed: the client gave up on its last attempt (with a timeout), or the server running, queueing or refusing its last attempt failed", "count", "lower"),
    "read_failure_time_mean": Metric("s", "mean time from a failed read's arrival until it failed (0 for a read refused at once; null when none failed)", "time", "neutral"),
    "read_availability": Metric("", "share of reads served: reads_completed / (reads_completed + reads_failed); a read that waits for an empty pool is served late, not failed, unless its client times out", "fraction", "higher"),
    "pool_empty_fraction": Metric("", "share of the window with no server to read from", "fraction", "lower",
                                  (("crud", f"the database down ({_POOL_CRUD}: no replica in the pool)"),
                                   ("cqrs", "no replica in the pool"))),
    "reads_waited_for_pool": Metric("reads", "reads that found no server to read from and waited for one to come back", "count", "lower",
                                    (("crud", "0 for a single database (a read meeting it down is refused: reads_failed); " + _POOL_CRUD),)),
    "read_timeouts": Metric("reads", "attempts a client gave up on (reads arriving in the window)", "count", "lower"),
    "read_retries": Metric("reads", "retry attempts sent (reads arriving in the window)", "count", "lower"),
    "read_latency_mean": Metric("s", f"mean read latency {_SERVED}: finish − arrival of the client's first attempt", "time", "lower"),
    "read_latency_p50": Metric("s", f"median read latency {_SERVED}", "time", "lower"),
    "read_latency_p95": Metric("s", f"95th percentile read latency {_SERVED}", "time", "lower"),
    "read_latency_p99": Metric("s", f"99th percentile read latency {_SERVED}", "time", "lower"),
    "read_latency_p999": Metric("s", f"99.9th percentile read latency {_SERVED}", "time", "lower"),
    "read_latency_max": Metric("s", f"longest read latency {_SERVED}", "time", "lower"),
    "writes_committed": Metric("writes", "writes arriving in the window that committed", "count", "neutral"),
    "write_latency_mean": Metric("s", "mean of commit − arrival", "time", "lower"),
    "write_latency_max": Metric("s", "longest write latency", "time", "lower"),
    "stale_read_fraction": Metric("", "share of served reads whose server lacked a committed write to the key they read (without workload.keys: any committed write)", "fraction", "lower",
                                  (("crud", "0 for a single database"),)),
    "stale_version_fraction": Metric("", "share of served reads whose server lacked a committed version, whatever key they read (without workload.keys: stale_read_fraction)", "fraction", "lower"),
    "staleness_mean": Metric("s", "mean staleness of served reads (a fresh read counts 0): query start − commit of the first write to its key its server lacked", "time", "lower"),
    "staleness_p99": Metric("s", "99th percentile staleness of served reads", "time", "lower"),
    "staleness_max": Metric("s", "largest staleness of a served read", "time", "lower"),
    "first_visible_mean": Metric("s", "mean time from commit until a server in the pool holds the write", "time", "lower",
                                 (("crud", "0 for a single database; " + _POOL_CRUD),)),
    "visibility_window_mean": Metric("s", "mean time from commit until every replica holds the write", "time", "lower",
                                     (("crud", "0 for a single database; " + _POOL_CRUD),)),
    "visibility_window_max": Metric("s", "longest such window", "time", "lower"),
    "visibility_t99": Metric("s", "the 99th percentile of the write-to-read lag: the first time after a commit at which the visibility curve (its monotone fit) reaches 99%, so 99% of reads starting then see the write; null if it does not within the curve's horizon", "time", "lower"),
    "visibility_t999": Metric("s", "the same at 99.9%", "time", "lower"),
    "replica_availability": Metric("", "time-averaged share of the read servers in the pool", "fraction", "higher",
                                   (("crud", f"the database's up-time (1 without crud.failures); {_POOL_CRUD}"),
                                    ("cqrs", "replicas in the pool (an elastic pool: of its member replicas)"))),
    "db_utilization": Metric("", "time-averaged share of read-serving connections busy (an exclusive CRUD write counts as all of them)", "fraction", "neutral",
                             (("crud", "the database's connections; " + _POOL_CRUD),
                              ("cqrs", "the replicas' connections (an elastic pool: its member replicas')"))),
    "read_your_writes_violations": Metric("", "share of writers' read-backs that missed the writer's own last committed write to the key read (with workload.reads.clients; without, each write is its own writer); null without read_back", "fraction", "lower"),
    "monotonic_read_violations": Metric("", "share of served reads that returned, for the key they read, an older version than the newest version of that key the same client had already read (without keys: than the newest version it had read); null without workload.reads.clients", "fraction", "lower"),
    "replica_seconds": Metric("s", "database instance-seconds in the window, instances built beside the old ones and autoscaled ones included (the cost)", "cost", "lower"),
    "cost_per_hour": Metric("/h", "price per hour of the window: the write instance, every replica instance-second, the snapshot (with a cost: block)", "cost", "lower"),
}

#: metrics a run reports only when the scenario asks for them (the others are always there)
CONDITIONAL = {"cost_per_hour": "a cost: block"}

#: metrics where a smaller value is better, and where neither direction is
LOWER_IS_BETTER = frozenset(name for name, m in METRICS.items() if m.better == "lower")
NEUTRAL = frozenset(name for name, m in METRICS.items() if m.better == "neutral")

_UNIT_TEXT = {"s": "s", "1/s": "/s", "": "share", "reads": "reads", "writes": "writes", "/h": "/h"}


def markdown_table() -> str:
    """README's metric table: | metric | unit | better | definition |, one row per metric in report order."""
    lines = ["| metric | unit | better | definition |", "|---|---|---|---|"]
    for name, m in METRICS.items():
        better = "" if m.better == "neutral" else m.better
        lines.append(f"| `{name}` | {_UNIT_TEXT[m.unit]} | {better} | {m.text()} |")
    return "\n".join(lines)
