"""The schema of ``workload:``: what arrives. Read rates (steps or a diurnal shape), read and write traces
replayed from data files, keys and their popularity, writes and what reads them back.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
from pydantic import (BeforeValidator, Discriminator, Field, PlainValidator, PrivateAttr, Tag, ValidationInfo,
                      field_validator, model_validator)

from .parametric import Constant
from .distributions import Distribution
from .empirical import Empirical, _Measured, data_error, located_error
from .distbase import Number, Seconds
from .fields import Count, PerSecond, RateSteps, SignedSeconds, _Section, _strict_int
from .units import DataUnit


class DiurnalShape(_Section):
    mean: PerSecond = Field(gt=0)
    """Mean rate over a period."""
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
    unit: DataUnit = "s"
    """Unit of the file's numeric times (and query times); a Parquet column of durations carries its own."""
    _times: Optional[_Measured] = PrivateAttr(default=None)
    _extra: dict = PrivateAttr(default_factory=dict)
    _first_line: Optional[int] = PrivateAttr(default=None)  #: the line of the first value (None: Parquet, no lines)

    @field_validator("file")
    @classmethod
    def _located(cls, file: str, info: ValidationInfo) -> str:
        from .datafile import data_path  # pandas: when a file is read, not on `import cqrs_sim.cli`

        return data_path(file, (info.context or {}).get("base"))

    def _columns(self) -> list[str]:
        """Other columns to read besides the times."""
        return []

    def _timed(self) -> list[str]:
        """Those of them that hold times."""
        return []

    @model_validator(mode="after")
    def _load(self) -> "Trace":
        from .datafile import DataError, arrival_times, durations, numbers, read_columns  # pandas: when a file is read, not on `import cqrs_sim.cli`

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
    """`popularity`: drawn like the reads' keys; `uniform`: any existing key alike; `new`: keys that did not exist (an upload adding a title): the catalogue grows and reads rank keys from the newest (see the docs, Keys and sessions)."""


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
