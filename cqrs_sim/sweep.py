"""Parameter sweeps: the cartesian product of varied values, each point × replication × architecture a task.

Every point is a scenario (the base with the point's overrides, validated
like any ``--set``), keyed by a hash of its resolved YAML. A point's
directory ``points/<hash>/`` is written atomically when its last task ends,
so an interrupted sweep keeps every finished point and a rerun into the same
directory skips them. A point whose overrides are invalid is reported and the
others complete. Tasks run on any ``concurrent.futures.Executor``: a local
process pool or a Dask cluster.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .errors import Problem, ScenarioError
from .executors import WorkerDied
from .loader import load_scenario, parse_set, resolved_yaml
from .metrics import METRICS, summarize
from .scenario import Scenario, SweepRange, resolved_dict
from .simulate import run_task
from .units import parse_duration, parse_rate


@dataclass(frozen=True)
class Axis:
    path: str
    values: list[Any]


def _split_values(text: str) -> list[str]:
    """Split ``a,b,[c,d],{e: f}`` on top-level commas."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def parse_vary(text: str) -> Axis:
    """``PATH=V1,V2,...`` from ``--vary``; each value is read as YAML, like ``--set``."""
    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise ScenarioError([Problem(f"--vary {text}", 0, 0, "(--vary)", "expected PATH=V1,V2,..., such as cqrs.replicas.count=4,8,16")])
    parsed = [parse_set(f"{path}={value}")[1] for value in _split_values(values)]
    return Axis(path.strip(), parsed)


def _number(value: Any) -> float:
    if isinstance(value, str) and "/" in value:
        return parse_rate(value)
    return parse_duration(value) if isinstance(value, str) else float(value)


def range_values(spec: SweepRange) -> list[Any]:
    """The values of a {from, to, steps, scale} range; whole numbers stay integers."""
    lo, hi = spec.from_, spec.to
    values = np.geomspace(lo, hi, spec.steps) if spec.scale == "log" else np.linspace(lo, hi, spec.steps)
    if float(lo).is_integer() and float(hi).is_integer():
        return list(dict.fromkeys(int(round(v)) for v in values))
    return [float(v) for v in values]


def axes_of(scenario: Scenario, vary: list[str]) -> list[Axis]:
    """``--vary`` options if given, else the scenario's ``sweep:`` block."""
    if vary:
        return [parse_vary(text) for text in vary]
    if not scenario.sweep:
        raise ScenarioError([Problem("(sweep)", 0, 0, "sweep", "nothing to vary: give --vary PATH=V1,V2,... or a sweep: block")])
    return [Axis(path, range_values(spec) if isinstance(spec, SweepRange) else list(spec))
            for path, spec in scenario.sweep.items()]


def point_key(scenario: Scenario) -> str:
    return hashlib.sha256(resolved_yaml(scenario).encode("utf-8")).hexdigest()[:16]


def _resolved_value(scenario: Scenario, path: str) -> Any:
    """The point's value at ``path`` as a plain number where possible (a distribution's mean, a single rate)."""
    node: Any = resolved_dict(scenario)
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, dict) and set(node) == {"diurnal"}:
        return node["diurnal"]["mean"]
    if isinstance(node, list) and len(node) == 1 and isinstance(node[0], list) and len(node[0]) == 2:
        return node[0][1]  # a single-step rate
    if isinstance(node, dict) and "dist" in node:
        from pydantic import TypeAdapter

        from .distributions import Distribution

        return TypeAdapter(Distribution).validate_python(node).mean
    return node if isinstance(node, (int, float, str, bool)) else json.dumps(node)


@dataclass
class Point:
    overrides: dict[str, Any]
    scenario: Optional[Scenario] = None
    key: str = ""
    error: str = ""
    rows: list[dict] = field(default_factory=list)


@dataclass
class SweepResult:
    directory: Path
    table: pd.DataFrame  #: one row per point × architecture × metric
    failures: list[dict]
    skipped: int  #: points already done in the directory
    ran: int  #: points simulated now


