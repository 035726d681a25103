"""Measured values from a data file: one column of a CSV or Parquet file, or numbers one per line.

Used by ``{dist: empirical, file: ...}``, by traces (``workload.*.trace``)
and by ``cqrs-sim fit``: the one reader of data files. The file is opened
through :mod:`cqrs_sim.config.inputfile` (a regular file, bounded in size), its rows
are bounded before they are parsed, and its values are read as what they
are: numbers (times in the ``unit`` given), Parquet durations (seconds,
whatever the unit), timestamps (seconds after ``start``, which they need).
A time read from a file obeys the rule a time written in the scenario obeys
(:func:`cqrs_sim.config.units.range_problem`). Every problem is a :class:`DataError`
that names the file and, for text files, the line of the offending value (a
CSV's header is line 1, its first value line 2); a Parquet file has no
lines, so its errors name the row.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from .inputfile import InputFileError, absolute, read_bounded
from .units import DURATION_UNITS, out_of_range, range_problem

#: the largest data file read (a few million measurements take tens of megabytes)
MAX_DATA_BYTES = 256 << 20
#: the most values taken from one column
MAX_ROWS = 20_000_000
PARQUET_SUFFIXES = (".parquet", ".pq")


class DataError(ValueError):
    """A data file that cannot give the values asked for; ``line`` is 0 where there is no line to point at."""

    def __init__(self, file: str, line: int, message: str, column: Optional[str] = None):
        self.file, self.line, self.message = file, line, message
        self.column = column  #: the column at fault, if one is
        self.row: Optional[int] = None  #: the row at fault (0-based), if one is
        super().__init__(f"{file}:{line}: {message}" if line > 0 else f"{file}: {message}")


class ColumnsError(DataError):
    """A file with several columns where one was expected; the caller says how to name it."""


def _opened(path: Path) -> bytes:
    """The file's bytes: a regular file of at most MAX_DATA_BYTES."""
    try:
        return read_bounded(path, MAX_DATA_BYTES, "data file")
    except InputFileError as exc:
        raise DataError(exc.file, 0, exc.message) from None


def _parquet(path: Path, data: bytes, columns: list[Optional[str]]) -> pd.DataFrame:
    """The columns asked for (all of them when one is None: the file's only column), after the row count is checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        rows = parquet.metadata.num_rows
        if rows > MAX_ROWS:
            raise DataError(str(path), 0, f"has {rows:,} rows, more than {MAX_ROWS:,}")
        names = parquet.schema_arrow.names
        for column in columns:
            if column is not None and column not in names:
                raise _no_column(path, 0, column, names)
        return parquet.read(columns=None if None in columns else list(dict.fromkeys(columns))).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(str(path), 0, "cannot read as Parquet: not a Parquet file, or a damaged one (its name "
                                      "ends in .parquet or .pq; name a CSV file .csv)") from None  # pyarrow's words name its internals


def _csv(path: Path, data: bytes) -> pd.DataFrame:
    lines = data.count(b"\n")
    if lines > MAX_ROWS + 1:  # counted before parsing: pandas would hold every row first
        raise DataError(str(path), 0, f"has {lines:,} lines, more than {MAX_ROWS:,} rows")
    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except UnicodeDecodeError:
        at = _first_non_utf8(data)
        raise DataError(str(path), data.count(b"\n", 0, at) + 1, f"cannot read as CSV: byte 0x{data[at]:02x} is not "
                                                                 "UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise DataError(str(path), 0, "cannot read as CSV: the file is empty (a CSV starts with a line of column "
                                      "names)") from None
    except (pd.errors.ParserError, ValueError) as exc:  # pandas' words name its internals: say ours
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if fields:
            expected, line, saw = (int(g) for g in fields.groups())
            raise DataError(str(path), line, f"cannot read as CSV: {saw} fields, where the first line names "
                                             f"{expected} column(s)") from None
        raise DataError(str(path), 0, "cannot read as CSV: not comma-separated values with a first line of "
                                      "column names (an unclosed quote?)") from None


def _first_non_utf8(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


#: what a column holds, by its type: a CSV's columns are text, a Parquet file's are typed
TEXT, NUMBER, BOOL, TIMESTAMP, DURATION = "text", "number", "bool", "timestamp", "duration"
_HOLDS = {BOOL: "true/false values", TIMESTAMP: "timestamps", DURATION: "durations"}


class Column:
    """One column of a data file, with where each value came from."""

    def __init__(self, file: str, values: pd.Series, first_line: Optional[int]):
        self.file = file
        self.values = values  #: as read (text for CSV, typed for Parquet)
        self.first_line = first_line  #: line of the first value; None for Parquet (rows are named instead)

    @property
    def kind(self) -> str:
        """TEXT, NUMBER, BOOL, TIMESTAMP or DURATION, from the column's type."""
        dtype = self.values.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return BOOL
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return TIMESTAMP
        if pd.api.types.is_timedelta64_dtype(dtype):
            return DURATION
        if pd.api.types.is_numeric_dtype(dtype):
            return NUMBER
        return TEXT

    def where(self, row: int) -> tuple[int, str]:
        """(line, prefix) for an error at ``row`` (0-based)."""
        if self.first_line is None:
            return 0, f"row {row + 1}: "
        return self.first_line + row, ""

    def error(self, row: int, message: str) -> DataError:
        line, prefix = self.where(row)
        error = DataError(self.file, line, prefix + message, str(self.values.name))
        error.row = row
        return error

    def shown(self, row: int) -> str:
        """The value at ``row`` as the file gives it, shortened."""
        return str(self.values.iloc[row]).strip()[:40]

    def __len__(self) -> int:
        return len(self.values)


