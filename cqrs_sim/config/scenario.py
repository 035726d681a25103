"""The scenario schema: every key a scenario file may hold, and every default.

This package is the single home of defaults. Durations are stored in seconds
and rates in events per second, whatever units the file used; a read rate is
always stored as steps ``[[start, rate], ...]`` (a single rate is one step).
The root :class:`Scenario` and its smaller sections (cost, verdict, sweep,
limits) are here; ``workload:`` is in :mod:`.workload`, the designs in
:mod:`.designs`, the value types in :mod:`.fields`. Cross-field rules that
pydantic cannot place on one key live in :func:`.rules.cross_field_problems`,
which returns (dotted path, message) pairs so the loader can point at the
offending line.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from ..core.timebins import bin_edges
from .designs import Cqrs, Crud, FailureSchedule, Handlers
from .distributions import Distribution
from .distbase import Number, Seconds
from .fields import ARCHITECTURES, Architecture, Count, Policy, _Section, _strict_int
from .testbed import Testbed
from .units import SMALLEST, parse_amount, parse_duration, parse_rate
from .workload import Workload


#: a price per hour, and a size in GB: 0, or from 1e-12 to 1e9, as every duration and rate (so no product of
#: them, nor their sum over 10,000 replicas for a year, can overflow)
PricePerHour = Annotated[float, BeforeValidator(lambda value: parse_amount(value, "price", "/h"),
                                                json_schema_input_type=Union[float, str])]
Gigabytes = Annotated[float, BeforeValidator(lambda value: parse_amount(value, "size", " GB"),
                                             json_schema_input_type=Union[float, str])]


class Cost(_Section):
    instance_hour: PricePerHour = 1.0
    """Price of one read replica (CQRS replica, CRUD streaming replica, or one built beside the old ones) per hour; default 1, which counts the cost in instance-hours."""
    write_instance_hour: Optional[PricePerHour] = None
    """Price per hour of the instance that takes the writes (CRUD's database or primary, CQRS's write image; write_servers apply on that one instance); default: instance_hour."""
    snapshot_gb: Gigabytes = 0.0
    """Size of the write image's snapshot in GB (CQRS refreshed by snapshots builds replicas from it and keeps the newest one at all times; projections keep none); give it with snapshot_gb_hour."""
    snapshot_gb_hour: PricePerHour = 0.0
    """Price of storing one GB of snapshot for an hour (CQRS only: CRUD's replicas stream from the primary)."""

    @model_validator(mode="after")
    def _snapshot_size_and_price(self) -> "Cost":
        given = {k for k in ("snapshot_gb", "snapshot_gb_hour") if k in self.model_fields_set}
        if len(given) == 1:
            missing = ({"snapshot_gb", "snapshot_gb_hour"} - given).pop()
            raise ValueError(f"snapshot_gb (the size) and snapshot_gb_hour (its price) go together: give {missing} too")
        return self


def _threshold(parse):
    """A smallest difference that counts: "N%" (a share of the larger of the two values, kept as written) or an
    amount in the metric's unit (read by ``parse``: a duration, a rate, or a plain number)."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                share = float(value.strip()[:-1])
            except ValueError:
                raise ValueError(f"expected a share such as 5% or an amount, got {value!r}") from None
            if not math.isfinite(share) or share < 0:
                raise ValueError(f"a share must be 0% or more, got {value!r}")
            return f"{share:g}%"
        if isinstance(value, bool):
            raise ValueError("expected a share such as 5% or an amount, not true/false")
        amount = parse(value)
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"must be 0 or more, got {value!r}")
        return amount

    return check


def _plain_number(value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a share such as 5% or a number, got {value!r}") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"expected a share such as 5% or a number, got {value!r}")
    return float(value)


def threshold_parts(value: Union[float, str]) -> tuple[float, float]:
    """(share of the larger value, amount) of a threshold: "5%" is (0.05, 0), 0.001 is (0, 0.001)."""
    if isinstance(value, str):
        return float(value[:-1]) / 100, 0.0
    return 0.0, float(value)


class MinDifference(_Section):
    """The smallest difference cqrs − crud that counts in the verdict and the table's highlights, per kind of
    metric: a share of the larger of the two values ("5%") or an amount in the metric's unit."""

    time: Annotated[Union[float, str], BeforeValidator(_threshold(parse_duration))] = "5%"
    """Latencies, staleness and visibility times: a share ("5%") or a duration ("1ms")."""
    fraction: Annotated[Union[float, str], BeforeValidator(_threshold(_plain_number))] = 0.001
    """Shares (stale reads, availability, violations, utilisation): an amount (0.001: a tenth of a percentage point) or a share of the larger value ("10%")."""
    rate: Annotated[Union[float, str], BeforeValidator(_threshold(parse_rate))] = "5%"
    """Throughput and goodput: a share ("5%") or a rate ("10/s")."""
    count: Annotated[Union[float, str], BeforeValidator(_threshold(_plain_number))] = "5%"
    """Counts (reads, failed reads, timeouts, writes): a share ("5%") or a number of them."""
    cost: Annotated[Union[float, str], BeforeValidator(_threshold(_plain_number))] = "5%"
    """Cost (replica_seconds, cost_per_hour): a share ("5%") or an amount in the metric's unit."""


