"""Measured values from a data file: one column of a CSV or Parquet file, or numbers one per line.

Used by ``{dist: empirical, file: ...}``, by traces (``workload.*.trace``)
and by ``cqrs-sim fit``. Every problem is a :class:`DataError` that names the
file and, for text files, the line of the offending value (a CSV's header is
line 1, its first value line 2); a Parquet file has no lines, so its errors
name the row.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

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
        super().__init__(f"{file}:{line}: {message}" if line > 0 else f"{file}: {message}")


class ColumnsError(DataError):
    """A file with several columns where one was expected; the caller says how to name it."""


def _opened(path: Path) -> bytes:
    """The file's bytes: a regular file of at most MAX_DATA_BYTES."""
    file = str(path)
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise DataError(file, 0, "is a directory, not a data file")
            if not stat.S_ISREG(mode):
                raise DataError(file, 0, "is not a regular file (a device, pipe or socket)")
            data = fh.read(MAX_DATA_BYTES + 1)
    except FileNotFoundError:
        raise DataError(file, 0, "no such file") from None
    except IsADirectoryError:
        raise DataError(file, 0, "is a directory, not a data file") from None
    except OSError as exc:
        raise DataError(file, 0, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_DATA_BYTES:
        raise DataError(file, 0, f"is larger than {MAX_DATA_BYTES >> 20} MiB")
    return data


def _parquet(path: Path, data: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError, ValueError):  # pyarrow's words name its internals: say ours
        raise DataError(str(path), 0, "cannot read as Parquet: not a Parquet file, or a damaged one (its name "
                                      "ends in .parquet or .pq; name a CSV file .csv)") from None


def _csv(path: Path, data: bytes) -> pd.DataFrame:
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


class Column:
    """One column of a data file, with where each value came from."""

    def __init__(self, file: str, values: pd.Series, first_line: Optional[int]):
        self.file = file
        self.values = values  #: as read (text for CSV, typed for Parquet)
        self.first_line = first_line  #: line of the first value; None for Parquet (rows are named instead)

    def where(self, row: int) -> tuple[int, str]:
        """(line, prefix) for an error at ``row`` (0-based)."""
        if self.first_line is None:
            return 0, f"row {row + 1}: "
        return self.first_line + row, ""

    def error(self, row: int, message: str) -> DataError:
        line, prefix = self.where(row)
        return DataError(self.file, line, prefix + message, str(self.values.name))

    def __len__(self) -> int:
        return len(self.values)


def read_columns(path: str | Path, columns: list[Optional[str]]) -> list[Column]:
    """Columns of a CSV (first line: column names) or Parquet file (by suffix), the file read once;
    a column None is the file's only column."""
    path = Path(path)
    data = _opened(path)
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    frame = _parquet(path, data) if parquet else _csv(path, data)
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
            names = ", ".join(str(c) for c in frame.columns[:20]) or "none"
            raise DataError(str(path), 0 if parquet else 1, f"has no column {column!r} (columns: {names})", column)
        found.append(Column(str(path), frame[column].reset_index(drop=True), None if parquet else 2))
    return found


def read_column(path: str | Path, column: Optional[str]) -> Column:
    """One column of a CSV or Parquet file; None: the file's only column."""
    return read_columns(path, [column])[0]


def data_path(file: str, base: Optional[str]) -> str:
    """A data file named in a scenario, as an absolute path: relative names are relative to the scenario's directory."""
    return str((Path(base or ".") / Path(file).expanduser()).resolve())


def arrival_times(column: Column, start=None, factor: float = 1.0) -> np.ndarray:
    """Arrival times in seconds from the start: never negative, never decreasing."""
    if start is None:
        try:
            times = numbers(column) * factor
        except DataError as exc:
            row = exc.line - column.first_line if column.first_line is not None and exc.line else 0
            if not pd.isna(pd.to_datetime(column.values.iloc[row], errors="coerce", format="ISO8601")):
                raise column.error(row, "a timestamp: give start, the instant that counts as 0s") from None
            raise
    elif isinstance(start, (int, float)) and not isinstance(start, bool):
        times = seconds_since(column, start) * factor
    else:
        times = seconds_since(column, start)
    negative = times < 0
    if negative.any():
        row = int(np.argmax(negative))
        raise column.error(row, f"a time before the start: {times[row]:g}s" + ("" if start is None else
                                                                              f" (start {start})"))
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


def numbers(column: Column) -> np.ndarray:
    """The column as finite floats; the first value that is not one is an error."""
    raw = column.values
    parsed = pd.to_numeric(raw, errors="coerce") if raw.dtype == object or pd.api.types.is_string_dtype(raw) else raw
    try:
        out = np.asarray(parsed, dtype=float)
    except (TypeError, ValueError):
        raise column.error(0, f"holds {raw.dtype} values, not numbers") from None
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.argmax(bad))
        raise column.error(row, _not_finite(raw.iloc[row]))
    return out


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
    """The column as seconds after ``start``: numbers minus a number, or timestamps minus a timestamp."""
    raw = column.values
    if isinstance(start, (int, float)) and not isinstance(start, bool):
        return numbers(column) - float(start)
    try:
        origin = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise DataError(column.file, 0, f"start: not a timestamp or number: {start!r} ({exc})", "start") from None
    try:
        stamps = pd.to_datetime(raw, errors="coerce", utc=origin.tzinfo is not None, format="ISO8601") \
            if not pd.api.types.is_datetime64_any_dtype(raw) else raw
    except (ValueError, TypeError):  # pandas refuses to compare offsets with a start that has none
        raise DataError(column.file, 0, f"timestamps with a time zone (UTC offset) and a start without one ({start}): "
                                        "give start a time zone too, such as 2026-01-05T09:00:00+01:00", "start") from None
    missing = np.asarray(pd.isna(stamps))
    if missing.any():
        row = int(np.argmax(missing))
        raise column.error(row, f"not a timestamp: {str(raw.iloc[row])[:40]!r}")
    stamps = pd.Series(stamps)
    if (stamps.dt.tz is None) != (origin.tzinfo is None):
        raise DataError(column.file, 0, "give start and the timestamps both with a time zone or both without", "start")
    return np.asarray((stamps - origin).dt.total_seconds(), dtype=float)
