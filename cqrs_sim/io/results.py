"""Results: the tables of a simulation, their summary, and saving and loading them as an output directory."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ..core.errors import Problem, ScenarioError
from ..core.intervals import json_value
from ..analysis.metrics import differences, summarize
from .integrity import DATA_FILES, check_data_files, data_file_entries
from .outdir import Destination
from ..core.redact import command_line
from ..core.safetext import html_text, read_csv, write_csv
from ..config.scenario import Scenario
from .resultdir import OPTIONAL_TABLES, output_kind, TABLES
from ..config.loader import load_scenario, resolved_yaml
from ..analysis.outages import outage_lines
from ..analysis.verdict import verdict
from ..config.format import format_duration
from ..present.htmltable import _table
from ..config.empirical import _Measured

#: the manifest's ``kind`` of a run's or a testbed's result (a sweep point's is ``sweep point``)
RESULT_KIND = "result"
PACKAGES = ("cqrs-sim", "simpy", "numpy", "pandas", "scipy", "pydantic", "pyarrow", "ruamel.yaml")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the resolved scenario and of every measured value it holds (a trace's or an empirical
    distribution's file is named by path in the YAML; its contents count too, so an edited file is a new scenario)."""

    digest = hashlib.sha256(resolved_yaml(scenario).encode("utf-8"))
    for values in measured_values(scenario):
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def measured_values(node: Any) -> Iterable[np.ndarray]:
    """Every array of measured values held in a scenario (traces, empirical distributions), in a fixed order."""
    from pydantic import BaseModel

    if isinstance(node, _Measured):
        yield node.values
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from measured_values(getattr(node, name))
        for name, value in sorted((node.__pydantic_private__ or {}).items()):
            yield from measured_values(value)
    elif isinstance(node, dict):
        for key in sorted(node, key=str):
            yield from measured_values(node[key])
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from measured_values(item)


def build_manifest(scenario: Scenario, wall_time: float) -> dict[str, Any]:
    return {
        "kind": RESULT_KIND,
        "scenario": scenario.name,
        "scenario_sha256": scenario_hash(scenario),
        DATA_FILES: data_file_entries(scenario),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "seed_derivation": "numpy PCG64(SeedSequence([seed, replication, sha256(stream name)[:8]]))",
        "architectures": list(scenario.architectures),
        "packages": package_versions(),
        "platform": platform.platform(),
        "wall_time_s": round(wall_time, 3),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
    }