class Verdict(_Section):
    min_difference: MinDifference = MinDifference()
    """The smallest difference that counts, per kind of metric; a difference counts when its paired 95% interval excludes 0 and it reaches this."""
    metastable_after: Seconds = Field(default=60.0, gt=0)
    """An outage whose effect (failed reads, or p99 latency above twice its pre-failure level) lasts this long after its repair is reported as a metastable state (see outages.parquet)."""


class SweepRange(_Section):
    from_: Number = Field(alias="from", allow_inf_nan=False)
    """First value (a number; durations and rates in seconds and per second)."""
    to: Number = Field(allow_inf_nan=False)
    """Last value."""
    steps: Count = 5
    """How many values, ends included."""
    scale: Literal["linear", "log"] = "linear"
    """Spacing of the values; `log` needs from and to above 0."""

    @model_validator(mode="after")
    def _spacing_is_possible(self) -> "SweepRange":
        if self.scale == "log" and not (self.from_ > 0 and self.to > 0):
            raise ValueError(f"a log-scale range needs from and to above 0, got from {self.from_:g} to {self.to:g}")
        return self


def _sweep_kind(value: Any) -> str:
    return "sweep_range" if isinstance(value, (dict, SweepRange)) else "sweep_values"


#: a list of values or a {from, to, steps, scale} range; the discriminator keeps errors to one per problem
SweepSpec = Annotated[
    Union[Annotated[list[Any], Tag("sweep_values")], Annotated[SweepRange, Tag("sweep_range")]],
    Discriminator(_sweep_kind),
]


class Limits(_Section):
    max_in_system: Count = 1_000_000
    """Reads in the system (queued or in service) at which a run is stopped as a runaway and marked incomplete."""
    max_reads: Count = 100_000_000
    """Expected read arrivals in one run (mean rate × duration); a larger scenario is refused before it starts."""
    max_events: Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=10**12)] = 1_000_000_000
    """Expected simulation events in one run of one design, every kind together: reads (arrival, handler, query, timeout) and their retries, writes, read-backs, replica applies, rollout swaps, projection applies and replays, failures and repairs, stalls, autoscaler decisions; a larger scenario is refused, naming the key that drives the count. At most 1e12 (simulated time could not resolve shorter intervals)."""
    max_rows: Count = 10_000_000
    """Expected rows one run keeps in memory until it ends (one per write, read-back, read retry, rollout swap, failure and autoscaler decision); a larger scenario is refused, naming the key that drives the count."""
    max_bins: Count = 100_000
    """Timeseries bins in one run (duration / bin); a larger scenario is refused."""
    max_servers: Count = 1_000_000
    """Connections, handler slots or write servers in one tier; a larger scenario is refused."""
    max_replicas: Count = 10_000
    """Read replicas in either design (every one is simulated through every rollout); a larger scenario is refused."""
    max_keys: Count = 10_000_000
    """Keys in workload.keys (a Zipf popularity holds 8 bytes per key); a larger scenario is refused."""
    max_clients: Count = 10_000_000
    """Clients in workload.reads.clients (each holds the newest version it has read of each key it reads); more are refused."""
    max_replications: Count = 10_000
    """Replications of one scenario (each a full run of every architecture); more are refused before the first starts."""
    max_sweep_points: Count = 1_000
    """Points in one sweep (the product of the varied values' counts); a larger sweep is refused."""


