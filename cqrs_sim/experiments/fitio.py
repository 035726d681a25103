"""What ``cqrs-sim fit`` reads and writes: measured times from a file or standard input, and where its plot goes.

A file is CSV unless it ends in ``.parquet`` or ``.pq``. A CSV's first line
names its columns, unless it is a value: a first line that reads as a
number or a duration (``2.6``, ``2.6ms``) is no header, so a file of one
such column is read whole, its first line its first value (the output says
so), and one of several columns is refused, since no name picks one.

A CSV column is parsed by pandas' C parser straight into floats (about 16
bytes a value at the peak, where text would take ten times that); when
anything in it is not a finite number, the text reader of
:mod:`cqrs_sim.config.datafile` reads it again to name the line at fault, so the
rules for values are that module's.

Inputs over :data:`PROGRESS_BYTES` say what they are doing as they go
(reading, fitting, bootstrapping): they take seconds; smaller ones print
only their answer (or their one error line).

The plot is written atomically, and never into a directory that holds a
result of another command (a run, a testbed run, a sweep or an optimize
answer): a file there would make it no longer a result ``--force`` may
replace.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..config.datafile import (MAX_DATA_BYTES, MAX_ROWS, PARQUET_SUFFIXES, Column, ColumnsError, DataError, durations,
                               numbers, read_column, read_lines)
from ..config.datafile import _opened as read_bytes  # the one checked opener of data files (regular file, size limit)
from ..core.errors import Problem, ScenarioError
from .fit import check_values
from ..config.units import DATA_UNITS, DURATION_UNITS, out_of_range, parse_duration, range_problem
from ..present.plots.fit import fit_plot
from ..io.outdir import atomic_file, check_file_target, safe_dirname
from ..io.resultdir import output_error

UNITS = {unit: DURATION_UNITS[unit] for unit in DATA_UNITS}  #: the units --unit takes
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
PROGRESS_BYTES = 8 << 20  #: inputs at least this large report progress (about a million values)
#: files that mark a directory as another command's result: sweep, optimize (a run's is resultdir.is_result_dir)
RESULT_MARKERS = {"sweep.json": "a cqrs-sim sweep", "optimize.json": "a cqrs-sim optimize answer"}


@dataclass(frozen=True)
class Measurements:
    """Measured times and where they came from (for the ``empirical`` snippet and the messages)."""

    values: np.ndarray  #: seconds, all positive
    source: str  #: the file as given, or "-" for standard input
    column: Optional[str]  #: the column read (None: standard input, or a file without a header line)
    unit: str  #: the unit the values were given in
    headerless: bool = False  #: a CSV whose first line is a value
    large: bool = False  #: at least PROGRESS_BYTES: the command reports progress


def read_measurements(source: str, column: Optional[str] = None, unit: str = "s", stdin: Any = None,
                      progress: Callable[[str], None] = lambda line: None) -> Measurements:
    """Measured times in seconds from a CSV or Parquet column, or (``source`` ``-``) from ``stdin`` (text, or a
    stream read up to MAX_DATA_BYTES), one number per line.

    Raises :class:`ScenarioError` with one located problem: a missing file or column, a headerless file of
    several columns, a value that is not a number, one that is not positive, or too few values to fit.
    """
    if unit not in UNITS:
        raise ScenarioError([Problem(f"--unit {unit}", 0, 0, "(--unit)", f"unknown unit; use one of {', '.join(UNITS)}")])
    where = column or ("(stdin)" if source == "-" else "(file)")
    headerless = False
    size = [0]

    def tell(line: str) -> None:
        if size[0] >= PROGRESS_BYTES:
            progress(line)

    try:
        if source == "-":
            text = _stdin_text(stdin, where)
            size[0] = len(text)
            tell(f"reading standard input ({len(text) / 1e6:,.1f} MB)")
            values = _fast_lines(text)
            if values is None:
                values = read_lines(text, "-")
            line_of = _stdin_lines(text)
        elif Path(source).suffix.lower() in PARQUET_SUFFIXES:
            size[0] = os.stat(source).st_size if os.path.isfile(source) else 0
            tell(f"reading {source} ({size[0] / 1e6:,.1f} MB)")
            data = read_column(source, column)
            where = str(data.values.name)
            values, line_of = durations(data, unit) / UNITS[unit], data.where  # a Parquet duration is read as one
        else:
            values, where, headerless, line_of = _csv_values(source, column, size, tell)
    except ColumnsError as exc:
        raise ScenarioError([Problem(exc.file, exc.line, 1, where, f"{exc.message} with --column NAME")]) from None
    except DataError as exc:
        raise ScenarioError([Problem(exc.file, exc.line, 1, exc.column or where, exc.message)]) from None
    if len(values) > MAX_ROWS:
        raise ScenarioError([Problem(source, 0, 0, where, f"has {len(values):,} values, more than {MAX_ROWS:,}")])
    bad = values <= 0
    if bad.any():
        row = int(np.argmax(bad))
        line, prefix = line_of(row)
        raise ScenarioError([Problem(source, line, 1, where, f"{prefix}a time must be positive to fit, got {values[row]:g}")])
    values = values * UNITS[unit]
    over = out_of_range(values)  # the rule every duration obeys, written inline or read from a file
    if over.any():
        row = int(np.argmax(over))
        line, prefix = line_of(row)
        shown = f"{values[row] / UNITS[unit]:g}{unit}"
        raise ScenarioError([Problem(source, line, 1, where, prefix + (range_problem(float(values[row]), shown)
                                                                       or "out of range"))])
    problem = check_values(values)
    if problem is not None:
        raise ScenarioError([Problem(source, 0, 0, where, problem)])
    tell(f"read {len(values):,} values")
    return Measurements(values, source, None if source == "-" or headerless else where, unit, headerless,
                        size[0] >= PROGRESS_BYTES)


def _stdin_text(stdin: Any, where: str) -> str:
    if stdin is None or isinstance(stdin, str):
        return stdin or ""
    text = stdin.read(MAX_DATA_BYTES + 1)
    if len(text) > MAX_DATA_BYTES:
        raise ScenarioError([Problem("-", 0, 0, where, f"more than {MAX_DATA_BYTES >> 20} MiB on standard input")])
    return text


def _stdin_lines(text: str) -> Callable[[int], tuple[int, str]]:
    """The line of the row-th number on standard input (blank lines hold none)."""
    def line_of(row: int) -> tuple[int, str]:
        seen = -1
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                seen += 1
                if seen == row:
                    return number, ""
        return 0, ""
    return line_of


def _finite_floats(read: Callable[[], Any]) -> Optional[np.ndarray]:
    """The one column ``read()`` gives as finite floats, or None when it cannot (the text reader then says why)."""
    import pandas as pd

    try:
        frame = read()
    except (ValueError, TypeError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    if frame.shape[1] != 1 or len(frame) == 0:
        return None
    values = frame.iloc[:, 0].to_numpy(dtype=float)
    return values if np.isfinite(values).all() else None


def _fast_lines(text: str) -> Optional[np.ndarray]:
    """Numbers one per line, by pandas' C parser (blank lines skipped, as :func:`datafile.read_lines` does)."""
    import pandas as pd

    return _finite_floats(lambda: pd.read_csv(io.StringIO(text), header=None, dtype=float,
                                              skip_blank_lines=True, skipinitialspace=True))


