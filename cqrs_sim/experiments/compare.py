"""Comparing two result directories metric by metric: the natural use is a testbed run beside a simulated run.

For every architecture both directories hold and every metric both summaries
hold (in the summary's order), the table
gives each side's mean and 95% interval (over its replications), the
difference B − A, the relative difference, and whether each mean lies
inside the other side's interval. Agreement targets, when given, are
checked on the relative difference (latencies, visibility times) or on the
absolute one (fractions, in percentage points). A testbed run measured how
late its client's timers woke on the machine it ran on (its manifest's
``testbed.timer_lateness_s``); every timed step of a request can be that
late, so a time's target is widened by that lateness (the mean for a mean,
the p99 for a p99), as the run measured it rather than as a quiet machine
would have it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from ..config.scenario import CALIBRATED_KEYS
from ..core.errors import ScenarioError
from ..io.integrity import DATA_FILES
from ..core.intervals import contains, finite_or_none
from ..io.results import load_results, Results, scenario_hash
from ..analysis.values import format_interval, format_value
from ..core.safetext import rich_text
from ..config.resolved import resolved_dict
from .sweeppoints import load_point
from ..io.resultdir import output_kind

#: the overlay plots ``cqrs-sim compare --plots DIR`` draws into DIR
PLOT_FILES = ("latency_cdf.png", "visibility_curve.png")
#: agreement targets of a testbed check: metric -> ("relative", share) or ("absolute", amount)
TARGETS = {
    "read_latency_mean": ("relative", 0.10),
    "read_latency_p99": ("relative", 0.10),
    "stale_read_fraction": ("absolute", 0.02),
    "first_visible_mean": ("relative", 0.10),
    "visibility_window_mean": ("relative", 0.10),
}

#: time metrics whose target widens by a testbed run's measured timer lateness: metric -> the statistic added
LATENESS_ALLOWANCE = {
    "read_latency_mean": "mean",
    "read_latency_p99": "p99",
    "first_visible_mean": "mean",
    "visibility_window_mean": "mean",
}


def lateness_allowance(metric: str, *manifests: dict) -> float:
    """Seconds added to ``metric``'s target: the matching statistic of each side's measured timer lateness (0 for
    a simulation, or a metric that is not a time)."""
    statistic = LATENESS_ALLOWANCE.get(metric)
    total = 0.0
    for manifest in manifests:
        testbed = manifest.get("testbed") if isinstance(manifest, dict) else None
        lateness = testbed.get("timer_lateness_s") if isinstance(testbed, dict) else None
        value = lateness.get(statistic) if isinstance(lateness, dict) and statistic else None
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            total += float(value)
    return total


#: scenario keys that change the random numbers, the number of runs or what is recorded, not the model compared
NOISE_KEYS = ("name", "description", "seed", "replications", "record", "record_sample", "limits")


def load_pair(a: str | Path, b: str | Path) -> tuple[Results, Results]:
    """Two result directories (or sweep points), with the tables the comparison and its plots need; raises
    :class:`ScenarioError` with the problems of both when either cannot be read."""
    sides, problems = [], []
    for directory in (a, b):
        try:
            sides.append(load_side(directory))
        except ScenarioError as exc:
            problems += [problem for problem in exc.problems if problem not in problems]
    if problems:
        raise ScenarioError(problems)
    return sides[0], sides[1]


def load_side(directory: str | Path) -> Results:
    """A run's or testbed's result with the requests and visibility tables, or a sweep point (summaries only)."""

    if output_kind(Path(directory)) == "sweep point":

        return load_point(directory)
    columns = {"requests": ["architecture", "replication", "kind", "arrival", "latency"]}
    return load_results(directory, tables=("requests", "visibility"), columns=columns)


@dataclass(frozen=True)
class ScenarioDifference:
    """How the scenarios of two results differ (their hashes do)."""

    hashes: tuple[str, str]
    keys: list[tuple[str, Any, Any]]  #: (dotted key, A's value, B's value) of each resolved value that differs
    files: list[str]  #: data files (by key) whose contents differ

    @property
    def same_model(self) -> bool:
        """Whether only the random numbers, the number of replications or the recording differ."""
        return not self.files and all(key.split(".")[0] in NOISE_KEYS for key, _, _ in self.keys) and bool(self.keys)

    @property
    def calibrated(self) -> bool:
        """Whether they differ, beyond noise, only in parts a testbed calibration measures (query, apply and copy
        times: one side is a prediction from the other's measured parts)."""
        parts = set(CALIBRATED_KEYS.values())
        return not self.files and not self.same_model and bool(self.keys) and all(
            key.split(".")[0] in NOISE_KEYS or any(key == p or key.startswith(p + ".") for p in parts)
            for key, _, _ in self.keys)

    def message(self) -> str:
        """The difference in one plain sentence."""
        shown = [f"{key} ({_brief(va)} vs {_brief(vb)})" for key, va, vb in self.keys[:5]]
        shown += [f"the contents of the data file of {key}" for key in self.files]
        more = len(self.keys) - 5
        what = ", ".join(shown) + (f" and {more} more key(s)" if more > 0 else "") if shown else \
            "the contents of their data files"
        hashes = f"scenario sha256 A {self.hashes[0][:12]}…, B {self.hashes[1][:12]}…"
        if self.same_model:
            return (f"A and B are the same model with other random numbers or runs ({hashes}; they differ only in "
                    f"{what}): the differences below are noise, to be judged by the intervals")
        if self.calibrated:
            return (f"A and B differ only in the parts a testbed calibration measures ({hashes}; {what}): a "
                    "prediction from measured parts beside a measurement, agreement targets judged")
        return (f"A and B were made from different scenarios ({hashes}); they differ in {what}. The differences "
                "below come from the scenarios, not from a disagreement of the two; agreement targets are not judged")


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def scenario_difference(a: Results, b: Results) -> Optional[ScenarioDifference]:
    """How the scenarios of A and B differ, or None when they are the same scenario (same hash, data included)."""

    hash_a = a.manifest.get("scenario_sha256") or scenario_hash(a.scenario)
    hash_b = b.manifest.get("scenario_sha256") or scenario_hash(b.scenario)
    if hash_a == hash_b:
        return None
    flat_a, flat_b = _flat(resolved_dict(a.scenario)), _flat(resolved_dict(b.scenario))
    keys = [(key, flat_a.get(key), flat_b.get(key)) for key in dict.fromkeys([*flat_a, *flat_b])
            if flat_a.get(key) != flat_b.get(key)]
    data_a = {e.get("key"): e.get("sha256") for e in a.manifest.get(DATA_FILES) or [] if isinstance(e, dict)}
    data_b = {e.get("key"): e.get("sha256") for e in b.manifest.get(DATA_FILES) or [] if isinstance(e, dict)}
    files = [str(key) for key in data_a if key in data_b and data_a[key] != data_b[key]]
    return ScenarioDifference((hash_a, hash_b), keys, files)


def _within(kind: str, limit: float, a: float | None, b: float | None, allowance: float = 0.0) -> bool | None:
    if a is None or b is None:
        return None
    if kind == "absolute":
        return abs(b - a) <= limit + 1e-12  # a fraction's target: no time to add
    return abs(b - a) <= limit * abs(a) + allowance + 1e-12


def _target_text(kind: str, limit: float, allowance: float) -> str:
    share = f"{limit:.0%}" if kind == "relative" else f"{limit * 100:g} pp"
    return f"±{share}" if not allowance else f"±({share} + {allowance * 1000:.3g} ms)"


def shared_metrics(summary_a: pd.DataFrame, summary_b: pd.DataFrame) -> tuple[str, ...]:
    """The metrics both summaries hold, in A's summary order."""
    held = set(summary_b["metric"])
    return tuple(m for m in dict.fromkeys(summary_a["metric"]) if m in held)


def compare_results(a: Results, b: Results, metrics: tuple[str, ...] | None = None,
                    targets: dict[str, tuple[str, float]] | None = None) -> pd.DataFrame:
    """One row per (architecture, metric) both hold: a, a_low, a_high, b, b_low, b_high, difference (b − a),
    relative (difference / a), b_in_a, a_in_b (each mean inside the other's interval; None without one),
    target and within (the agreement target, when ``targets`` names the metric). ``metrics`` defaults to
    :func:`shared_metrics`."""
    targets = TARGETS if targets is None else targets
    sa, sb = a.summary(), b.summary()
    metrics = shared_metrics(sa, sb) if metrics is None else metrics
    rows = []
    for arch in [x for x in a.scenario.architectures if x in b.scenario.architectures]:
        for metric in metrics:
            ra = sa[(sa["architecture"] == arch) & (sa["metric"] == metric)]
            rb = sb[(sb["architecture"] == arch) & (sb["metric"] == metric)]
            if ra.empty or rb.empty:
                continue
            ra, rb = ra.iloc[0], rb.iloc[0]
            va, vb = finite_or_none(ra["mean"]), finite_or_none(rb["mean"])
            if va is None and vb is None:
                continue
            diff = vb - va if va is not None and vb is not None else None
            kind, limit = targets.get(metric, (None, None))
            allowance = lateness_allowance(metric, a.manifest, b.manifest) if kind == "relative" else 0.0
            rows.append({
                "architecture": arch, "metric": metric,
                "a": va, "a_low": finite_or_none(ra["ci_low"]), "a_high": finite_or_none(ra["ci_high"]),
                "b": vb, "b_low": finite_or_none(rb["ci_low"]), "b_high": finite_or_none(rb["ci_high"]),
                "difference": diff,
                "relative": diff / va if diff is not None and va else None,
                "b_in_a": contains(ra["ci_low"], ra["ci_high"], vb) if vb is not None and finite_or_none(ra["ci_low"]) is not None else None,
                "a_in_b": contains(rb["ci_low"], rb["ci_high"], va) if va is not None and finite_or_none(rb["ci_low"]) is not None else None,
                "target": None if kind is None else _target_text(kind, limit, allowance),
                "within": None if kind is None else _within(kind, limit, va, vb, allowance),
            })
    return pd.DataFrame(rows, columns=["architecture", "metric", "a", "a_low", "a_high", "b", "b_low", "b_high",
                                       "difference", "relative", "b_in_a", "a_in_b", "target", "within"])


def source_label(results: Results) -> str:
    """'testbed on PostgreSQL 16.2' or 'simulation'."""
    manifest = results.manifest
    if manifest.get("source") == "testbed":
        return f"testbed on {manifest.get('server', 'PostgreSQL')}"
    if manifest.get("kind") == "sweep point":
        return "simulation, sweep point"
    return "simulation"


def pair_labels(a: Results, dir_a: str | Path, b: Results, dir_b: str | Path) -> tuple[str, str]:
    """Titles and legends name each side's directory and source: ('A: sim (simulation)', 'B: tb (testbed on …)')."""
    return (f"A: {dir_a} ({source_label(a)})", f"B: {dir_b} ({source_label(b)})")


def agreement_failures(table: pd.DataFrame) -> list[str]:
    """The rows whose agreement target is missed, as one line each."""
    out = []
    for row in table.itertuples(index=False):
        if _given(row.within) and not row.within:
            rel = "" if row.relative is None or not math.isfinite(row.relative) else f" ({row.relative:+.1%})"
            out.append(f"{row.architecture} {row.metric}: {row.a:.6g} vs {row.b:.6g}{rel}, target {row.target}")
    return out


def _cell(metric: str, mean, low, high) -> str:

    return format_interval(metric, mean, low, high)


def _given(value) -> bool:
    """False for None and NaN (pandas stores a missing object as either)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _yes_no(value) -> str:
    return "-" if not _given(value) else ("yes" if value else "no")


def compare_table(table: pd.DataFrame, labels: tuple[str, str]):
    """The comparison as a rich Table: metric, A, B (mean ± half-width), B − A, relative, whether each mean lies in
    the other's 95% interval, and the agreement target."""
    from rich.table import Table

    out = Table(title=rich_text(f"{labels[0]}  vs  {labels[1]}"), title_justify="left")
    for name in ("arch", "metric", "A", "B", "B − A", "relative", "B in A", "A in B", "target"):
        out.add_column(name, justify="left" if name in ("arch", "metric") else "right", no_wrap=name == "metric")
    for row in table.itertuples(index=False):
        diff = "-" if not _given(row.difference) else format_value(row.metric, row.difference, exact=False)
        rel = "-" if not _given(row.relative) or not math.isfinite(row.relative) else f"{row.relative:+.1%}"
        target = "-" if not _given(row.target) else f"{row.target} {'ok' if row.within else 'MISSED'}"
        out.add_row(row.architecture, row.metric, _cell(row.metric, row.a, row.a_low, row.a_high),
                    _cell(row.metric, row.b, row.b_low, row.b_high), diff, rel, _yes_no(row.b_in_a),
                    _yes_no(row.a_in_b), target)
    return out