def read_columns(path: str | Path, columns: list[Optional[str]]) -> list[Column]:
    """Columns of a CSV (first line: column names) or Parquet file (by suffix), the file read once;
    a column None is the file's only column."""
    path = Path(path)
    data = _opened(path)
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    frame = _parquet(path, data, columns) if parquet else _csv(path, data)
    if len(frame) > MAX_ROWS:
        raise DataError(str(path), 0, f"has {len(frame):,} rows, more than {MAX_ROWS:,}")
    if len(frame) == 0:
        raise DataError(str(path), 0, "holds no values")
    found = []
    for column in columns:
        if column is None:
            if len(frame.columns) != 1:
                names = ", ".join(str(c) for c in frame.columns[:20])
                raise ColumnsError(str(path), 0 if parquet else 1, f"has {len(frame.columns)} columns ({names}): name one")
            column = str(frame.columns[0])
        if column not in frame.columns:
            raise _no_column(path, 1, column, frame.columns)
        found.append(Column(str(path), frame[column].reset_index(drop=True), None if parquet else 2))
    return found


def _no_column(path: Path, line: int, column: str, names) -> DataError:
    shown = ", ".join(str(c) for c in list(names)[:20]) or "none"
    return DataError(str(path), line, f"has no column {column!r} (columns: {shown})", column)


def read_column(path: str | Path, column: Optional[str]) -> Column:
    """One column of a CSV or Parquet file; None: the file's only column."""
    return read_columns(path, [column])[0]


def data_path(file: str, base: Optional[str]) -> str:
    """A data file named in a scenario, as an absolute path: relative names are relative to the scenario's directory."""
    return absolute(file, base)


def numbers(column: Column) -> np.ndarray:
    """The column as finite floats; the first value that is not one is an error (so is a column of timestamps,
    durations or true/false values: they are not plain numbers)."""
    raw = column.values
    kind = column.kind
    if kind in _HOLDS:
        raise column.error(0, f"holds {_HOLDS[kind]}, not numbers")
    parsed = pd.to_numeric(raw, errors="coerce") if kind == TEXT else raw
    try:
        out = pd.Series(parsed).to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise column.error(0, f"holds {raw.dtype} values, not numbers") from None
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.argmax(bad))
        raise column.error(row, _not_finite(raw.iloc[row]))
    return out


def durations(column: Column, unit: str = "s") -> np.ndarray:
    """The column as durations in seconds: numbers in ``unit``, or a Parquet column of durations (in its own
    unit); each obeys the rule of a duration written in the scenario (:func:`cqrs_sim.config.units.range_problem`)."""
    if column.kind == DURATION:
        return _in_range(column, _duration_seconds(column), lambda row: column.shown(row))
    with np.errstate(over="ignore"):
        seconds = numbers(column) * DURATION_UNITS[unit]
    return _in_range(column, seconds, lambda row: column.shown(row) + unit)


def _duration_seconds(column: Column) -> np.ndarray:
    seconds = column.values.dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(seconds)
    if missing.any():
        raise column.error(int(np.argmax(missing)), "empty value")
    return seconds


def _in_range(column: Column, seconds: np.ndarray, shown: Callable[[int], str], what: str = "duration") -> np.ndarray:
    bad = out_of_range(seconds)
    if bad.any():
        row = int(np.argmax(bad))
        raise column.error(row, range_problem(float(seconds[row]), shown(row), what) or "out of range")
    return seconds