def _write_point(directory: Path, point: Point) -> None:
    assert point.scenario is not None
    target = directory / "points" / point.key
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{point.key}.partial-", dir=target.parent))
    try:
        per_replication = pd.DataFrame(point.rows).sort_values(["replication", "architecture"], kind="stable")
        summary = summarize(per_replication)
        (staging / "scenario.yaml").write_text(resolved_yaml(point.scenario), encoding="utf-8")
        (staging / "point.json").write_text(json.dumps(point.overrides, indent=2, default=str) + "\n", encoding="utf-8")
        per_replication.to_csv(staging / "replications.csv", index=False)
        summary.to_csv(staging / "summary.csv", index=False)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _point_table(point: Point, axes: list[Axis], summary: pd.DataFrame) -> pd.DataFrame:
    table = summary.copy()
    table.insert(0, "point", point.key)
    for axis in axes:
        assert point.scenario is not None
        value = _resolved_value(point.scenario, axis.path)
        table[axis.path] = value
    return table


ProgressFn = Callable[[float, int, str], None]


def run_sweep(scenario_file: str | Path, vary: list[str], directory: str | Path, executor: Executor,
              sets: Optional[list[str]] = None, progress: Optional[ProgressFn] = None) -> SweepResult:
    """Run every point × replication × architecture not already in ``directory``; write sweep.parquet."""
    directory = Path(directory)
    base = load_scenario(scenario_file, sets)
    axes = axes_of(base, vary)
    base_pairs = [parse_set(text) for text in sets or []]
    points: list[Point] = []
    for combo in itertools.product(*(axis.values for axis in axes)):
        overrides = {path: value for path, value in base_pairs}
        overrides.update({axis.path: value for axis, value in zip(axes, combo)})
        overrides["sweep"] = None
        point = Point({axis.path: value for axis, value in zip(axes, combo)})
        try:
            point.scenario = load_scenario(scenario_file, overrides)
            point.key = point_key(point.scenario)
        except ScenarioError as exc:
            point.error = "; ".join(str(p) for p in exc.problems)
        points.append(point)
    todo = [p for p in points if p.scenario is not None and not (directory / "points" / p.key / "summary.csv").exists()]
    skipped = sum(1 for p in points if p.scenario is not None) - len(todo)
    tasks = [(p, arch, rep) for p in todo for rep in range(p.scenario.replications) for arch in p.scenario.architectures]  # type: ignore[union-attr]
    remaining = {id(p): p.scenario.replications * len(p.scenario.architectures) for p in todo}  # type: ignore[union-attr]
    futures: dict[Future, tuple[Point, str, int]] = {}
    done = 0
    try:
        for k, (point, arch, rep) in enumerate(tasks):
            futures[executor.submit(run_task, point.scenario, arch, rep, k, None, False)] = (point, arch, rep)
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                point, arch, rep = futures[future]
                try:
                    row, _, _ = future.result()
                except WorkerDied:
                    raise  # the pool is gone, not this point: stop
                except Exception as exc:  # a point that fails while running: report it, keep the others
                    point.error = point.error or f"{type(exc).__name__}: {exc}"
                    row = None
                if row is not None:
                    point.rows.append(row)
                remaining[id(point)] -= 1
                done += 1
                if remaining[id(point)] == 0 and not point.error:
                    _write_point(directory, point)
            if progress is not None:
                progress(done, len(tasks), f"{done}/{len(tasks)} tasks")
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    failures = [{"point": p.overrides, "error": p.error} for p in points if p.error]
    parts = []
    for point in points:
        if point.scenario is None or point.error:
            continue
        summary_file = directory / "points" / point.key / "summary.csv"
        if summary_file.exists():
            parts.append(_point_table(point, axes, pd.read_csv(summary_file)))
    columns = ["point", "architecture", "metric", "mean", "ci_low", "ci_high", "n"] + [a.path for a in axes]
    table = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    directory.mkdir(parents=True, exist_ok=True)  # only now: an interrupted sweep leaves none if no point finished
    _atomic_parquet(table, directory / "sweep.parquet")
    (directory / "failures.json").write_text(json.dumps(failures, indent=2, default=str) + "\n", encoding="utf-8")
    (directory / "sweep.json").write_text(json.dumps({"axes": [{"path": a.path, "values": a.values} for a in axes],
                                                      "scenario": base.name}, indent=2, default=str) + "\n", encoding="utf-8")
    return SweepResult(directory, table, failures, skipped, len(todo))


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)


def load_sweep(directory: str | Path) -> tuple[pd.DataFrame, list[str], str]:
    """(sweep table, varied paths, scenario name) of a sweep directory."""
    directory = Path(directory)
    meta = json.loads((directory / "sweep.json").read_text())
    return pd.read_parquet(directory / "sweep.parquet"), [a["path"] for a in meta["axes"]], meta["scenario"]


__all__ = ["Axis", "METRICS", "SweepResult", "axes_of", "load_sweep", "parse_vary", "range_values", "run_sweep"]
