"""The scenario schema: every key a scenario file may hold, and every default.

This module is the single home of defaults. Durations are stored in seconds
and rates in events per second, whatever units the file used; a read rate is
always stored as steps ``[[start, rate], ...]`` (a single rate is one step).
Cross-field rules that pydantic cannot place on one key live in
:func:`cross_field_problems`, which returns (dotted path, message) pairs so the
loader can point at the offending line.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args

import numpy as np
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PlainValidator, PrivateAttr, Tag,
                      ValidationInfo, field_validator, model_validator)

from .distributions import Constant, Distribution, Number, Empirical, _Measured, data_error, located_error
from .timebins import bin_edges
from .units import parse_amount, parse_duration, parse_rate, parse_signed_duration


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true/false")
    return value


def _rate_steps(value: Any) -> Any:
    """A single rate becomes one step starting at 0; steps are parsed pairwise; a mapping is a shape (diurnal)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, (list, tuple)):
        steps = []
        for step in value:
            if not isinstance(step, (list, tuple)) or len(step) != 2:
                raise ValueError("each step must be a pair [start, rate], such as [30m, 1500/s]")
            steps.append((parse_duration(step[0]), parse_rate(step[1])))
        if not steps:
            raise ValueError("give a rate or at least one step")
        if steps[0][0] != 0:
            raise ValueError("the first step must start at 0s")
        if any(b[0] <= a[0] for a, b in zip(steps, steps[1:])):
            raise ValueError("step start times must increase")
        return steps
    return [(0.0, parse_rate(value))]


Seconds = Annotated[float, BeforeValidator(parse_duration, json_schema_input_type=Union[float, str])]
SignedSeconds = Annotated[float, BeforeValidator(parse_signed_duration, json_schema_input_type=Union[float, str])]
PerSecond = Annotated[float, BeforeValidator(parse_rate, json_schema_input_type=Union[float, str])]
Count = Annotated[int, BeforeValidator(_strict_int), Field(ge=1)]
NonNegativeCount = Annotated[int, BeforeValidator(_strict_int), Field(ge=0)]
RateSteps = Annotated[list[tuple[float, float]],
                      BeforeValidator(_rate_steps, json_schema_input_type=Union[float, str, list[tuple[Union[float, str], Union[float, str]]]])]
Policy = Literal["round_robin", "random", "least_outstanding", "power_of_two", "sticky"]
ReplicaPolicy = Literal["round_robin", "random", "least_outstanding", "power_of_two", "prefer_fresh", "sticky"]
Architecture = Literal["crud", "cqrs"]
ARCHITECTURES: list[str] = list(get_args(Architecture))  #: every architecture, in table order


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)


class DiurnalShape(_Section):
    mean: PerSecond = Field(gt=0)
    """Mean read rate over a period."""
    amplitude: Number = Field(ge=0, le=1, allow_inf_nan=False)
    """Relative swing: the rate runs from mean × (1 − amplitude) to mean × (1 + amplitude)."""
    period: Seconds = Field(default=86400.0, gt=0)
    """Length of one cycle."""
    phase: SignedSeconds = 0.0
    """Time of a rising midpoint (rate = mean and increasing; the peak comes a quarter period later). Taken modulo period, so it may be negative or larger than period. Give phase or peak, not both."""
    peak: Optional[SignedSeconds] = None
    """Time of a peak (the rate at its maximum, mean × (1 + amplitude)), modulo period; an alternative to phase."""

    @model_validator(mode="after")
    def _phase_or_peak(self) -> "DiurnalShape":
        if self.peak is not None:
            if "phase" in self.model_fields_set:
                raise ValueError("give phase (a rising midpoint) or peak (the maximum), not both")
            object.__setattr__(self, "phase", (self.peak - self.period / 4) % self.period)
        else:
            object.__setattr__(self, "phase", self.phase % self.period)
        return self

    def rate(self, t):
        """The rate at time(s) ``t``."""
        return self.mean * (1 + self.amplitude * np.sin(2 * np.pi * (np.asarray(t) - self.phase) / self.period))


class Diurnal(_Section):
    diurnal: DiurnalShape
    """A sinusoidal daily cycle, drawn as a non-homogeneous Poisson process by thinning."""


def _rate_kind(value: Any) -> str:
    return "rate_shape" if isinstance(value, (dict, Diurnal)) else "rate_steps"


#: a rate, steps, or a shape; the discriminator keeps errors to one per problem
ReadRate = Annotated[
    Union[Annotated[RateSteps, Tag("rate_steps")], Annotated[Diurnal, Tag("rate_shape")]],
    Discriminator(_rate_kind),
]


def _write_rate_kind(value: Any) -> str:
    if isinstance(value, (dict, Diurnal)):
        return "rate_shape"
    return "rate_steps" if isinstance(value, (list, tuple)) else "rate"


#: a write rate: one rate (a float, as before), steps, or a shape
WriteRate = Annotated[
    Union[Annotated[PerSecond, Tag("rate")], Annotated[RateSteps, Tag("rate_steps")], Annotated[Diurnal, Tag("rate_shape")]],
    Discriminator(_write_rate_kind),
]


def _trace_start(value: Any) -> Union[float, datetime, str, None]:
    """A number (finite, not true/false), a timestamp, or text to read as one."""
    if value is None or isinstance(value, (datetime, str)):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value) if abs(value) < 1e308 else math.inf
        if not math.isfinite(number):
            raise ValueError(f"a number start must be finite, got {value!r}")
        return number
    raise ValueError(f"expected a timestamp such as 2026-01-05T09:00:00, or a number, got {value!r}")