def arrival_times(column: Column, start=None, unit: str = "s") -> np.ndarray:
    """Arrival times in seconds from the start: never negative, never decreasing, each a valid duration.

    Numbers count in ``unit`` from 0 (or from a numeric ``start``, in the same unit); a Parquet column of
    durations counts from 0 in its own unit (no start); timestamps count from ``start``, which they need."""
    factor = DURATION_UNITS[unit]
    numeric_start = isinstance(start, (int, float)) and not isinstance(start, bool)
    kind = column.kind
    if kind == DURATION:
        if start is not None:
            raise DataError(column.file, 0, "holds durations, which count from 0s themselves: leave out start", "start")
        times = _duration_seconds(column)
    elif start is None or numeric_start:
        if kind == TIMESTAMP:
            raise column.error(0, "a timestamp: give start, the instant that counts as 0s")
        try:
            values = numbers(column)
        except DataError as exc:
            row = exc.row or 0
            if kind == TEXT and not pd.isna(pd.to_datetime(column.values.iloc[row], errors="coerce", format="ISO8601")):
                raise column.error(row, "a timestamp: give start, the instant that counts as 0s") from None
            raise
        with np.errstate(over="ignore", invalid="ignore"):
            times = (values - float(start or 0.0)) * factor
    else:
        times = seconds_since(column, start)
    negative = times < 0
    if negative.any():
        row = int(np.argmax(negative))
        raise column.error(row, f"a time before the start: {times[row]:g}s" + ("" if start is None else
                                                                              f" (start {start})"))
    _in_range(column, times, lambda row: f"{times[row]:g}s", "time from the start")
    back = np.diff(times) < 0
    if back.any():
        row = int(np.argmax(back)) + 1
        raise column.error(row, f"times must not decrease (sort the trace): {times[row]:g}s comes after {times[row - 1]:g}s")
    return times


def read_lines(text: str, name: str = "-") -> np.ndarray:
    """Numbers given one per line (blank lines skipped), as from standard input."""
    values: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            value = float(line)
        except ValueError:
            raise DataError(name, number, f"not a number: {line[:40]!r}") from None
        if not math.isfinite(value):
            raise DataError(name, number, f"not a {'' if math.isnan(value) else 'finite '}number: {line[:40]!r}")
        values.append(value)
        if len(values) > MAX_ROWS:
            raise DataError(name, number, f"more than {MAX_ROWS:,} values")
    if not values:
        raise DataError(name, 0, "holds no numbers")
    return np.asarray(values, dtype=float)


#: a timestamp written with a time zone: Z or an offset after the time of day
_ZONED = r"^.*[T ]\d.*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"


def _timestamps(column: Column) -> pd.Series:
    """The column as timestamps; a CSV's text parsed as ISO 8601, naive or with a time zone, never a mix."""
    raw = column.values
    if column.kind == TIMESTAMP:
        return raw
    if column.kind != TEXT:
        raise column.error(0, f"not a timestamp: {column.shown(0)!r}")
    text = raw.astype(str).str.strip()
    try:
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601")
    except ValueError:  # several offsets, or offsets and none: each row says which it has
        zoned = text.str.match(_ZONED).to_numpy(dtype=bool)
        if not zoned.all():
            row = int(np.argmax(zoned != zoned[0]))
            has = "has no time zone" if zoned[0] else "has a time zone"
            raise column.error(row, f"{has} where the first timestamp ({column.shown(0)!r}) "
                                    f"{'has one' if zoned[0] else 'has none'}: give every timestamp with a time zone "
                                    "or none") from None
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    missing = np.asarray(pd.isna(stamps))
    if missing.any():
        row = int(np.argmax(missing))
        raise column.error(row, f"not a timestamp: {column.shown(row)!r}")
    return pd.Series(stamps)


def _not_finite(cell) -> str:
    """Why a cell is no finite number: empty (a blank CSV cell, a Parquet null), not a number (NaN, written out
    or stored), or something else (text, infinity)."""
    if cell is None or cell is pd.NA or (isinstance(cell, str) and not cell.strip()):
        return "empty value"
    if isinstance(cell, float) and math.isnan(cell):
        return "not a number (NaN)"
    shown = repr(cell.strip()[:40]) if isinstance(cell, str) else str(cell)
    try:
        literal_nan = isinstance(cell, str) and math.isnan(float(cell))
    except ValueError:
        literal_nan = False
    return f"not a number: {shown}" if literal_nan else f"not a finite number: {shown}"


def seconds_since(column: Column, start) -> np.ndarray:
    """The column as seconds after ``start``: timestamps minus a timestamp, both with a time zone or both without."""
    try:
        origin = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise DataError(column.file, 0, f"start: not a timestamp or number: {start!r} ({exc})", "start") from None
    stamps = _timestamps(column)
    if (stamps.dt.tz is None) != (origin.tzinfo is None):
        given = "with a time zone" if origin.tzinfo is not None else "without a time zone"
        held = "with one" if stamps.dt.tz is not None else "without one"
        raise DataError(column.file, 0, f"start is given {given} and the timestamps are {held}: give both with a "
                                        "time zone or both without", "start")
    return np.asarray((stamps - origin).dt.total_seconds(), dtype=float)
