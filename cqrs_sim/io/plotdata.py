"""What ``plot`` and ``report`` read from a result directory (only the frames the plots draw), and
``report.html`` written into it.

Every small table (writes, replicas, timeseries, visibility, replications)
is read whole. Of ``requests.parquet``, which holds every request under
``record: full``, only the reads are kept and only the columns in
:data:`PLOTTED_REQUEST_COLUMNS`, read one batch at a time into preallocated
columns, so memory stays a fraction of the run's.
A plot that needs another requests column must add it here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..present.htmlreport import render
from .outdir import write_text_atomic
from .resultdir import TABLES
from .results import Results, _not_a_result, load_results, unreadable
from ..analysis.tables import ARCHITECTURES, KINDS

#: the requests columns the plots use (one row per read)
PLOTTED_REQUEST_COLUMNS = ("architecture", "replication", "kind", "arrival", "latency", "stale", "staleness")
CATEGORIES = {"architecture": ARCHITECTURES, "kind": KINDS}
BATCH_ROWS = 1 << 18


def load_plot_results(directory: str | Path) -> Results:
    """The results of ``directory`` with ``requests`` reduced to the reads' plotted columns."""
    directory = Path(directory)
    results = load_results(directory, tables=[name for name in TABLES if name != "requests"])
    path = directory / "requests.parquet"
    if not path.is_file():
        raise _not_a_result(directory, path.name, "missing")
    try:
        results.requests = read_reads(path, PLOTTED_REQUEST_COLUMNS)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise _not_a_result(directory, path.name, unreadable(exc)) from None
    return results


def read_reads(path: str | Path, columns: tuple[str, ...] = PLOTTED_REQUEST_COLUMNS) -> pd.DataFrame:
    """The read rows of a requests table, only ``columns`` (those it has), batch by batch."""
    source = pq.ParquetFile(path)
    names = [name for name in columns if name in source.schema_arrow.names]
    read_names = names if "kind" in names or "kind" not in source.schema_arrow.names else [*names, "kind"]
    total = source.metadata.num_rows
    out: dict[str, np.ndarray] = {}
    at = 0
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=read_names):
        frame = batch.to_pandas()
        if "kind" in frame:
            frame = frame[frame["kind"] == "read"]
        n = len(frame)
        for name in names:
            column = frame[name]
            if name in CATEGORIES:
                values = pd.Categorical(column, categories=CATEGORIES[name]).codes
            else:
                values = column.to_numpy()
            if name not in out:
                out[name] = np.empty(total, dtype=values.dtype)
            out[name][at:at + n] = values
        at += n
    data = {}
    for name in names:
        values = out[name][:at] if name in out else np.empty(0)
        data[name] = (pd.Categorical.from_codes(values.astype(np.int8), categories=CATEGORIES[name])
                      if name in CATEGORIES else values)
    return pd.DataFrame(data, copy=False)


def write_report(directory: str | Path) -> Path:
    """Write DIR/report.html from the saved results in DIR."""
    directory = Path(directory)
    results = load_plot_results(directory)
    return write_text_atomic(directory / "report.html", render(results))