#: the instant a trace's times count from: a number, or a timestamp
TraceStart = Annotated[Union[float, datetime, str], PlainValidator(_trace_start,
                                                                   json_schema_input_type=Union[float, datetime, str])]


class Trace(_Section):
    file: str
    """Data file of measured arrivals (CSV with a header line, or Parquet), relative to the scenario file."""
    column: str = "time"
    """Column of arrival times: numbers (seconds from the start, in unit), Parquet durations (from the start, in their own unit), or timestamps (then give start). Sorted, never negative; each a valid duration (at most 1e9s)."""
    start: Optional[TraceStart] = None
    """The instant that counts as 0s: a timestamp such as `2026-01-05T09:00:00` for a column of timestamps (the two both with a time zone or both without), or a number (in unit) subtracted from a numeric column; none: the column holds times from the start."""
    unit: Literal["s", "ms", "us"] = "s"
    """Unit of the file's numeric times (and query times); a Parquet column of durations carries its own."""
    _times: Optional[_Measured] = PrivateAttr(default=None)
    _extra: dict = PrivateAttr(default_factory=dict)
    _first_line: Optional[int] = PrivateAttr(default=None)  #: the line of the first value (None: Parquet, no lines)

    @field_validator("file")
    @classmethod
    def _located(cls, file: str, info: ValidationInfo) -> str:
        from .datafile import data_path

        return data_path(file, (info.context or {}).get("base"))

    def _columns(self) -> list[str]:
        """Other columns to read besides the times."""
        return []

    def _timed(self) -> list[str]:
        """Those of them that hold times."""
        return []

    @model_validator(mode="after")
    def _load(self) -> "Trace":
        from .datafile import DataError, arrival_times, durations, numbers, read_columns

        names = [self.column, *self._columns()]
        try:
            columns = read_columns(self.file, names)
            self._first_line = columns[0].first_line
            self._times = _Measured(arrival_times(columns[0], self.start, self.unit))
            for name, column in zip(names[1:], columns[1:]):
                if name in self._timed():
                    self._extra[name] = _Measured(durations(column, self.unit))
                    continue
                values = numbers(column)
                bad = (values < 0) | (values != np.floor(values)) | (values >= 2**31)
                if bad.any():
                    raise column.error(int(np.argmax(bad)), f"not a whole number from 0 to 2^31 - 1: "
                                                            f"{column.shown(int(np.argmax(bad)))}")
                self._extra[name] = _Measured(values.astype(np.int64))
        except DataError as exc:
            raise data_error(self, exc) from None
        return self

    @property
    def times(self) -> np.ndarray:
        """Arrival times in seconds from the start, sorted."""
        return self._times.values  # type: ignore[union-attr]

    def where(self, row: int) -> str:
        """``FILE:LINE`` of a row (0-based) of the file, as data-file errors name it (``FILE: row N`` for Parquet)."""
        return f"{self.file}:{self._first_line + row}" if self._first_line is not None else f"{self.file}: row {row + 1}"


class ReadTrace(Trace):
    query_time: Optional[str] = None
    """Column of each read's query time (in unit); none: drawn from workload.reads.query_time."""
    key: Optional[str] = None
    """Column of each read's key (a whole number below workload.keys.count; with writes choosing new keys, any key id, N + j being write j's first); none: drawn by popularity."""
    client: Optional[str] = None
    """Column of each read's client (a whole number below workload.reads.clients); none: drawn uniformly."""

    def _columns(self) -> list[str]:
        return [c for c in (self.query_time, self.key, self.client) if c is not None]

    def _timed(self) -> list[str]:
        return [self.query_time] if self.query_time is not None else []

    @property
    def query_times(self) -> Optional[np.ndarray]:
        """Each read's measured query time (seconds), or None."""
        return self._extra[self.query_time].values if self.query_time is not None else None

    @property
    def keys(self) -> Optional[np.ndarray]:
        """Each read's key, or None."""
        return self._extra[self.key].values if self.key is not None else None

    @property
    def clients(self) -> Optional[np.ndarray]:
        """Each read's client, or None."""
        return self._extra[self.client].values if self.client is not None else None


class RetryBudget(_Section):
    ratio: Number = Field(gt=0, le=1, allow_inf_nan=False)
    """Retries allowed per read arrived (each read deposits this many tokens; a retry spends one), e.g. 0.1: at most one retry per ten reads in the long run."""
    burst: Number = Field(default=10.0, ge=1, allow_inf_nan=False)
    """Most tokens the bucket holds (it starts full): retries allowed at once after a quiet time."""