@dataclass
class Results:
    """Everything one ``simulate`` call produced."""

    scenario: Scenario
    requests: pd.DataFrame
    writes: pd.DataFrame
    replicas: pd.DataFrame
    timeseries: pd.DataFrame
    per_replication: pd.DataFrame  #: one row per (architecture, replication), one column per metric
    visibility: pd.DataFrame = field(default_factory=pd.DataFrame)  #: architecture, t, probability, reads
    #: per autoscaler decision: architecture, replication, t, replicas_in_pool, provisioning, utilization, desired, change
    autoscale: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per outage of an instance: architecture, replication, instance, cause, down, up
    outages: pd.DataFrame = field(default_factory=pd.DataFrame)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def incomplete(self) -> list[dict[str, Any]]:
        """Runs stopped by limits.max_in_system (their metrics cover only what finished before)."""
        return list(self.manifest.get("incomplete", []))

    def summary(self) -> pd.DataFrame:
        """architecture, metric, mean, ci_low, ci_high, n (as summary.csv)."""
        return summarize(self.per_replication)

    def differences(self) -> pd.DataFrame:
        """cqrs − crud per metric, paired by replication, with its 95% interval."""
        return differences(self.per_replication)

    def summary_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scenario": self.scenario.name, "complete": not self.incomplete, "architectures": {}}
        for row in self.summary().itertuples(index=False):
            entry = {k: json_value(getattr(row, k)) for k in ("mean", "ci_low", "ci_high", "n")}
            out["architectures"].setdefault(row.architecture, {})[row.metric] = entry
        diff = self.differences()
        if len(diff):
            out["difference_cqrs_minus_crud"] = {
                row.metric: {k: json_value(getattr(row, k)) for k in ("mean", "ci_low", "ci_high", "n")}
                for row in diff.itertuples(index=False)
            }
        return out

    def _repr_html_(self) -> str:
        """In a notebook, Results shows as report.html's side-by-side table, with the verdict below it."""

        lines = verdict(self.summary(), self.differences(), self.incomplete, self.scenario.verdict.min_difference)
        caption = (f"<b>{html_text(self.scenario.name)}</b>: mean ± half-width of the 95% interval over "
                   f"{self.scenario.replications} replication(s), seed {self.scenario.seed}, requests arriving in "
                   f"[{format_duration(self.scenario.warmup)}, {format_duration(self.scenario.duration)})")
        notes = "".join(f"<li>{html_text(text)}</li>" for text in [text for _, _, text in lines] + outage_lines(self))
        stopped = "".join(f"<p><b>incomplete:</b> {html_text(run['architecture'])} replication {run['replication'] + 1} "
                          f"stopped: {html_text(str(run['reason']))}</p>" for run in self.incomplete)
        return f"<div><p>{caption}</p>{stopped}{_table(self)}<ul>{notes}</ul></div>"

    def write_into(self, directory: str | Path) -> None:
        """Write the output files into an existing directory (a staging directory: see :mod:`cqrs_sim.io.outdir`)."""

        staging = Path(directory)
        (staging / "scenario.yaml").write_text(resolved_yaml(self.scenario), encoding="utf-8")
        (staging / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
        (staging / "summary.json").write_text(json.dumps(self.summary_json(), indent=2) + "\n", encoding="utf-8")
        write_csv(self.summary(), staging / "summary.csv")
        write_csv(self.per_replication, staging / "replications.csv")
        for name in TABLES:
            getattr(self, name).to_parquet(staging / f"{name}.parquet", index=False)

    def save(self, directory: str | Path, force: bool = True) -> Path:
        """Write the output files into ``directory``; it appears only once complete.

        An existing directory is replaced only if it is a complete cqrs-sim result
        (and ``force``); anything else there raises :class:`ScenarioError`. Plots
        are the caller's: ``cqrs_sim.present.plots.save_all(results, directory / "plots")``.
        """
        with Destination(directory, force=force) as destination:
            self.write_into(destination.staging)
            return destination.commit()


def load_results(directory: str | Path, tables: Optional[Iterable[str]] = None,
                 columns: Optional[Mapping[str, Sequence[str]]] = None) -> Results:
    """Read a directory written by :meth:`Results.save`; a missing or damaged file raises :class:`ScenarioError`.

    ``tables`` names the tables to read (default: all of them); the others
    are left empty. ``columns`` maps a table to the columns to read from it
    (the others are not read at all), e.g. ``{"requests": ["kind", "latency"]}``.
    """

    directory = Path(directory)
    wanted = TABLES if tables is None else tuple(tables)
    unknown = sorted(set(wanted).union(columns or {}) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; the tables are {', '.join(TABLES)}")
    if not (directory / "scenario.yaml").is_file():
        raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", not_a_result(directory))])
    part = "manifest.json"
    try:
        manifest = json.loads((directory / part).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise _not_a_result(directory, part, unreadable(exc)) from None
    if manifest.get("kind") == "sweep point":
        raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", "is a sweep point, which keeps its summaries "
                                     "only (replications.csv, summary.csv), not the tables plots and reports draw; "
                                     f"run it for those: cqrs-sim run {directory}/scenario.yaml")])
    check_data_files(manifest, directory)  # a moved or edited data file is named, never mixed in
    part = "scenario.yaml"
    try:
        scenario = load_scenario(directory / part)
        frames = {name: pd.DataFrame() for name in TABLES}
        for name in wanted:
            part = f"{name}.parquet"
            if not (directory / part).is_file():
                if name in OPTIONAL_TABLES:
                    continue
                raise FileNotFoundError("missing")
            chosen = (columns or {}).get(name)
            frames[name] = pd.read_parquet(directory / part, columns=None if chosen is None else list(chosen))
        part = "replications.csv"
        per_replication = read_csv(directory / part)
    except ScenarioError as exc:
        raise _not_a_result(directory, part, "; ".join(p.message for p in exc.problems)) from None
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise _not_a_result(directory, part, unreadable(exc)) from None
    return Results(scenario=scenario, per_replication=per_replication, manifest=manifest, **frames)


def not_a_result(directory: Path) -> str:
    """Why ``directory`` (which holds no scenario.yaml) is not a result, and what to give instead."""

    if not directory.exists():
        return "no such directory: not a result directory"
    if not directory.is_dir():
        return "is a file, not a result directory"
    kind = output_kind(directory)
    if kind == "sweep":
        return (f"is a sweep directory, not one result: each point is in {directory}/points/<key>/ (its point.json "
                f"gives its values); compare two points with `cqrs-sim compare {directory}/points/KEY1 "
                f"{directory}/points/KEY2`, or draw the sweep with `cqrs-sim plot {directory}`")
    if kind == "optimize":
        return (f"is an optimize directory, not one result: its designs are in {directory}/designs.csv and each "
                f"design's point in {directory}/<architecture>/points/<key>/; compare two of those with "
                "`cqrs-sim compare POINT_A POINT_B`")
    return "is not a complete cqrs-sim result: scenario.yaml: missing"


def unreadable(exc: BaseException) -> str:
    """Why a saved file cannot be read, in our words (pyarrow's and json's name their internals)."""
    if isinstance(exc, FileNotFoundError):
        return "missing"
    if isinstance(exc, PermissionError):
        return "not readable (permission denied)"
    return "damaged (it cannot be read; run again to write it anew)"


def _not_a_result(directory: Path, part: str, reason: str) -> ScenarioError:
    return ScenarioError([Problem(str(directory), 0, 0, "(directory)",
                                  f"is not a complete cqrs-sim result: {part}: {reason}")])
