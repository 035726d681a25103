"""What each outage did: reads failed while it lasted, the time to recover, and metastable states.

One row per outage of an instance (random or scheduled; ``outages.parquet``),
measured on its run's time bins (``timeseries``), so the numbers are as
fine as ``bin``:

- ``reads_failed``: reads failed in the bins from the one the failure falls
  in to the one the instance is back in; ``failed_share`` is their share of
  the reads ending in those bins.
- The pre-failure level: over the (at most ``BASELINE_BINS``) bins before the
  failure, the median of the bins' p99 latency and the share of reads failed.
- A bin is back to normal when its share of failed reads is at most the
  pre-failure share + ``FAILED_MARGIN`` and its p99 at most
  ``LATENCY_FACTOR`` × the pre-failure p99. The run has recovered at the
  start of the first bin, from the one the instance is back in, that begins
  ``SETTLE_BINS`` normal bins in a row (fewer at the end of the run), and not
  before the repair: ``time_to_recover`` = that time − the repair (NaN: it
  did not recover before the run ended).
- ``metastable``: the failure outlasted its repair by ``verdict.metastable_after``
  or more (it recovered that late, or not at all and the run went on that
  long after the repair): the overload sustains itself once its trigger is
  gone. The evidence: ``failed_share_after`` and ``p99_after``, the share of
  reads failed and the median p99 from the repair to the recovery (or the end).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..config.format import format_duration

if TYPE_CHECKING:
    import pandas as pd

    from ..config.scenario import Scenario
    from ..io.results import Results

BASELINE_BINS = 10  #: bins before a failure that give its pre-failure level
FAILED_MARGIN = 0.01  #: a bin is normal with at most this much more failed share than before the failure
LATENCY_FACTOR = 2.0  #: … and a p99 at most this many times the pre-failure p99
SETTLE_BINS = 3  #: normal bins in a row that make a recovery

EFFECT_COLUMNS = ("reads_failed", "failed_share", "p99_before", "p99_during", "time_to_recover", "metastable",
                  "failed_share_after", "p99_after")


def outage_effects(outages: pd.DataFrame, timeseries: pd.DataFrame, scenario: "Scenario") -> pd.DataFrame:
    """One run's outages (architecture, replication, instance, cause, down, up) with the effect columns added."""
    import pandas as pd  # on use: the verdict imports this module, and `import cqrs_sim.cli` stays fast

    out = outages.copy()
    n = len(out)
    effects: dict[str, list] = {name: [] for name in EFFECT_COLUMNS}
    ts = timeseries.sort_values("t")
    failed = ts["reads_failed"].to_numpy(dtype=float)
    total = failed + ts["reads_completed"].to_numpy(dtype=float)
    p99 = ts["read_latency_p99"].to_numpy(dtype=float)
    starts = ts["t"].to_numpy(dtype=float)
    width = scenario.bin_width
    for down, up in zip(out["down"].to_numpy(dtype=float), out["up"].to_numpy(dtype=float)):
        row = _effect(down, up, starts, failed, total, p99, width, scenario)
        for name in EFFECT_COLUMNS:
            effects[name].append(row[name])
    for name in EFFECT_COLUMNS:
        out[name] = np.asarray(effects[name], dtype=bool if name == "metastable" else float) if n else \
            np.empty(0, dtype=bool if name == "metastable" else float)
    return out


def _share(failed: np.ndarray, total: np.ndarray) -> float:
    return float(failed.sum() / total.sum()) if total.sum() > 0 else math.nan


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else math.nan


