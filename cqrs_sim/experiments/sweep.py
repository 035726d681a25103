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

import itertools
import json
import os
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from ..core.errors import Problem, ScenarioError
from .executors import WorkerDied
from ..config.loader import load_scenario, parse_set
from ..analysis.definitions import METRICS
from ..io.outdir import Lock, atomic_file, clean_stale, write_text_atomic
from ..io.resultdir import check_outside_outputs, check_placement, kind_refusal, output_error
from ..io.results import scenario_hash
from ..core.safetext import read_csv
from ..config.scenario import Scenario, SweepRange
from ..config.limits import over_limit
from ..config.resolved import resolved_dict
from .simulate import run_task
from ..config.units import parse_duration, parse_rate
from ..config.distributions import Distribution
from .sweeppoints import Point, _point_table, _write_point, point_damage, point_label


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
    return [part.strip() for part in parts]


def parse_vary(text: str) -> Axis:
    """``PATH=V1,V2,...`` from ``--vary``; each value is read as YAML, like ``--set``."""
    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise ScenarioError([Problem(f"--vary {text}", 0, 0, "(--vary)", "expected PATH=V1,V2,..., such as cqrs.replicas.count=4,8,16")])
    raw = _split_values(values)
    try:
        parsed = [parse_set(f"{path}={value}")[1] for value in raw if value]
    except ScenarioError as exc:  # said under the option given, not as the --set it is read like
        raise ScenarioError([replace(p, file=f"--vary {text}") for p in exc.problems]) from None
    if parsed and len(parsed) < len(raw):
        raise ScenarioError([Problem(f"--vary {text}", 0, 0, path.strip(), "has an empty value between commas: "
                                                                           "give every value, such as 4,8,16")])
    for i, value in enumerate(parsed):
        if value in parsed[:i]:
            raise ScenarioError([Problem(f"--vary {text}", 0, 0, path.strip(),
                                         f"gives the value {raw[i]} more than once: each point would run twice")])
    if not parsed:
        raise ScenarioError([Problem(f"--vary {text}", 0, 0, path.strip(), "gives no values (only commas and spaces): "
                                                                           "a sweep needs at least one, such as 4,8,16")])
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
        axes = [parse_vary(text) for text in vary]
        source = {axis.path: f"--vary {text}" for axis, text in zip(axes, vary)}
    elif not scenario.sweep:
        raise ScenarioError([Problem("(sweep)", 0, 0, "sweep", "nothing to vary: give --vary PATH=V1,V2,... or a sweep: block")])
    else:
        axes = [Axis(path, range_values(spec) if isinstance(spec, SweepRange) else list(spec))
                for path, spec in scenario.sweep.items()]
        source = {axis.path: "(sweep)" for axis in axes}
    problems = []
    for i, axis in enumerate(axes):
        for other in axes[:i]:
            if axis.path == other.path or axis.path.startswith(other.path + ".") or other.path.startswith(axis.path + "."):
                what = "is varied twice" if axis.path == other.path else f"overlaps {other.path}, which is also varied"
                problems.append(Problem(source[axis.path], 0, 0, axis.path, f"{what}: give all of its values in one --vary"))
                break
    if problems:
        raise ScenarioError(problems)
    points = 1
    for axis in axes:
        points *= len(axis.values)
    message = over_limit("max_sweep_points", points, " × ".join(str(len(a.values)) for a in axes) + " values give {n} points",
                         scenario.limits)
    if message is not None:
        raise ScenarioError([Problem(next(iter(source.values())), 0, 0, "(sweep)", message)])
    return axes


def point_key(scenario: Scenario) -> str:
    return scenario_hash(scenario)[:16]


def resolved_node(scenario: Scenario, path: str) -> Any:
    """The resolved scenario's value at ``path`` (plain data), or None where there is none."""
    node: Any = resolved_dict(scenario)
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def describe(node: Any) -> Any:
    """A resolved value as one table cell: numbers stay numbers; a distribution reads ``lognormal(mean=0.004, cv=2)``."""
    if isinstance(node, (int, float, str, bool)) or node is None:
        return node
    if isinstance(node, dict) and "dist" in node:
        if node["dist"] == "constant":
            return node["value"]
        return f"{node['dist']}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                              for k, v in node.items() if k != "dist") + ")"
    return json.dumps(node)


def axis_values(scenarios: list[Scenario], path: str) -> list[Any]:
    """The value of ``path`` at each point: a plain number (a distribution's mean, a single rate) when those
    numbers tell every distinct point apart, otherwise the whole resolved value, so that no two points merge."""
    nodes = [resolved_node(s, path) for s in scenarios]
    numbers = [_plain_number(node) for node in nodes]
    seen: dict[Any, str] = {}
    for node, number in zip(nodes, numbers):
        key = json.dumps(node, sort_keys=True)
        if seen.setdefault(number, key) != key:
            return [str(describe(node)) for node in nodes]  # one type per column
    return numbers


def _resolved_value(scenario: Scenario, path: str) -> Any:
    """The point's value at ``path`` as a plain number where possible (a distribution's mean, a single rate)."""
    return _plain_number(resolved_node(scenario, path))


def _plain_number(node: Any) -> Any:
    if isinstance(node, dict) and set(node) == {"diurnal"}:
        return node["diurnal"]["mean"]
    if isinstance(node, list) and len(node) == 1 and isinstance(node[0], list) and len(node[0]) == 2:
        return node[0][1]  # a single-step rate
    if isinstance(node, dict) and "dist" in node:
        from pydantic import TypeAdapter

        return TypeAdapter(Distribution).validate_python(node).mean
    return node if isinstance(node, (int, float, str, bool)) else json.dumps(node)