class Scenario(_Section):
    name: str = "scenario"
    """Shown in tables and used for the output directory; default: the scenario file's stem."""
    description: str = ""
    """One line shown under the name in reports."""
    duration: Seconds = Field(gt=0)
    """Arrivals stop here; what arrived is still served."""
    warmup: Seconds = 0.0
    """Statistics skip requests arriving earlier."""
    seed: Annotated[int, BeforeValidator(_strict_int), Field(ge=0)] = 1
    """Base seed; each replication and stream derives its own."""
    replications: Count = 3
    """Independent runs, for confidence intervals."""
    architectures: list[Architecture] = Field(default=list(ARCHITECTURES), min_length=1)
    """Which designs to simulate."""
    record: Literal["full", "summary"] = "summary"
    """`summary` keeps exact counts, sums and maxima, percentiles within 0.1%, every write and a paired sample of reads (a run with at most record_sample reads keeps them all and is exact); `full` keeps every request (about 37 bytes each on disk)."""
    record_sample: Count = 100_000
    """Reads kept per run in summary mode (the same reads in every architecture)."""
    bin: Optional[Seconds] = Field(default=None, gt=0)
    """Timeseries bin width; default: duration / 200 (at least 1e-12s, the shortest duration written)."""
    workload: Workload
    """What arrives: reads and (optionally) writes."""
    handlers: Handlers = Handlers()
    """Database handlers behind the load balancer (both architectures)."""
    load_balancer: Policy = "round_robin"
    """How a read picks a handler."""
    crud: Crud = Crud()
    """The single database of the CRUD design."""
    cqrs: Cqrs = Cqrs()
    """The write image, read replicas and rollouts of the CQRS design."""
    limits: Limits = Limits()
    """Guards against runaway (unstable) scenarios and against sizes a run cannot hold; each is checked before a run starts, and the error names the limit to raise."""
    verdict: Verdict = Verdict()
    """What the verdict counts as a difference."""
    failures: Optional[FailureSchedule] = None
    """Failures of given instances at given times (random ones are set per instance: crud.failures, cqrs.replicas.failures, cqrs.write_server_failures); none: no scheduled failure."""
    cost: Optional[Cost] = None
    """Prices, for the metric cost_per_hour (per design: the write instance, the replicas' instance-seconds, the snapshot); none: no cost_per_hour."""
    sweep: Optional[dict[str, SweepSpec]] = None
    """For `cqrs-sim sweep`: dotted path -> list of values, or {from, to, steps, scale}; ignored by `run`."""
    testbed: Testbed = Testbed()
    """For `cqrs-sim testbed` only (the simulator ignores it): how the real database does a request's work."""

    @model_validator(mode="after")
    def _default_bin(self) -> "Scenario":
        if self.bin is None:
            object.__setattr__(self, "bin", max(self.duration / 200, SMALLEST))  # a bin the file can hold again
        trace = self.workload.reads.trace
        if trace is not None:  # the trace's arrivals per bin, for the estimates and the offered-load plots
            arrived = trace.times[trace.times < self.duration]
            if self.duration / self.bin_width <= self.limits.max_bins:
                edges = bin_edges(self.duration, self.bin_width)
                counts, _ = np.histogram(arrived, bins=edges)
                steps = [(float(a), float(c) / (b - a)) for a, b, c in zip(edges[:-1], edges[1:], counts)]
            else:  # too many bins: the run is refused (limits.max_bins), and the mean rate serves until then
                steps = [(0.0, len(arrived) / self.duration)]
            object.__setattr__(self.workload.reads, "rate", steps)
        return self

    @property
    def bin_width(self) -> float:
        return float(self.bin)  # type: ignore[arg-type]

    @property
    def window(self) -> float:
        """Length of the measured window [warmup, duration)."""
        return self.duration - self.warmup


def _get(scenario: Scenario, path: str):
    value = scenario
    for part in path.split("."):
        value = getattr(value, part)
    return value


#: each design's own query and apply times: architecture -> (query_time key, apply_time key)
DESIGN_COST_KEYS = {"crud": ("crud.query_time", "crud.apply_time"),
                    "cqrs": ("cqrs.replicas.query_time", "cqrs.apply_time")}
#: (architecture, part) -> the scenario key a part the testbed's calibration measures and fits goes to
CALIBRATED_KEYS = {
    ("crud", "read"): DESIGN_COST_KEYS["crud"][0], ("crud", "write"): DESIGN_COST_KEYS["crud"][1],
    ("cqrs", "read"): DESIGN_COST_KEYS["cqrs"][0], ("cqrs", "write"): DESIGN_COST_KEYS["cqrs"][1],
    ("cqrs", "copy"): "cqrs.sync.replace_time", ("crud", "lag"): "crud.replication_lag",
}


def query_time_of(scenario: Scenario, architecture: str) -> Distribution:
    """The query time ``architecture``'s reads pay: its own if the scenario sets one, else the workload's."""
    own = _get(scenario, DESIGN_COST_KEYS[architecture][0])
    return own if own is not None else scenario.workload.reads.query_time


def apply_time_of(scenario: Scenario, architecture: str) -> Optional[Distribution]:
    """The apply time ``architecture``'s writes pay: its own if set, else the workload's (None: no writes)."""
    writes = scenario.workload.writes
    if writes is None:
        return None
    own = _get(scenario, DESIGN_COST_KEYS[architecture][1])
    return own if own is not None else writes.apply_time


