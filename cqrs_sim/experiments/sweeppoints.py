"""A sweep's points on disk: each finished point a directory of its own (scenario, replications, summary,
manifest with file hashes), written atomically, checked for damage and read back; and a sweep's table.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from ..analysis.metrics import summarize
from ..config.loader import load_scenario, resolved_yaml
from ..config.scenario import Scenario
from ..core.errors import Problem, ScenarioError
from ..core.safetext import read_csv, write_csv
from ..io.integrity import FILES, damaged_files, file_hashes
from ..io.outdir import make_staging, swap_into_place
from ..io.results import Results, scenario_hash


#: the files of a finished point (``points/<key>/``), each hashed in its manifest.json
POINT_FILES = ("scenario.yaml", "point.json", "replications.csv", "summary.csv")


#: the manifest's ``kind`` of a sweep point
POINT_KIND = "sweep point"


@dataclass
class Point:
    overrides: dict[str, Any]
    scenario: Optional[Scenario] = None
    key: str = ""
    error: str = ""
    problems: list[Problem] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)


def _write_point(directory: Path, point: Point) -> None:
    assert point.scenario is not None
    target = directory / "points" / point.key
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging(target.parent, point.key)
    try:
        per_replication = pd.DataFrame(point.rows).sort_values(["replication", "architecture"], kind="stable")
        summary = summarize(per_replication)
        (staging / "scenario.yaml").write_text(resolved_yaml(point.scenario), encoding="utf-8")
        (staging / "point.json").write_text(json.dumps(point.overrides, indent=2, default=str) + "\n", encoding="utf-8")
        write_csv(per_replication, staging / "replications.csv")
        write_csv(summary, staging / "summary.csv")
        manifest = {"kind": POINT_KIND, "scenario": point.scenario.name, "scenario_sha256": scenario_hash(point.scenario),
                    FILES: file_hashes(staging, POINT_FILES)}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        swap_into_place(staging, target, may_replace=lambda path: path.is_dir() and not path.is_symlink())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def point_damage(where: Path) -> Optional[str]:
    """What is wrong with a finished point's directory (``summary.csv damaged``), or None when every file is as
    its manifest says it was written."""
    try:
        manifest = json.loads((where / "manifest.json").read_text(encoding="utf-8"))
        hashes = manifest[FILES]
        if not isinstance(hashes, dict) or set(hashes) != set(POINT_FILES):
            raise ValueError
    except FileNotFoundError:
        return "manifest.json missing"
    except (OSError, ValueError, KeyError, TypeError):
        return "manifest.json damaged"
    found = damaged_files(where, hashes)
    return ", ".join(f"{name} {what}" for name, what in found) or None


def point_label(point: Point) -> str:
    """``cqrs.replicas.count=8, cqrs.replicas.connections=4``: the point's varied values."""
    return ", ".join(f"{path}={json.dumps(value, default=str) if not isinstance(value, str) else value}"
                     for path, value in point.overrides.items())


def _point_table(point: Point, values: dict[str, Any], summary: pd.DataFrame) -> pd.DataFrame:
    table = summary.copy()
    table.insert(0, "point", point.key)
    for path, value in values.items():
        table[path] = value
    return table


def load_point(directory: str | Path):
    """A finished sweep point as :class:`~cqrs_sim.io.results.Results` holding its scenario and its replications only
    (a point keeps no requests); a damaged point raises :class:`ScenarioError`."""

    directory = Path(directory)
    damage = point_damage(directory)
    if damage is not None:
        raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", f"is a damaged sweep point: {damage}; "
                                                                          "run the sweep again to redo it")])
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    try:
        scenario = load_scenario(directory / "scenario.yaml")
    except ScenarioError as exc:
        raise ScenarioError([Problem(str(directory), 0, 0, "(directory)", "its scenario.yaml cannot be read again: "
                                     + "; ".join(str(p) for p in exc.problems))]) from None
    empty = pd.DataFrame()
    return Results(scenario=scenario, requests=empty, writes=empty, replicas=empty, timeseries=empty,
                   per_replication=read_csv(directory / "replications.csv"), manifest=manifest)


def load_sweep(directory: str | Path) -> tuple[pd.DataFrame, list[str], str]:
    """(sweep table, varied paths, scenario name) of a sweep directory."""
    directory = Path(directory)
    meta = json.loads((directory / "sweep.json").read_text())
    return pd.read_parquet(directory / "sweep.parquet"), [a["path"] for a in meta["axes"]], meta["scenario"]