@dataclass
class SweepResult:
    directory: Path
    table: pd.DataFrame  #: one row per point × architecture × metric
    failures: list[dict]
    skipped: int  #: points already done in the directory
    ran: int  #: points simulated now


ProgressFn = Callable[[float, int, str], None]


def run_sweep(scenario_file: str | Path, vary: list[str], directory: str | Path, executor: Executor,
              sets: Optional[list[str]] = None, progress: Optional[ProgressFn] = None,
              notify: Optional[Callable[[str], None]] = None, inside: Optional[Path] = None) -> SweepResult:
    """Run every point × replication × architecture not already in ``directory``; write sweep.parquet.

    ``directory`` must be new, empty, or a sweep directory; it is locked while the sweep runs. A finished
    point whose files are not as its manifest says they were written is run again, and ``notify`` is told.
    ``inside``: the optimize directory this sweep belongs to (the one cqrs-sim output it may be inside).
    """
    directory = Path(directory)
    check_sweep_dir(directory, inside)
    base, axes, points = plan_sweep(scenario_file, vary, sets)  # a sweep that cannot run writes nothing
    directory.parent.mkdir(parents=True, exist_ok=True)  # for the lock beside it; the directory comes with its first point
    with Lock(directory):
        check_sweep_dir(directory, inside)
        clean_stale(directory / "points")
        return _run_sweep(base, axes, points, directory, executor, progress, notify or (lambda _message: None))


def check_sweep_dir(directory: Path, inside: Optional[Path] = None) -> None:
    """Raise unless ``directory`` is missing, an empty directory, or a sweep directory (sweep.json or points/),
    and outside every other cqrs-sim output (but ``inside``, the optimize directory whose sweep it is)."""
    check_placement(directory)
    check_outside_outputs(directory, allowed=inside)
    if not os.path.lexists(directory):
        return
    if directory.is_symlink() or not directory.is_dir():
        raise output_error(directory, "exists and is not a directory; give a new or a sweep directory")
    refusal = kind_refusal(directory, "sweep")
    if refusal is not None:
        raise output_error(directory, refusal)
    if any(directory.iterdir()) and not ((directory / "sweep.json").is_file() or (directory / "points").is_dir()):
        raise output_error(directory, "exists and is not a cqrs-sim sweep directory (no sweep.json); "
                                      "give a new or an empty directory")


def plan_sweep(scenario_file: str | Path, vary: list[str], sets: Optional[list[str]]) -> tuple[Scenario, list, list[Point]]:
    """(base scenario, axes, points) of a sweep; raises ScenarioError when no point could run."""
    base = load_scenario(scenario_file, sets)
    axes = axes_of(base, vary)
    sources = {axis.path: f"--vary {text}" for axis, text in zip(axes, vary)} if vary else \
        {axis.path: "(sweep)" for axis in axes}
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
            point.problems = [_as_varied(p, sources) for p in exc.problems]
            point.error = "; ".join(str(p) for p in point.problems)
        points.append(point)
    if all(p.scenario is None for p in points):  # nothing would run: an error, not a sweep of failures
        raise ScenarioError([Problem(p.file, p.line, p.col, p.path, f"{p.message} (at every point of the sweep, so none can run)")
                             for p in points[0].problems])
    return base, axes, points


def _as_varied(problem: Problem, sources: dict[str, str]) -> Problem:
    """A point's problem with a varied value, said under the ``--vary`` that gave it (a point's values are set like
    ``--set``)."""
    if problem.file.startswith("--set "):
        key = problem.file.removeprefix("--set ").partition("=")[0]
        if key in sources:
            return replace(problem, file=sources[key])
    return problem


def _run_sweep(base: Scenario, axes: list, points: list[Point], directory: Path, executor: Executor,
               progress: Optional[ProgressFn], notify: Callable[[str], None]) -> SweepResult:
    todo = []
    for point in points:
        if point.scenario is None:
            continue
        where = directory / "points" / point.key
        if not os.path.lexists(where):
            todo.append(point)
            continue
        damage = point_damage(where)
        if damage is not None:
            notify(f"point {point_label(point)}: {damage}, running it again")
            todo.append(point)
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
    valid = [p for p in points if p.scenario is not None]
    columns = {axis.path: axis_values([p.scenario for p in valid], axis.path) for axis in axes}  # type: ignore[misc]
    for k, point in enumerate(valid):
        if point.error:
            continue
        summary_file = directory / "points" / point.key / "summary.csv"
        if summary_file.exists():
            parts.append(_point_table(point, {path: values[k] for path, values in columns.items()}, read_csv(summary_file)))
    columns = ["point", "architecture", "metric", "mean", "ci_low", "ci_high", "n"] + [a.path for a in axes]
    table = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    directory.mkdir(parents=True, exist_ok=True)  # only now: an interrupted sweep leaves none if no point finished
    with atomic_file(directory / "sweep.parquet") as partial:
        table.to_parquet(partial, index=False)
    write_text_atomic(directory / "failures.json", json.dumps(failures, indent=2, default=str) + "\n")
    write_text_atomic(directory / "sweep.json", json.dumps({"axes": [{"path": a.path, "values": a.values} for a in axes],
                                                            "scenario": base.name}, indent=2, default=str) + "\n")
    return SweepResult(directory, table, failures, skipped, len(todo))


__all__ = ["Axis", "METRICS", "SweepResult", "axes_of", "parse_vary", "range_values", "run_sweep"]