def _is_value(text: str) -> bool:
    """Whether a header cell reads as a value (a finite number or a duration) rather than a name."""
    text = text.strip()
    try:
        return math.isfinite(float(text))
    except ValueError:
        pass
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _csv_values(path: str, column: Optional[str], size: list[int], progress: Callable[[str], None]):
    """(values, column name, headerless, line of a row) of one column of a CSV file; its size goes into ``size``."""
    import pandas as pd

    data = read_bytes(Path(path))
    size[0] = len(data)
    progress(f"reading {path} ({len(data) / 1e6:,.1f} MB)")
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    names = next(csv.reader([first]), [])
    headerless = bool(names) and all(_is_value(name) for name in names)
    if headerless:
        shown = ", ".join(n.strip() for n in names[:5]) + (", ..." if len(names) > 5 else "")
        if len(names) > 1:
            raise DataError(path, 1, f"has no header line: its first line holds values ({shown}), not column names; "
                                     "add a line naming the columns, and pick one with --column NAME")
        if column is not None:
            raise DataError(path, 1, f"has no header line (its first line is the value {names[0].strip()!r}), so no "
                                     f"column {column!r}: leave out --column, or add a line naming the column")
    options = {"header": None} if headerless else {"header": 0, "usecols": [column] if column is not None else None}
    values = _finite_floats(lambda: pd.read_csv(io.BytesIO(data), dtype=float,
                                                skip_blank_lines=False, **options))
    first_line = 1 if headerless else 2
    if values is None:  # the text reader names what is wrong (or, if nothing is, gives the same numbers)
        if headerless:
            text = pd.read_csv(io.BytesIO(data), header=None, dtype=str, keep_default_na=False, skip_blank_lines=False)
            values = numbers(Column(path, text.iloc[:, 0].rename("(values)"), first_line))
        else:
            values = numbers(read_column(path, column))
    name = "(values)" if headerless else (column if column is not None else names[0].strip())
    return values, name, headerless, lambda row: (first_line + row, "")


def plot_target(output: Optional[Path], name: str, force: bool) -> Path:
    """Where the plot goes (``output``, or ``fit-<name>.png`` here), checked before anything is read: a writable
    place outside every cqrs-sim result, a known image suffix, and no existing file unless ``force``."""

    plot = Path(output) if output is not None else Path(f"fit-{safe_dirname(name, 'data')}.png")
    if plot.suffix.lower() not in PLOT_SUFFIXES:
        raise output_error(plot, "give a .png, .svg or .pdf file")
    check_file_target(plot)  # outside every cqrs-sim output
    if os.path.lexists(plot) and not force:
        raise output_error(plot, "already exists; pass --force to replace it, or -o for another file")
    return plot


def save_fit_plot(values: np.ndarray, fits: list, name: str, path: Path, refused: frozenset[str] = frozenset(),
                  of: Optional[int] = None) -> None:
    """The CDF and QQ plot, written atomically to ``path`` (``values``: a random sample of ``of`` values, if given)."""

    figure = fit_plot(values, fits, name, refused, of)
    with atomic_file(path) as temporary:
        figure.savefig(temporary, format=path.suffix.lstrip(".") or "png")


__all__ = ["Measurements", "PLOT_SUFFIXES", "PROGRESS_BYTES", "UNITS", "plot_target", "read_measurements", "save_fit_plot"]