def _effect(down: float, up: float, starts: np.ndarray, failed: np.ndarray, total: np.ndarray, p99: np.ndarray,
            width: float, scenario: "Scenario") -> dict:
    rows = len(starts)
    nothing = {name: math.nan for name in EFFECT_COLUMNS} | {"metastable": False}
    if not rows or math.isnan(up):
        return nothing
    first = min(int(down // width), rows - 1)
    back = min(int(up // width), rows - 1)
    base = slice(max(0, first - BASELINE_BINS), first)
    p99_before, share_before = _median(p99[base]), _share(failed[base], total[base])
    share_before = 0.0 if math.isnan(share_before) else share_before
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, failed / np.maximum(total, 1), 0.0)
    normal = shares <= share_before + FAILED_MARGIN
    if not math.isnan(p99_before):
        normal &= ~(p99 > LATENCY_FACTOR * p99_before)  # a bin without served reads (NaN) is judged by its failures
    recovered = math.nan
    for b in range(back, rows):
        if normal[b:b + SETTLE_BINS].all():
            recovered = max(up, float(starts[b]))
            break
    end = scenario.duration
    after_end = rows if math.isnan(recovered) else max(back + 1, int(recovered // width))
    after = slice(back, after_end)
    to_recover = recovered - up
    outlasted = (end - up) if math.isnan(recovered) else to_recover
    return {
        "reads_failed": float(failed[first:back + 1].sum()),
        "failed_share": _share(failed[first:back + 1], total[first:back + 1]),
        "p99_before": p99_before,
        "p99_during": _median(p99[first:back + 1]),
        "time_to_recover": to_recover,
        "metastable": bool(outlasted >= scenario.verdict.metastable_after),
        "failed_share_after": _share(failed[after], total[after]),
        "p99_after": _median(p99[after]),
    }


def outage_summary(results: "Results") -> pd.DataFrame:
    """The outage table of a result: one row per (architecture, instance, cause, down) over its replications
    (a scheduled failure is the same outage in each; ``up`` is the median repair, as a CQRS replica's
    rebuild may take longer in one replication than in another): replications it occurred in, mean reads
    failed, mean failed share, median p99 before and during, replications that recovered and the median
    time they took, replications left in a metastable state."""
    import pandas as pd  # on use: the verdict imports this module, and `import cqrs_sim.cli` stays fast

    frame = results.outages
    columns = ["architecture", "instance", "cause", "down", "up", "replications", "reads_failed", "failed_share",
               "p99_before", "p99_during", "recovered", "time_to_recover", "metastable", "failed_share_after"]
    if frame is None or not len(frame) or "metastable" not in frame:
        return pd.DataFrame(columns=columns)
    frame = frame[frame["up"].notna()].copy()
    frame["architecture"] = frame["architecture"].astype(str)
    rows = []
    for (arch, instance, cause, down), group in frame.groupby(["architecture", "instance", "cause", "down"], sort=True):
        recovered = group["time_to_recover"].notna()
        rows.append({"architecture": arch, "instance": instance, "cause": cause, "down": down,
                     "up": group["up"].median(),
                     "replications": len(group), "reads_failed": group["reads_failed"].mean(),
                     "failed_share": group["failed_share"].mean(), "p99_before": group["p99_before"].median(),
                     "p99_during": group["p99_during"].median(), "recovered": int(recovered.sum()),
                     "time_to_recover": group.loc[recovered, "time_to_recover"].median() if recovered.any() else math.nan,
                     "metastable": int(group["metastable"].sum()),
                     "failed_share_after": group["failed_share_after"].mean()})
    return pd.DataFrame(rows, columns=columns).sort_values(["down", "architecture", "instance"], ignore_index=True)


def _ms(seconds: float) -> str:
    return "?" if math.isnan(seconds) else format_duration(seconds)


def outage_lines(results: "Results") -> list[str]:
    """One sentence per scheduled outage, and per outage that left a run in a metastable state."""
    table = outage_summary(results)
    after = format_duration(results.scenario.verdict.metastable_after)
    lines = []
    for row in table.itertuples(index=False):
        if "scheduled" not in row.cause and not row.metastable:
            continue
        n = row.replications
        text = (f"{row.instance} down {format_duration(row.down)}–{format_duration(row.up)} ({row.cause}): "
                f"{row.architecture} p99 {_ms(row.p99_before)} → {_ms(row.p99_during)}, "
                f"{row.reads_failed:,.0f} reads failed ({row.failed_share:.1%})")
        if row.metastable:
            text += (f"; a metastable state in {row.metastable} of {n} replication(s): {row.failed_share_after:.1%} "
                     f"of reads still failed after the repair, "
                     + (f"back to normal only {_ms(row.time_to_recover)} after it" if row.recovered == n else
                        f"not back to normal when the run ended ({row.recovered} of {n} recovered)")
                     + f" (the failure outlasted its repair by verdict.metastable_after = {after} or more)")
        elif row.recovered == n:
            text += ("; no lasting effect: back to its pre-failure level when repaired" if row.time_to_recover == 0
                     else f"; back to its pre-failure level {_ms(row.time_to_recover)} after the repair")
        else:
            text += f"; recovered in {row.recovered} of {n} replication(s) before the run ended"
        lines.append(text)
    return lines
