"""The scenario schema: every key a scenario file may hold, and every default.

This module is the single home of defaults. Durations are stored in seconds
and rates in events per second, whatever units the file used; a read rate is
always stored as steps ``[[start, rate], ...]`` (a single rate is one step).
Cross-field rules that pydantic cannot place on one key live in
:func:`cross_field_problems`, which returns (dotted path, message) pairs so the
loader can point at the offending line.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from .distributions import Constant, Distribution
from .units import parse_duration, parse_rate, parse_signed_duration


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
Policy = Literal["round_robin", "random", "least_outstanding", "power_of_two"]
ReplicaPolicy = Literal["round_robin", "random", "least_outstanding", "power_of_two", "prefer_fresh"]
Architecture = Literal["crud", "cqrs"]
ARCHITECTURES: list[str] = list(get_args(Architecture))  #: every architecture, in table order


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)


class DiurnalShape(_Section):
    mean: PerSecond = Field(gt=0)
    """Mean read rate over a period."""
    amplitude: float = Field(ge=0, le=1, allow_inf_nan=False)
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


class Reads(_Section):
    rate: ReadRate
    """Arrival rate, steps [[start, rate], ...] (piecewise constant), or {diurnal: {mean, amplitude, period, phase or peak}}."""
    process: Literal["poisson", "uniform"] = "poisson"
    """`poisson` arrivals, or evenly spaced (`uniform`) ones starting at each step."""
    handler_time: Distribution = Constant(value=0.0)
    """Time a handler spends on a read before its query."""
    query_time: Distribution
    """Time the query occupies one database or replica connection."""
    timeout: Optional[Seconds] = Field(default=None, gt=0)
    """A client gives up on an attempt after this long (the server still finishes it); none: clients wait."""
    retries: Annotated[int, BeforeValidator(_strict_int), Field(ge=0, le=100)] = 0
    """Attempts after the first when one times out (each runs the same query again); at most 100."""
    retry_backoff: Seconds = 0.0
    """Wait before the first retry; doubled before each later one."""

    @model_validator(mode="after")
    def _diurnal_is_poisson(self) -> "Reads":
        if isinstance(self.rate, Diurnal) and self.process != "poisson":
            raise ValueError("a diurnal rate is drawn as a Poisson process: use process: poisson")
        return self


class ReadBack(_Section):
    probability: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    """Share of writes whose writer reads them back."""
    after: Seconds = 1.0
    """Time from the commit (the writer's acknowledgement) to its read-back."""


class Writes(_Section):
    interval: Optional[Distribution] = None
    """Time between writes (a renewal process); or give rate, or at."""
    rate: Optional[PerSecond] = None
    """Poisson write rate; or give interval, or at."""
    at: Optional[list[Seconds]] = None
    """Fixed write times; or give interval, or rate."""
    apply_time: Distribution
    """How long a write takes to apply (it commits when the apply ends)."""
    read_back: Optional[ReadBack] = None
    """The writer reads its own write back (read-your-writes); misses are reported as read_your_writes_violations."""

    @model_validator(mode="after")
    def _one_arrival_process(self) -> "Writes":
        given = [k for k in ("interval", "rate", "at") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of interval, rate, at (got {', '.join(given) or 'none'})")
        if self.interval is not None and self.interval.mean <= 0:
            raise ValueError("interval: the mean interval must be positive")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate: must be positive (omit workload.writes for a read-only workload)")
        return self


class Workload(_Section):
    reads: Reads
    """The read stream."""
    writes: Optional[Writes] = None
    """Leave out for a read-only workload."""


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


class Stalls(_Section):
    every: Distribution
    """Time a replica applies normally between stalls (from the end of one stall to the start of the next)."""
    duration: Distribution
    """How long one stall freezes the replica's apply (its lag grows meanwhile)."""


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


class Replicas(_Section):
    count: Count = 8
    """Read replicas ("images") in the swarm."""
    connections: Count = 4
    """Connections per replica."""
    routing: ReplicaPolicy = "least_outstanding"
    """How a handler picks an in-pool replica; `prefer_fresh` uses only replicas holding the newest version in the pool (least outstanding among them)."""
    query_time: Optional[Distribution] = None
    """A read's query time on the read model (e.g. a denormalized view); unset: the workload's. Coupled read by read with CRUD's (same quantile)."""
    cold_factor: float = Field(default=1.0, ge=1, allow_inf_nan=False)
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


class Cost(_Section):
    instance_hour: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    """Price of one read replica (CQRS replica, CRUD streaming replica, or one built beside the old ones) per hour; default 1, which counts the cost in instance-hours."""
    write_instance_hour: Optional[float] = Field(default=None, ge=0, allow_inf_nan=False)
    """Price per hour of the instance that takes the writes (CRUD's database or primary, CQRS's write image; write_servers apply on that one instance); default: instance_hour."""
    snapshot_gb: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """Size of the write image's snapshot in GB (CQRS refreshed by snapshots builds replicas from it and keeps the newest one at all times; projections keep none); give it with snapshot_gb_hour."""
    snapshot_gb_hour: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """Price of storing one GB of snapshot for an hour (CQRS only: CRUD's replicas stream from the primary)."""

    @model_validator(mode="after")
    def _snapshot_size_and_price(self) -> "Cost":
        given = {k for k in ("snapshot_gb", "snapshot_gb_hour") if k in self.model_fields_set}
        if len(given) == 1:
            missing = ({"snapshot_gb", "snapshot_gb_hour"} - given).pop()
            raise ValueError(f"snapshot_gb (the size) and snapshot_gb_hour (its price) go together: give {missing} too")
        return self


class SweepRange(_Section):
    from_: float = Field(alias="from", allow_inf_nan=False)
    """First value (a number; durations and rates in seconds and per second)."""
    to: float = Field(allow_inf_nan=False)
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
    max_writes: Count = 10_000_000
    """Expected writes in one run (they are drawn at once, in memory); a larger scenario is refused."""
    max_bins: Count = 100_000
    """Timeseries bins in one run (duration / bin); a larger scenario is refused."""
    max_servers: Count = 1_000_000
    """Connections, handler slots or write servers in one tier; a larger scenario is refused."""
    max_replicas: Count = 10_000
    """Read replicas in either design (every one is simulated through every rollout); a larger scenario is refused."""
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
    """`summary` keeps exact counts, sums and maxima, 1%-accurate percentiles, every write and a paired sample of reads (a run with at most record_sample reads keeps them all and is exact); `full` keeps every request (about 37 bytes each on disk)."""
    record_sample: Count = 100_000
    """Reads kept per run in summary mode (the same reads in every architecture)."""
    bin: Optional[Seconds] = Field(default=None, gt=0)
    """Timeseries bin width; default: duration / 200."""
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
    cost: Optional[Cost] = None
    """Prices, for the metric cost_per_hour (per design: the write instance, the replicas' instance-seconds, the snapshot); none: no cost_per_hour."""
    sweep: Optional[dict[str, SweepSpec]] = None
    """For `cqrs-sim sweep`: dotted path -> list of values, or {from, to, steps, scale}; ignored by `run`."""

    @model_validator(mode="after")
    def _default_bin(self) -> "Scenario":
        if self.bin is None:
            object.__setattr__(self, "bin", self.duration / 200)
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
    if scenario.warmup >= scenario.duration:
        problems.append(("warmup", f"must be shorter than duration ({scenario.duration:g}s), got {scenario.warmup:g}s"))
    if len(set(scenario.architectures)) != len(scenario.architectures):
        problems.append(("architectures", "lists an architecture twice"))
    sync = scenario.cqrs.sync
    count = scenario.cqrs.replicas.count
    replicas = scenario.cqrs.replicas
    if replicas.cold_factor > 1 and replicas.warm_up_time == 0:
        problems.append(("cqrs.replicas.warm_up_time", "must be positive when cold_factor > 1 (the cold period needs a length)"))
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
    return problems


def over_limit(limit: str, value: float, what: str, limits: "Limits") -> str | None:
    """The message for a size past ``limits.<limit>``, or None; every limit's error says how to raise it."""
    allowed = getattr(limits, limit)
    if value <= allowed:
        return None
    shown = f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"
    return f"{what.replace('{n}', shown)}, which exceeds limits.{limit} ({allowed:,}); raise it with --set limits.{limit}=N"


def size_problems(scenario: "Scenario") -> list[tuple[str, str]]:
    """Sizes a run cannot hold in time or memory, refused before it starts (each against a key of ``limits:``)."""
    from .analytic import mean_read_rate, write_rate  # the estimates live with the other analytic formulas

    limits = scenario.limits
    found: list[tuple[str, str]] = []

    def check(path: str, limit: str, value: float, what: str) -> None:
        message = over_limit(limit, value, what, limits)
        if message is not None:
            found.append((path, message))

    check("replications", "max_replications", scenario.replications, "replications is {n}")
    check("bin", "max_bins", scenario.duration / scenario.bin_width,
          f"duration {scenario.duration:g}s / bin {scenario.bin_width:g}s gives {{n}} timeseries bins")
    rate, _ = mean_read_rate(scenario)
    check("workload.reads.rate", "max_reads", rate * scenario.duration,
          f"a mean {rate:g} reads/s over duration {scenario.duration:g}s gives about {{n}} reads per run")
    writes = scenario.workload.writes
    if writes is not None and writes.at is None:
        key = "workload.writes.rate" if writes.rate is not None else "workload.writes.interval"
        check(key, "max_writes", write_rate(scenario) * scenario.duration,
              f"{write_rate(scenario):g} writes/s over duration {scenario.duration:g}s gives about {{n}} writes per run")
    handlers = scenario.handlers
    check("handlers", "max_servers", handlers.count * handlers.concurrency, "handlers.count × concurrency gives {n} handler slots")
    if "crud" in scenario.architectures:
        crud = scenario.crud
        check("crud.connections", "max_servers", crud.connections, "crud.connections is {n}")
        check("crud.replicas", "max_replicas", crud.replicas, "crud.replicas is {n}")
        check("crud", "max_servers", crud.replicas * crud.replica_connections,
              "crud.replicas × replica_connections gives {n} connections")
    if "cqrs" in scenario.architectures:
        cqrs = scenario.cqrs
        check("cqrs.write_servers", "max_servers", cqrs.write_servers, "cqrs.write_servers is {n}")
        check("cqrs.replicas.count", "max_replicas", cqrs.replicas.count, "cqrs.replicas.count is {n}")
        check("cqrs.replicas", "max_servers", cqrs.replicas.count * cqrs.replicas.connections,
              "cqrs.replicas.count × connections gives {n} connections")
    if scenario.sweep:
        points = 1
        for spec in scenario.sweep.values():
            points *= spec.steps if isinstance(spec, SweepRange) else max(len(spec), 1)
        check("sweep", "max_sweep_points", points, "the sweep has {n} points")
    return found


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Things that are valid but probably not meant (printed by ``check`` and ``run``)."""
    warnings = []
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
        if "dist" in node:
            node = {"dist": node["dist"], **{k: v for k, v in node.items() if k != "dist"}}
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
    return data
