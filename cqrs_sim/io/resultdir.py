"""What the tool writes, and how it tells its own output from anything else.

The files and tables of a result directory, the plots its plots/ may hold,
the kind of each directory the tool writes (a run's or testbed's result, a
sweep point, a sweep, an optimize directory), what a directory holds that the
tool did not write there, and whether a target may be written or replaced
(see :mod:`.outdir` for how it is written).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Optional

from ..core.errors import Problem, ScenarioError


MARKER = ".cqrs-sim-staging"  #: in every staging directory; holds the PID that made it


#: the files of a result besides its tables (``Results.write_into``) and ``report.html`` (``cqrs-sim report``)
RESULT_FILES = ("scenario.yaml", "manifest.json", "summary.json", "summary.csv", "replications.csv", "report.html")


PLOT_FORMATS = ("png", "svg")  #: what ``cqrs-sim run`` / ``plot`` draw into DIR/plots/
#: the tables of a result, each DIR/<name>.parquet
TABLES = ("requests", "writes", "replicas", "timeseries", "visibility", "autoscale", "outages")
#: tables a result written by an older version may lack: read as empty (such a run had no autoscaler)
OPTIONAL_TABLES = ("autoscale", "outages")


#: keys of every entry of a capacity answer (``cqrs-sim capacity -o``)
CAPACITY_KEYS = ("architecture", "path", "minimize", "answer", "bracket", "note", "evaluations")


def output_error(path: str | Path, message: str) -> ScenarioError:
    return ScenarioError([Problem(str(path), 0, 0, "(output)", message)])


def _manifest(path: Path) -> Optional[dict]:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_result_dir(path: Path) -> bool:
    """A directory written complete by ``run`` or ``testbed``: a real directory with our manifest and scenario."""
    if path.is_symlink() or not path.is_dir() or not (path / "scenario.yaml").is_file():
        return False
    manifest = _manifest(path)
    return manifest is not None and "scenario_sha256" in manifest and manifest.get("kind", "result") == "result"


#: what each kind of directory the tool writes is called in messages
KIND_NAMES = {"result": "result", "sweep point": "sweep point", "sweep": "sweep directory",
              "optimize": "optimize directory"}


def output_kind(path: Path) -> Optional[str]:
    """Which kind of cqrs-sim output ``path`` is: ``result`` (run, testbed), ``sweep point``, ``sweep``,
    ``optimize``, or None (not a directory the tool wrote)."""
    if path.is_symlink() or not path.is_dir():
        return None
    if is_result_dir(path):
        return "result"
    if _is_point(path):
        return "sweep point"
    if (path / "optimize.json").is_file() or any(_is_sweep(path / arch) for arch in ("crud", "cqrs")):
        return "optimize"
    if _is_sweep(path):
        return "sweep"
    return None


def _is_point(path: Path) -> bool:
    return not path.is_symlink() and (path / "point.json").is_file() and (path / "scenario.yaml").is_file()


def _is_sweep(path: Path) -> bool:
    """A sweep directory: its sweep.json, or (interrupted before writing it) a finished point in points/."""
    if path.is_symlink() or not path.is_dir():
        return False
    if (path / "sweep.json").is_file():
        return True
    points = path / "points"
    if points.is_symlink() or not points.is_dir():
        return False
    with os.scandir(points) as entries:
        return any(_is_point(Path(entry.path)) for entry in entries)


def check_outside_outputs(target: Path, allowed: Optional[Path] = None, what: str = "directory") -> None:
    """Refuse a target inside any directory cqrs-sim wrote (a result, a sweep, an optimize directory): a file or
    directory put there would be foreign to it (and block its ``--force``). ``allowed`` is the one such directory a
    command may write inside (an optimize directory holding its own sweeps)."""
    parent = Path(os.path.abspath(target)).parent
    exempt = None if allowed is None else Path(os.path.abspath(allowed))
    for directory in dict.fromkeys([parent, *parent.parents, parent.resolve(), *parent.resolve().parents]):
        if directory == exempt:
            continue
        kind = output_kind(directory)
        if kind is not None:
            raise output_error(target, f"is inside the cqrs-sim {KIND_NAMES[kind]} {directory}; give a {what} outside it")


def kind_refusal(target: Path, wanted: str) -> Optional[str]:
    """Why an existing, non-empty ``target`` is not a directory the tool wrote for a command writing ``wanted``
    outputs, or None when it is."""
    kind = output_kind(target)
    if kind == wanted:
        return None
    if kind is not None:
        article = "an" if KIND_NAMES[wanted][0] in "aeiou" else "a"
        return (f"is a cqrs-sim {KIND_NAMES[kind]}, not {article} {KIND_NAMES[wanted]}; it is never written into or "
                "replaced by this command, even with --force: give another directory")
    return None


def _own_names() -> tuple[set[str], set[str]]:
    """(names of the files a result directory holds, names of the plots its plots/ holds)."""
    from ..present.plots import PLOTS  # matplotlib: loaded only when a directory is checked, not by `import cqrs_sim.cli`

    return set(RESULT_FILES) | {f"{name}.parquet" for name in TABLES}, {f"{stem}.{fmt}" for stem in PLOTS for fmt in PLOT_FORMATS}


def _is_leftover(path: Path, files: set[str]) -> bool:
    """A temporary of ours that a killed ``plot`` or ``report`` left: a marked plots staging or a partial file."""
    if path.is_symlink():
        return False
    if re.fullmatch(r"\.plots\.partial-\w+", path.name):
        return path.is_dir() and (path / MARKER).is_file()
    match = re.fullmatch(r"\.(?P<name>.+)\.\w+\.(?:partial|probe)", path.name)
    return bool(match) and match["name"] in files and path.is_file()


def foreign_entries(path: Path) -> list[str]:
    """What a result directory holds that cqrs-sim did not write there (a directory ends in ``/``); sorted."""
    files, plots = _own_names()
    foreign = []
    for entry in sorted(path.iterdir()):
        if entry.name == "plots" and entry.is_dir() and not entry.is_symlink():
            foreign += [f"plots/{p.name}" + ("/" if p.is_dir() else "") for p in sorted(entry.iterdir())
                        if p.name not in plots or p.is_symlink() or not p.is_file()]
        elif not ((entry.name in files and entry.is_file() and not entry.is_symlink()) or _is_leftover(entry, files)):
            foreign.append(entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else ""))
    return foreign


def is_replaceable_result(path: Path) -> bool:
    """A complete cqrs-sim result holding nothing else: what ``--force`` may replace."""
    return is_result_dir(path) and not foreign_entries(path)


def _is_empty_dir(path: Path) -> bool:
    return not path.is_symlink() and path.is_dir() and not any(path.iterdir())


def check_placement(target: Path) -> None:
    """Refuse the working directory or one of its parents, and a path below a file."""
    absolute = Path(os.path.abspath(target))
    cwd = Path.cwd().resolve()
    try:
        real = absolute.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise output_error(target, f"cannot be resolved ({exc})") from None
    if absolute == Path(absolute.anchor) or cwd == real or real in cwd.parents:
        raise output_error(target, "is the working directory or one of its parents; give a new directory below it")
    for parent in absolute.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise output_error(target, f"{parent} is not a directory")
            return


def check_plot_dir(target: Path, names: tuple[str, ...]) -> None:
    """Raise unless the plot files ``names`` may be written into ``target``: a directory outside every result,
    missing, empty, or holding nothing but files of those names (which are replaced)."""
    check_placement(target)
    check_outside_outputs(target)
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        raise output_error(target, "is a symlink; give the directory itself (a symlink is never written through)")
    if not target.is_dir():
        raise output_error(target, "exists and is not a directory")
    kind = output_kind(target)
    if kind is not None:
        raise output_error(target, f"is a cqrs-sim {KIND_NAMES[kind]}; give a directory outside it")
    foreign = [e.name + ("/" if e.is_dir() else "") for e in sorted(target.iterdir())
               if e.name not in names or e.is_symlink() or not e.is_file()]
    if foreign:
        listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise output_error(target, f"holds files cqrs-sim did not write there ({listed}); "
                                   "give a new or empty directory")


def check_replaceable(target: Path, force: bool) -> None:
    """Raise unless ``target`` may be written: missing, empty, or (with ``force``) a complete cqrs-sim result.

    A result holding anything cqrs-sim did not write is refused, and so is a target inside a result.
    """
    check_placement(target)
    check_outside_outputs(target)
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        raise output_error(target, "is a symlink; give the directory itself (a symlink is never replaced)")
    if not target.is_dir():
        raise output_error(target, "exists and is not a directory; it is never replaced")
    if _is_empty_dir(target):
        return
    refusal = kind_refusal(target, "result")
    if refusal is not None:
        raise output_error(target, refusal)
    if not is_result_dir(target):
        raise output_error(target, "exists and is not a complete cqrs-sim result (no cqrs-sim manifest.json); "
                                   "it is never replaced, even with --force")
    foreign = foreign_entries(target)
    if foreign:
        listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise output_error(target, f"holds files cqrs-sim did not write ({listed}); move them away, "
                                   "or choose another directory")
    if not force:
        raise output_error(target, "already exists; pass --force to replace it, or -o for another directory")


def is_capacity_answer(path: Path) -> bool:
    """A file written by ``cqrs-sim capacity -o``: a JSON list of objects with every key of :data:`CAPACITY_KEYS`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(data, list) and bool(data)
            and all(isinstance(entry, dict) and set(CAPACITY_KEYS) <= set(entry) for entry in data))
