"""File hashes that tie saved output to what it was made from and to what it holds.

A result's manifest lists every data file its scenario named (traces,
empirical distributions) with its sha256: reading the result again checks
them, so a moved data file is named as missing and an edited one as changed,
instead of the result being reported as incomplete or silently mixed with the
new contents. A sweep point's manifest lists the sha256 of each of its own
files, so a resumed sweep can tell a finished point from a damaged one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional

from ..core.errors import Problem, ScenarioError

#: the manifest's list of data files: [{"key": dotted key, "path": absolute path, "sha256": hex or None}, ...]
DATA_FILES = "data_files"
#: a sweep point's manifest: file name -> sha256 of each file it holds
FILES = "files"


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in blocks (raises OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def named_files(node: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key of its ``file``, absolute path) of every data file a scenario names, in a fixed order."""
    from pydantic import BaseModel

    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            key = f"{prefix}.{name}" if prefix else name
            if name == "file" and isinstance(value, str):
                yield key, value
            else:
                yield from named_files(value, key)
    elif isinstance(node, dict):
        for name in sorted(node, key=str):
            yield from named_files(node[name], f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(node, (list, tuple)):
        for index, item in enumerate(node):
            yield from named_files(item, f"{prefix}.{index}")


def data_file_entries(scenario: Any) -> list[dict[str, Optional[str]]]:
    """The manifest's record of each data file: its key, path and sha256 (None if it could not be read now)."""
    entries = []
    for key, path in named_files(scenario):
        try:
            digest: Optional[str] = file_sha256(path)
        except OSError:
            digest = None
        entries.append({"key": key, "path": path, "sha256": digest})
    return entries


def data_file_problems(manifest: Mapping[str, Any], directory: str | Path) -> list[Problem]:
    """One problem per data file of a saved result that is missing or whose contents changed since it was saved."""
    problems = []
    for entry in manifest.get(DATA_FILES) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        path, key, saved = entry["path"], str(entry.get("key") or "(data file)"), entry.get("sha256")
        try:
            now = file_sha256(path)
        except FileNotFoundError:
            problems.append(Problem(path, 0, 0, key, f"is missing (moved or deleted since {directory} was written); "
                                                     "the result was simulated from it: put it back at this path "
                                                     "to read the result"))
            continue
        except OSError as exc:
            problems.append(Problem(path, 0, 0, key, f"cannot be read ({exc.strerror or exc}); {directory} "
                                                     "was simulated from it"))
            continue
        if saved is not None and now != saved:
            problems.append(Problem(path, 0, 0, key, f"changed since {directory} was written (sha256 {saved[:12]}… "
                                                     f"then, {now[:12]}… now): the result holds what the earlier "
                                                     "contents gave; restore them, or run the scenario again, "
                                                     "rather than mix the two"))
    return problems


def check_data_files(manifest: Mapping[str, Any], directory: str | Path) -> None:
    """Raise :class:`ScenarioError` naming every data file of a saved result that moved or changed."""
    problems = data_file_problems(manifest, directory)
    if problems:
        raise ScenarioError(problems)


def file_hashes(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """name -> sha256 of each named file in ``directory``."""
    return {name: file_sha256(directory / name) for name in names}


def damaged_files(directory: Path, hashes: Mapping[str, str]) -> list[tuple[str, str]]:
    """(file name, "missing" | "damaged") for each file of ``hashes`` that is not in ``directory`` as it was written."""
    found = []
    for name, saved in hashes.items():
        try:
            now = file_sha256(directory / name)
        except FileNotFoundError:
            found.append((name, "missing"))
            continue
        except OSError:
            found.append((name, "unreadable"))
            continue
        if now != saved:
            found.append((name, "damaged"))
    return found


__all__ = ["DATA_FILES", "FILES", "check_data_files", "damaged_files", "data_file_entries", "data_file_problems",
           "file_hashes", "file_sha256", "named_files"]