class Reads(_Section):
    rate: Optional[ReadRate] = None
    """Arrival rate, steps [[start, rate], ...] (piecewise constant), or {diurnal: {mean, amplitude, period, phase or peak}}; required unless trace is given (then derived, the trace's arrivals per bin: do not give it)."""
    process: Literal["poisson", "uniform"] = "poisson"
    """`poisson` arrivals, or evenly spaced (`uniform`) ones starting at each step."""
    trace: Optional[ReadTrace] = None
    """Replay measured read arrivals from a data file instead of drawing them ({file, column, start, unit, query_time}); give trace or rate."""
    handler_time: Distribution = Constant(value=0.0)
    """Time a handler spends on a read before its query."""
    query_time: Optional[Distribution] = None
    """Time the query occupies one database or replica connection (required unless trace.query_time gives it; then the trace's values, resampled, stand for it in estimates)."""
    timeout: Optional[Seconds] = Field(default=None, gt=0)
    """A client gives up on an attempt after this long (the server still finishes it); none: clients wait."""
    retries: Annotated[int, BeforeValidator(_strict_int), Field(ge=0, le=100)] = 0
    """Attempts after the first when one times out (each runs the same query again); at most 100."""
    retry_backoff: Seconds = 0.0
    """Wait before the first retry; doubled before each later one."""
    retry_jitter: Literal["none", "full"] = "none"
    """`full`: each retry waits a uniform draw between 0 and its backoff (full jitter), so clients that failed together do not retry together; `none`: exactly its backoff."""
    retry_budget: Optional[RetryBudget] = None
    """Limit retries to a share of recent reads (a token bucket, as gRPC's and Finagle's retry budgets); none: every lost attempt is retried, retries allowing."""
    clients: Optional[Count] = None
    """Clients the reads belong to (each read to one of them, uniformly at random, the same one in both designs); they define monotonic_read_violations and what `sticky` routing keeps together. None: reads belong to nobody."""

    @model_validator(mode="after")
    def _rate_or_trace(self) -> "Reads":
        trace = self.trace
        if (trace is None) == (self.rate is None):
            raise located_error(self, "rate", "give rate (drawn arrivals) or trace (measured ones), not both" if trace
                                else "required key is missing (or give trace: measured arrivals)")
        queried = trace is not None and trace.query_time is not None
        if queried == (self.query_time is not None):
            raise located_error(self, "query_time", "give query_time or trace.query_time, not both" if queried
                                else "required key is missing")
        if queried:  # the measured query times stand for the distribution in estimates
            measured = Empirical.model_construct(dist="empirical", file=trace.file, column=trace.query_time)
            measured._data = _Measured(trace.query_times)  # type: ignore[arg-type]
            object.__setattr__(self, "query_time", measured)
        return self

    @model_validator(mode="after")
    def _diurnal_is_poisson(self) -> "Reads":
        if isinstance(self.rate, Diurnal) and self.process != "poisson":
            raise ValueError("a diurnal rate is drawn as a Poisson process: use process: poisson")
        return self


class Zipf(_Section):
    zipf: Number = Field(gt=0, le=10, allow_inf_nan=False)
    """Exponent s: the key of rank i (1, 2, …) is read with probability proportional to 1 / i^s."""


def _popularity_kind(value: Any) -> str:
    return "popularity_zipf" if isinstance(value, (dict, Zipf)) else "popularity_uniform"


#: `uniform` or {zipf: s}; the discriminator keeps errors to one per problem
Popularity = Annotated[
    Union[Annotated[Literal["uniform"], Tag("popularity_uniform")], Annotated[Zipf, Tag("popularity_zipf")]],
    Discriminator(_popularity_kind),
]


class Keys(_Section):
    count: Count
    """Keys in the data (titles, accounts, …); each read reads one, drawn by popularity. Key 0 is the most popular (rank 1); when writes add new keys, the newest key is."""
    popularity: Popularity = "uniform"
    """`uniform`, or {zipf: s}: how reads spread over the keys."""


class WriteKeys(_Section):
    count: Count = 1
    """Keys each write writes."""
    choose: Literal["popularity", "uniform", "new"] = "popularity"
    """`popularity`: drawn like the reads' keys; `uniform`: any existing key alike; `new`: keys that did not exist (an upload adding a title): the catalogue grows and reads rank keys from the newest (see README, Keys and sessions)."""


class ReadBack(_Section):
    probability: Number = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    """Share of writes whose writer reads them back."""
    after: Seconds = 1.0
    """Time from the commit (the writer's acknowledgement) to its read-back."""


class Burst(_Section):
    at: Seconds = 0.0
    """When the (first) burst starts."""
    every: Optional[Seconds] = Field(default=None, gt=0)
    """Repeat the burst this often from `at` (a nightly import: every: 24h); none: once."""
    duration: Seconds = Field(gt=0)
    """How long each burst lasts."""
    rate: PerSecond = Field(gt=0)
    """Poisson writes per second during a burst, on top of the other writes."""

    @model_validator(mode="after")
    def _fits_its_period(self) -> "Burst":
        if self.every is not None and self.duration > self.every:
            raise ValueError(f"duration ({self.duration:g}s) must not exceed every ({self.every:g}s)")
        return self


