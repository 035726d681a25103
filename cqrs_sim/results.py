"""Results: the tables of a simulation, their summary, and saving and loading them (SPEC §6)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import pandas as pd

from .metrics import differences, summarize
from .scenario import Scenario

TABLES = ("requests", "writes", "replicas", "timeseries", "visibility")
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
    from .loader import resolved_yaml

    return hashlib.sha256(resolved_yaml(scenario).encode("utf-8")).hexdigest()


def build_manifest(scenario: Scenario, wall_time: float) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario_hash(scenario),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "seed_derivation": "numpy PCG64(SeedSequence([seed, replication, sha256(stream name)[:8]]))",
        "architectures": list(scenario.architectures),
        "packages": package_versions(),
        "platform": platform.platform(),
        "wall_time_s": round(wall_time, 3),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


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
            entry = {k: _clean(getattr(row, k)) for k in ("mean", "ci_low", "ci_high", "n")}
            out["architectures"].setdefault(row.architecture, {})[row.metric] = entry
        diff = self.differences()
        if len(diff):
            out["difference_cqrs_minus_crud"] = {
                row.metric: {k: _clean(getattr(row, k)) for k in ("mean", "ci_low", "ci_high", "n")}
                for row in diff.itertuples(index=False)
            }
        return out

    def save(self, directory: str | Path, plots: bool = False, plot_format: str = "png") -> Path:
        """Write SPEC §6's files (and the plots, if asked) into ``directory``; it appears only once complete."""
        from .loader import resolved_yaml

        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            (staging / "scenario.yaml").write_text(resolved_yaml(self.scenario), encoding="utf-8")
            (staging / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
            (staging / "summary.json").write_text(json.dumps(self.summary_json(), indent=2) + "\n", encoding="utf-8")
            self.summary().to_csv(staging / "summary.csv", index=False)
            self.per_replication.to_csv(staging / "replications.csv", index=False)
            for name in TABLES:
                getattr(self, name).to_parquet(staging / f"{name}.parquet", index=False)
            if plots:
                from .plots import save_all

                save_all(self, staging / "plots", plot_format)
            _replace_dir(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target


def redraw_plots(directory: str | Path, plot_format: str = "png") -> list[Path]:
    """Draw the plots of a saved result directory again, replacing DIR/plots/ only when done."""
    from .plotdata import load_plot_results
    from .plots import save_all

    directory = Path(directory)
    results = load_plot_results(directory)
    staging = Path(tempfile.mkdtemp(prefix=".plots.partial-", dir=directory))
    try:
        save_all(results, staging, plot_format)
        _replace_dir(staging, directory / "plots")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted((directory / "plots").glob(f"*.{plot_format}"))


def _replace_dir(staging: Path, target: Path) -> None:
    """Move a finished directory into place; an older one is removed only after."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def load_results(directory: str | Path, tables: Optional[Iterable[str]] = None,
                 columns: Optional[Mapping[str, Sequence[str]]] = None) -> Results:
    """Read a directory written by :meth:`Results.save`.

    ``tables`` names the tables to read (default: all of them); the others
    are left empty. ``columns`` maps a table to the columns to read from it
    (the others are not read at all), e.g. ``{"requests": ["kind", "latency"]}``.
    """
    from .loader import load_scenario

    directory = Path(directory)
    scenario = load_scenario(directory / "scenario.yaml")
    wanted = TABLES if tables is None else tuple(tables)
    unknown = sorted(set(wanted).union(columns or {}) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; the tables are {', '.join(TABLES)}")
    frames = {name: pd.DataFrame() for name in TABLES}
    for name in wanted:
        if (directory / f"{name}.parquet").exists():
            chosen = (columns or {}).get(name)
            frames[name] = pd.read_parquet(directory / f"{name}.parquet", columns=None if chosen is None else list(chosen))
    per_replication = pd.read_csv(directory / "replications.csv")
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    return Results(scenario=scenario, per_replication=per_replication, manifest=manifest, **frames)