class Writes(_Section):
    interval: Optional[Distribution] = None
    """Time between writes (a renewal process); or give rate, or at."""
    rate: Optional[WriteRate] = None
    """Poisson write rate, steps [[start, rate], ...], or {diurnal: {mean, amplitude, period, phase or peak}} as reads' rate; or give interval, or at."""
    at: Optional[list[Seconds]] = None
    """Fixed write times; or give interval, or rate."""
    trace: Optional[Trace] = None
    """Replay measured write arrivals from a data file ({file, column, start, unit}); or give interval, rate or at."""
    apply_time: Distribution
    """How long a write takes to apply (it commits when the apply ends)."""
    read_back: Optional[ReadBack] = None
    """The writer reads its own write back (read-your-writes); misses are reported as read_your_writes_violations."""
    keys: Optional[WriteKeys] = None
    """Which keys a write writes (needs workload.keys); default with workload.keys: one key, drawn by popularity."""
    bursts: list[Burst] = Field(default_factory=list)
    """Bulk writes on top of the others, [{at, every, duration, rate}, ...] (an import writing 10% of the catalogue in 10 minutes); drawn from a stream of their own."""

    @model_validator(mode="after")
    def _one_arrival_process(self) -> "Writes":
        given = [k for k in ("interval", "rate", "at", "trace") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of interval, rate, at, trace (got {', '.join(given) or 'none'})")
        if self.interval is not None and self.interval.mean <= 0:
            raise ValueError("interval: the mean interval must be positive")
        if isinstance(self.rate, float) and self.rate <= 0:
            raise ValueError("rate: must be positive (omit workload.writes for a read-only workload)")
        if isinstance(self.rate, list) and not any(rate > 0 for _, rate in self.rate):
            raise ValueError("rate: some step must be positive (omit workload.writes for a read-only workload)")
        return self


class Workload(_Section):
    reads: Reads
    """The read stream."""
    writes: Optional[Writes] = None
    """Leave out for a read-only workload."""
    keys: Optional[Keys] = None
    """The data's keys: a read is stale only when its replica lacks a committed write to the key it reads. None: every read and write touches one shared item (a read is stale when its replica lacks any committed write)."""

    @property
    def write_keys(self) -> Optional[WriteKeys]:
        """How writes choose keys: as given, or one key by popularity; None without keys."""
        if self.keys is None:
            return None
        given = self.writes.keys if self.writes is not None else None
        return given if given is not None else WriteKeys()


class Handlers(_Section):
    count: Count = 4
    """Database handlers behind the load balancer."""
    concurrency: Count = 16
    """Reads a handler serves at once (a slot is held for the whole read)."""


class Failures(_Section):
    mtbf: Distribution
    """Time an instance runs from its start (or its repair) until it fails."""
    mttr: Distribution
    """Time a failed instance stays down; a CQRS replica then loads the newest snapshot, taking cqrs.sync.replace_time, before it rejoins."""


class ScheduledFault(_Section):
    at: Seconds
    """When the instance fails, from the start of the run (the same time in every replication and design)."""
    for_: Seconds = Field(alias="for", gt=0)
    """How long it stays down; then it is repaired as a random failure is (a CQRS replica loads the newest snapshot, taking cqrs.sync.replace_time)."""
    target: str
    """Which instance: `cqrs.replicas.N`, `cqrs.write_servers.N`, `crud.primary`, `crud.replicas.N`, or `replicas.N` (replica N of every simulated design that has read replicas); N counts from 0."""


class FailureSchedule(_Section):
    scheduled: list[ScheduledFault] = Field(default_factory=list)
    """Failures at given times, [{at, for, target}, ...]; they combine with random failures (mtbf/mttr): an instance is down while either holds it down."""


class Stalls(_Section):
    every: Distribution
    """Time a replica applies normally between stalls (from the end of one stall to the start of the next)."""
    duration: Distribution
    """How long one stall freezes the replica's apply (its lag grows meanwhile)."""


class Autoscale(_Section):
    min: Count = 1
    """Fewest replicas the autoscaler keeps (it never removes below this)."""
    max: Count
    """Most replicas the autoscaler runs, those being provisioned included."""
    target_utilization: Number = Field(default=0.6, gt=0, le=1, allow_inf_nan=False)
    """Connection utilization the autoscaler aims at: desired replicas = ceil(mean busy connections over the last interval / (connections per replica × target)), clamped to [min, max]."""
    tolerance: Number = Field(default=0.1, ge=0, lt=1, allow_inf_nan=False)
    """No change while utilization / target is within 1 ± tolerance (as Kubernetes' autoscaler, whose default this is); 0: act on every difference."""
    interval: Seconds = Field(default=60.0, gt=0)
    """How often the autoscaler measures utilization and decides; the first decision comes one interval after the start."""
    scale_out_cooldown: Seconds = 60.0
    """Time after a scale-out before the next scale-out."""
    scale_in_cooldown: Seconds = 300.0
    """Time after any scale-out or scale-in before a scale-in."""
    provision_time: Optional[Distribution] = None
    """Time from the decision until a new replica, built from the newest snapshot, joins the pool; default: cqrs.sync.replace_time."""

    def desired(self, busy_connections: float, connections: int) -> int:
        """The rule: replicas wanted for a mean of ``busy_connections`` busy, ``connections`` per replica.

        ceil(busy / (connections × target)), clamped to [min, max]; the ceiling allows a relative 1e-9,
        so that a load exactly at the target is not read as a hair above it.
        """
        wanted = busy_connections / (connections * self.target_utilization)
        return min(max(math.ceil(wanted * (1 - 1e-9)), self.min), self.max)

    @model_validator(mode="after")
    def _min_below_max(self) -> "Autoscale":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Crud(_Section):
    connections: Count = 32
    """Database connections (concurrent queries)."""
    locking: Literal["exclusive", "mvcc"] = "exclusive"
    """`exclusive`: a write takes the whole database; `mvcc`: a write holds one connection."""
    query_time: Optional[Distribution] = None
    """A read's query time on this design's normalized schema (its replicas too); unset: the workload's. Coupled read by read with the other design's (same quantile)."""
    apply_time: Optional[Distribution] = None
    """A write's apply time on this design (updating every index); unset: the workload's. Coupled write by write with the other design's."""
    replicas: NonNegativeCount = 0
    """Read replicas fed by streaming replication; 0: reads go to the primary. With replicas, reads never wait for the primary's lock."""
    replica_connections: Count = 4
    """Connections per read replica."""
    replica_routing: Policy = "least_outstanding"
    """How a handler picks a read replica."""
    replication_lag: Distribution = Constant(value=1.0)
    """Delay from a commit on the primary until a replica has applied it (drawn per write and replica; applied in commit order)."""
    failures: Optional[Failures] = None
    """The primary and each read replica fail and are repaired, each on its own; none: they never fail. A failed primary takes no writes (nor reads, without replicas)."""
    replication_stalls: Optional[Stalls] = None
    """Each read replica's apply freezes now and then (as a standby's does during a lock conflict); none: it never stalls."""
    max_lag: Optional[Seconds] = Field(default=None, gt=0)
    """A read replica further behind the primary than this takes no reads until it catches up; none: no limit."""
    replica_autoscale: Optional[Autoscale] = None
    """Add and remove read replicas with the load (needs replicas ≥ 1: the count it starts with); none: a fixed count."""
    read_your_writes_window: Optional[Seconds] = Field(default=None, gt=0)
    """For this long after a client's write commits, its reads go to the primary instead of a replica (as Rails' automatic role switching does, 2s by default); needs replicas and workload.reads.clients. None: reads always go to replicas."""


class Replicas(_Section):
    count: Count = 8
    """Read replicas ("images") in the swarm."""
    connections: Count = 4
    """Connections per replica."""
    routing: ReplicaPolicy = "least_outstanding"
    """How a handler picks an in-pool replica; `prefer_fresh` uses only replicas holding the newest version in the pool (least outstanding among them)."""
    query_time: Optional[Distribution] = None
    """A read's query time on the read model (e.g. a denormalized view); unset: the workload's. Coupled read by read with CRUD's (same quantile)."""
    cold_factor: Number = Field(default=1.0, ge=1, allow_inf_nan=False)
    """Query-time multiplier of a replica just swapped in (cold caches); 1 turns it off."""
    warm_up_time: Seconds = 0.0
    """Time over which a swapped-in replica's multiplier falls linearly from cold_factor to 1."""
    failures: Optional[Failures] = None
    """Each replica fails and is repaired on its own; none: replicas never fail."""
    max_lag: Optional[Seconds] = Field(default=None, gt=0)
    """A replica further behind the write image than this (the age of the oldest commit it lacks) takes no reads until it catches up; none: no limit. Meant for projections, whose replicas fall behind one by one."""


class Sync(_Section):
    strategy: Literal["rolling", "all_at_once", "blue_green", "projection"] = "rolling"
    """`rolling` replaces batch_size replicas at a time; `all_at_once` all together; `blue_green` builds a whole new set beside the old one and switches every reader at once; `projection`: no snapshots, every replica stays in the pool and applies each committed write itself, in commit order, one at a time (projection_time each)."""
    batch_size: Count = 1
    """Replicas replaced together in a rolling rollout."""
    max_surge: NonNegativeCount = 0
    """Rolling only: new replicas built beside the old before these leave (Kubernetes maxSurge); with max_surge > 0 capacity never drops and replicas are replaced max_surge at a time."""
    build_parallelism: Count = 1
    """Blue-green only: new replicas built at once."""
    on_write_during_rollout: Literal["queue", "restart"] = "queue"
    """`queue`: writes committed during a rollout ship in the next one; `restart`: replicas not yet swapped get the newest version in this rollout, and a follow-up replaces only the replicas left behind."""
    trigger_delay: Seconds = 0.0
    """Wait from a commit to the rollout it triggers (projection: until the write's event reaches the projectors)."""
    replace_time: Distribution = Constant(value=120.0)
    """Time to swap one replica for a snapshot of the write image (or, for a surge or blue-green replica, to build it)."""
    drain: bool = True
    """Let reads already routed to a leaving replica finish on the old image."""
    projection_time: Distribution = Constant(value=0.01)
    """Projection only: time one replica takes to apply one committed write to its read model (drawn per replica and write); a replica that starts empty replays the whole log at this cost per write before it takes reads."""

    #: keys that mean something only for snapshot rollouts
    SNAPSHOT_KEYS: ClassVar[tuple[str, ...]] = (
        "batch_size", "max_surge", "build_parallelism", "on_write_during_rollout", "replace_time")


class Cqrs(_Section):
    write_servers: Count = 1
    """Servers applying writes to the write image."""
    apply_time: Optional[Distribution] = None
    """A write's apply time on the write model (e.g. an append); unset: the workload's. Coupled write by write with CRUD's."""
    replicas: Replicas = Replicas()
    """The read replica swarm."""
    sync: Sync = Sync()
    """How replicas are refreshed after a commit."""
    write_server_failures: Optional[Failures] = None
    """Each write server fails and is repaired on its own (a write it was applying starts again on the next server up); none: they never fail."""
    autoscale: Optional[Autoscale] = None
    """Add and remove read replicas with the load (replicas.count is the count it starts with); none: a fixed count."""


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

    @model_validator(mode="after")
    def _default_bin(self) -> "Scenario":
        if self.bin is None:
            from .units import SMALLEST

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


def burst_windows(scenario: Scenario) -> list[tuple[float, float, float]]:
    """(start, end, rate) of every write burst starting before ``duration``, in order of start."""
    writes = scenario.workload.writes
    duration = scenario.duration
    windows = []
    for burst in writes.bursts if writes is not None else []:
        start = burst.at
        while start < duration:
            windows.append((start, min(start + burst.duration, duration), burst.rate))
            if burst.every is None:
                break
            start += burst.every
    return sorted(windows)


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


def cross_field_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Rules spanning several keys, as (dotted path, message) pairs."""
    problems: list[tuple[str, str]] = []
    reads = scenario.workload.reads
    if reads.retries and reads.timeout is None:
        problems.append(("workload.reads.retries", "retries need a timeout (workload.reads.timeout)"))
    if scenario.crud.read_your_writes_window is not None:
        if not scenario.crud.replicas:
            problems.append(("crud.read_your_writes_window", "needs read replicas (crud.replicas > 0): without them every read goes to the primary"))
        elif reads.clients is None and (reads.trace is None or reads.trace.client is None):
            problems.append(("crud.read_your_writes_window", "needs clients (workload.reads.clients): a read goes to the primary after its own client's write"))
    if reads.retry_budget is not None and not reads.retries:
        problems.append(("workload.reads.retry_budget", "a retry budget needs retries (workload.reads.retries ≥ 1)"))
    problems += key_problems(scenario)
    if scenario.warmup >= scenario.duration:
        problems.append(("warmup", f"must be shorter than duration ({scenario.duration:g}s), got {scenario.warmup:g}s"))
    else:
        problems += window_problems(scenario)
    if len(set(scenario.architectures)) != len(scenario.architectures):
        problems.append(("architectures", "lists an architecture twice"))
    sync = scenario.cqrs.sync
    count = scenario.cqrs.replicas.count
    replicas = scenario.cqrs.replicas
    if replicas.cold_factor > 1 and replicas.warm_up_time == 0:
        problems.append(("cqrs.replicas.warm_up_time", "must be positive when cold_factor > 1 (the cold period needs a length)"))
    for path, auto, start in (("cqrs.autoscale", scenario.cqrs.autoscale, count),
                              ("crud.replica_autoscale", scenario.crud.replica_autoscale, scenario.crud.replicas)):
        if auto is not None and not auto.min <= start <= auto.max:
            counted = "cqrs.replicas.count" if path.startswith("cqrs") else "crud.replicas"
            problems.append((path, f"{counted} ({start}), the count it starts with, must lie in [min, max] "
                                   f"= [{auto.min}, {auto.max}]"))
    if scenario.cqrs.autoscale is not None and sync.strategy == "projection":
        problems.append(("cqrs.autoscale", "works with snapshot rollouts only, not with cqrs.sync.strategy: projection"))
    if sync.batch_size > count:
        problems.append(("cqrs.sync.batch_size", f"must not exceed cqrs.replicas.count ({count}), got {sync.batch_size}"))
    if scenario.workload.reads.query_time.mean <= 0:
        problems.append(("workload.reads.query_time", "must have a positive mean"))
    for path, own in (("crud.query_time", scenario.crud.query_time),
                      ("cqrs.replicas.query_time", scenario.cqrs.replicas.query_time)):
        if own is not None and own.mean <= 0:
            problems.append((path, "must have a positive mean"))
    for path in ("crud.apply_time", "cqrs.apply_time"):
        if scenario.workload.writes is None and _get(scenario, path) is not None:
            problems.append((path, "is set but the workload has no writes (workload.writes)"))
    problems += failure_problems(scenario)
    for path, values in (scenario.sweep or {}).items():
        if isinstance(values, list) and not values:
            problems.append((f"sweep.{path}", "gives no values to sweep"))
    return problems + size_problems(scenario)


def key_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Keys and clients: what needs what."""
    found: list[tuple[str, str]] = []
    workload = scenario.workload
    if workload.writes is not None and workload.writes.keys is not None and workload.keys is None:
        found.append(("workload.writes.keys", "needs workload.keys (the keys writes choose from)"))
    if workload.reads.clients is None:
        for path, policy in (("load_balancer", scenario.load_balancer), ("cqrs.replicas.routing", scenario.cqrs.replicas.routing),
                             ("crud.replica_routing", scenario.crud.replica_routing)):
            if policy == "sticky":
                found.append((path, "sticky routing keeps each client on one server: set workload.reads.clients"))
    write_keys = workload.write_keys
    if write_keys is not None and write_keys.choose != "new" and write_keys.count > workload.keys.count:
        found.append(("workload.writes.keys.count", f"a write cannot write {write_keys.count} different keys of the "
                                                    f"{workload.keys.count} that exist (workload.keys.count)"))
    trace = workload.reads.trace
    if trace is not None and trace.key is not None:
        write_keys = workload.write_keys
        if workload.keys is None:
            found.append(("workload.reads.trace.key", "needs workload.keys (the keys reads are counted over)"))
        elif write_keys is None or write_keys.choose != "new":
            found += _trace_ids("workload.reads.trace.key", trace, trace.keys, workload.keys.count, "workload.keys.count")
    if trace is not None and trace.client is not None:
        if workload.reads.clients is None:
            found.append(("workload.reads.trace.client", "needs workload.reads.clients (the clients reads belong to)"))
        else:
            found += _trace_ids("workload.reads.trace.client", trace, trace.clients, workload.reads.clients,
                                "workload.reads.clients")
    return found


def _window(scenario: Scenario) -> str:
    return f"the measured window [{scenario.warmup:g}s, {scenario.duration:g}s) (warmup to duration)"


def window_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """A read trace none of whose reads arrives in the measured window [warmup, duration): a start off by a time
    zone, say; every read metric would be measured on none."""
    trace = scenario.workload.reads.trace
    if trace is not None and not ((trace.times >= scenario.warmup) & (trace.times < scenario.duration)).any():
        times = trace.times
        return [("workload.reads.trace", f"none of its {len(times):,} reads arrives in {_window(scenario)}: its "
                                         f"times run from {times[0]:g}s to {times[-1]:g}s after the start "
                                         "(is start right?)")]
    return []


def no_read_warning(scenario: Scenario) -> Optional[str]:
    """A read rate of 0 over the whole measured window: valid (a write-only study of rollouts and cost), but
    there is no read to measure, and no verdict."""
    rate = scenario.workload.reads.rate
    if scenario.workload.reads.trace is not None or not isinstance(rate, list) or scenario.warmup >= scenario.duration:
        return None
    ends = [start for start, _ in rate[1:]] + [math.inf]
    if any(r > 0 and start < scenario.duration and end > scenario.warmup for (start, r), end in zip(rate, ends)):
        return None
    return (f"workload.reads.rate: no read arrives in {_window(scenario)} (the rate is 0 there): every read metric "
            "stays empty, and no verdict is given")


def _trace_ids(path: str, trace: Trace, values: np.ndarray, count: int, limit: str) -> list[tuple[str, str]]:
    """A problem at the first row (``FILE:LINE``) of a trace column naming an id at or past ``count`` (ids run from 0)."""
    over = np.flatnonzero(values >= count)
    if not len(over):
        return []
    return [(path, f"{trace.where(int(over[0]))}: {values[over[0]]} is not below {limit} ({count}); "
                   f"{len(over):,} row(s) of the file are not")]


def failure_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Failures and stalls need instances to act on and up times with a positive mean."""
    problems: list[tuple[str, str]] = []
    crud = scenario.crud
    for path, key in (("crud.replication_stalls", "replication_stalls"), ("crud.max_lag", "max_lag")):
        if getattr(crud, key) is not None and not crud.replicas:
            problems.append((path, "needs read replicas (crud.replicas > 0)"))
    for path, section, up in (("crud.failures", crud.failures, "mtbf"), ("crud.replication_stalls", crud.replication_stalls, "every"),
                              ("cqrs.replicas.failures", scenario.cqrs.replicas.failures, "mtbf"),
                              ("cqrs.write_server_failures", scenario.cqrs.write_server_failures, "mtbf")):
        if section is not None and getattr(section, up).mean <= 0:
            problems.append((f"{path}.{up}", "must have a positive mean"))
    if scenario.failures is not None:
        from .model.scheduled import schedule_problems  # the targets' grammar lives with the schedule

        problems += schedule_problems(scenario)
    return problems


def count_text(value: float) -> str:
    """An expected count as messages show it: 1,234,567, or 3.2e+13 when too long to read."""
    return f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"


def over_limit(limit: str, value: float, what: str, limits: "Limits") -> str | None:
    """The message for a size past ``limits.<limit>``, or None; every limit's error says how to raise it."""
    allowed = getattr(limits, limit)
    if value <= allowed:
        return None
    return f"{what.replace('{n}', count_text(value))}, which exceeds limits.{limit} ({allowed:,}); raise it with --set limits.{limit}=N"


def size_problems(scenario: "Scenario") -> list[tuple[str, str]]:
    """Sizes a run cannot hold in time or memory, refused before it starts (each against a key of ``limits:``)."""
    from .events import budget_problems  # the counts of what a run schedules live with the model's formulas

    limits = scenario.limits
    found: list[tuple[str, str]] = []

    def check(path: str, limit: str, value: float, what: str) -> None:
        message = over_limit(limit, value, what, limits)
        if message is not None:
            found.append((path, message))

    check("replications", "max_replications", scenario.replications, "replications is {n}")
    check("bin", "max_bins", scenario.duration / scenario.bin_width,
          f"duration {scenario.duration:g}s / bin {scenario.bin_width:g}s gives {{n}} timeseries bins")
    if scenario.workload.keys is not None:
        check("workload.keys.count", "max_keys", scenario.workload.keys.count, "workload.keys.count is {n}")
    write_keys = scenario.workload.write_keys
    if write_keys is not None:
        check("workload.writes.keys.count", "max_keys", write_keys.count, "workload.writes.keys.count is {n}")
    if scenario.workload.reads.clients is not None:
        check("workload.reads.clients", "max_clients", scenario.workload.reads.clients, "workload.reads.clients is {n}")
    handlers = scenario.handlers
    check("handlers", "max_servers", handlers.count * handlers.concurrency, "handlers.count × concurrency gives {n} handler slots")
    if "crud" in scenario.architectures:
        crud = scenario.crud
        check("crud.connections", "max_servers", crud.connections, "crud.connections is {n}")
        check("crud.replicas", "max_replicas", crud.replicas, "crud.replicas is {n}")
        check("crud", "max_servers", crud.replicas * crud.replica_connections,
              "crud.replicas × replica_connections gives {n} connections")
        if crud.replica_autoscale is not None:
            check("crud.replica_autoscale.max", "max_replicas", crud.replica_autoscale.max,
                  "crud.replica_autoscale.max is {n}")
            check("crud.replica_autoscale.max", "max_servers", crud.replica_autoscale.max * crud.replica_connections,
                  "crud.replica_autoscale.max × crud.replica_connections gives {n} connections")
    if "cqrs" in scenario.architectures:
        cqrs = scenario.cqrs
        check("cqrs.write_servers", "max_servers", cqrs.write_servers, "cqrs.write_servers is {n}")
        check("cqrs.replicas.count", "max_replicas", cqrs.replicas.count, "cqrs.replicas.count is {n}")
        check("cqrs.replicas", "max_servers", cqrs.replicas.count * cqrs.replicas.connections,
              "cqrs.replicas.count × connections gives {n} connections")
        if cqrs.autoscale is not None:
            check("cqrs.autoscale.max", "max_replicas", cqrs.autoscale.max, "cqrs.autoscale.max is {n}")
            check("cqrs.autoscale.max", "max_servers", cqrs.autoscale.max * cqrs.replicas.connections,
                  "cqrs.autoscale.max × cqrs.replicas.connections gives {n} connections")
    if scenario.sweep:
        points = 1
        for spec in scenario.sweep.values():
            points *= spec.steps if isinstance(spec, SweepRange) else max(len(spec), 1)
        check("sweep", "max_sweep_points", points, "the sweep has {n} points")
    return found + [(path, message) for path, message in budget_problems(scenario) if path not in dict(found)]


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Things that are valid but probably not meant (printed by ``check`` and ``run``)."""
    warnings = [warning for warning in (no_read_warning(scenario),) if warning is not None]
    for i, (start, _) in enumerate(scenario.workload.reads.rate if isinstance(scenario.workload.reads.rate, list) else []):
        if start >= scenario.duration:
            warnings.append(f"workload.reads.rate.{i}: the step at {start:g}s starts after duration "
                            f"({scenario.duration:g}s) and is ignored")
    sync = scenario.cqrs.sync
    if "cqrs" in scenario.architectures:
        if sync.strategy == "projection":
            for key in (k for k in Sync.SNAPSHOT_KEYS if k in sync.model_fields_set):
                warnings.append(f"cqrs.sync.{key}: only used by snapshot rollouts; ignored with strategy: projection")
        elif "projection_time" in sync.model_fields_set:
            warnings.append(f"cqrs.sync.projection_time: only used with strategy: projection "
                            f"(strategy is {sync.strategy}); ignored")
    replicas = scenario.cqrs.replicas
    if "cqrs" in scenario.architectures and replicas.max_lag is not None and sync.strategy != "projection" \
            and scenario.workload.writes is not None:
        from .analytic import expected_rollout_length
        from .units import format_duration

        length = expected_rollout_length(scenario)
        if length > replicas.max_lag:
            warnings.append(f"cqrs.replicas.max_lag: a rollout takes about {format_duration(length)}, longer than "
                            f"max_lag ({format_duration(replicas.max_lag)}): replicas not yet refreshed leave the pool during every rollout, "
                            "and reads wait for the refreshed ones")
    reads = scenario.workload.reads
    traces = [("workload.reads.trace", reads.trace, "reads"),
              ("workload.writes.trace", scenario.workload.writes and scenario.workload.writes.trace, "writes")]
    for path, trace, what in traces:
        if trace is not None and (trace.times >= scenario.duration).any():
            late = int((trace.times >= scenario.duration).sum())
            warnings.append(f"{path}: {late:,} of {len(trace.times):,} {what} come at or after duration "
                            f"({scenario.duration:g}s) and are ignored")
    writes = scenario.workload.writes
    if writes is not None and writes.at is not None:
        for i, t in enumerate(writes.at):
            if t >= scenario.duration:
                warnings.append(f"workload.writes.at.{i}: the write at {t:g}s comes after duration "
                                f"({scenario.duration:g}s) and is ignored")
    return warnings


def _dist_first(node: Any) -> Any:
    """Distribution mappings read best with ``dist`` first."""
    if isinstance(node, dict):
        node = {k: _dist_first(v) for k, v in node.items()}
        if "dist" in node:  # unused alternatives (an empirical distribution's file or samples) are left out
            node = {"dist": node["dist"], **{k: v for k, v in node.items() if k != "dist" and v is not None}}
        return node
    if isinstance(node, list):
        return [_dist_first(v) for v in node]
    return node


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, as plain data for YAML."""
    data = _dist_first(scenario.model_dump(mode="json", by_alias=True))
    rate = scenario.workload.reads.rate
    if isinstance(rate, list):
        data["workload"]["reads"]["rate"] = [list(step) for step in rate]
    else:  # the shape as given: by its peak, or by its (wrapped) phase
        shape = data["workload"]["reads"]["rate"]["diurnal"]
        del shape["phase" if rate.diurnal.peak is not None else "peak"]
    if data["workload"]["writes"] is not None:
        data["workload"]["writes"] = {k: v for k, v in data["workload"]["writes"].items() if v is not None}
    else:
        del data["workload"]["writes"]
    reads = data["workload"]["reads"]
    if reads["trace"] is None:
        del reads["trace"]
    else:  # what the trace gives is not written twice (derived rate, measured query times)
        del reads["rate"]
        if scenario.workload.reads.trace.query_time is not None:  # type: ignore[union-attr]
            del reads["query_time"]
    for section in (reads, data["workload"].get("writes") or {}):
        if section.get("trace") is not None:
            section["trace"] = {k: v for k, v in section["trace"].items() if v is not None}
    return data
