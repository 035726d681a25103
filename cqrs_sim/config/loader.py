"""Reading scenario files: YAML with line numbers, overrides, located errors.

``load_scenario`` is the only way a scenario enters the simulator, from the
CLI and the API alike. Every problem it finds (YAML syntax, unknown keys,
wrong types, out-of-range values, cross-field rules) becomes a
:class:`~cqrs_sim.core.errors.Problem` pointing at the file, line and column of
the key (or at the ``--set`` that introduced it), and all of them are raised
together as one :class:`~cqrs_sim.core.errors.ScenarioError`.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterable, get_args

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from . import distributions
from ..core.errors import Problem, ScenarioError
from .inputfile import InputFileError, read_bounded
from .scenario import Scenario
from .rules import cross_field_problems
from .resolved import resolved_dict


def _plain(node: Any) -> Any:
    """ruamel's annotated containers and scalars as plain Python values."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, TaggedScalar):  # `!custom 60`: shown as written, so the error names the tag
        return f"{node.tag.value} {node.value}"
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _all_keys() -> set[str]:
    keys: set[str] = set()
    models: list[type[BaseModel]] = [Scenario]
    models += list(get_args(get_args(distributions.Distribution)[0])) + list(distributions._PARTS)
    seen: set[type] = set()
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(field.alias or name)
            annotation = field.annotation
            for candidate in getattr(annotation, "__args__", (annotation,)):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    models.append(candidate)
    return keys


def _homes(key: str) -> list[str]:
    """Dotted paths where ``key`` is a key of the scenario schema."""
    found: list[str] = []

    def walk(model: type[BaseModel], prefix: str, depth: int) -> None:
        for name, field in model.model_fields.items():
            alias = field.alias or name
            if alias == key:
                found.append(prefix + alias)
            annotation = field.annotation
            for candidate in getattr(annotation, "__args__", (annotation,)):
                if depth < 6 and isinstance(candidate, type) and issubclass(candidate, BaseModel) \
                        and candidate.__module__.endswith("scenario"):
                    walk(candidate, prefix + alias + ".", depth + 1)

    walk(Scenario, "", 0)
    return found


def parse_set(assignment: str) -> tuple[str, Any]:
    """``PATH=VALUE`` from the command line; VALUE is read as YAML (``16``, ``250ms``, ``[crud]``)."""
    path, sep, text = assignment.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError([Problem("--set " + assignment, 0, 0, "(--set)", "expected PATH=VALUE, such as cqrs.replicas.count=16")])
    try:
        value = YAML(typ="safe", pure=True).load(text) if text.strip() else ""
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at character {mark.column + 1}" if mark is not None and mark.line == 0 else ""
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x).replace("'<stream end>'", "the end")
        raise ScenarioError([Problem("--set " + assignment, 0, 0, path,
                                     f"cannot read the value as YAML: {what}{where} (quote a text value)")]) from None
    except ValueError as exc:  # ruamel raises it for a scalar that looks like a date and is none (2026-13-45)
        raise ScenarioError([Problem("--set " + assignment, 0, 0, path, f"cannot read the value as YAML: {exc} "
                                                                        "(quote a text value)")]) from None
    except (YAMLError, RecursionError):
        raise ScenarioError([Problem("--set " + assignment, 0, 0, path, "cannot read the value as YAML "
                                                                        "(quote a text value)")]) from None
    return path, value


class _Located:
    """Finds the file position of a dotted path in the parsed YAML tree."""

    def __init__(self, file: str, root: Any, overrides: dict[str, str]):
        self.file = file
        self.root = root
        self.overrides = overrides  # dotted path -> "--set PATH=VALUE"

    def problem(self, loc: Iterable[Any], message: str, *, at_key: bool) -> Problem:
        loc = list(loc)
        node = self.root
        line, col = 0, 0
        path: list[str] = []
        entered_override = False
        loc = [part for part in loc if part not in _UNION_TAGS]
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, Mapping) and str(part) in node:
                key = str(part)
                if isinstance(node, CommentedMap) and key in node.lc.data:
                    # a problem with a whole mapping or list points at its key
                    whole = last and isinstance(node[key], (CommentedMap, CommentedSeq))
                    line, col = node.lc.key(key) if (last and at_key) or whole else node.lc.value(key)
                else:
                    entered_override = True
                node = node[key]
                path.append(key)
            elif isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
                if isinstance(node, CommentedSeq) and int(part) in node.lc.data:
                    line, col = node.lc.item(int(part))
                else:
                    entered_override = True
                node = node[int(part)]
                path.append(str(part))
            elif last or _is_field_name(str(part)):
                path.append(str(part))  # a missing key
                node = None
            # anything else is a pydantic union tag, not a key: skip it
        dotted = ".".join(path) or "(root)"
        best = None
        for prefix, source in self.overrides.items():
            if dotted == prefix or dotted.startswith(prefix + "."):
                return Problem(source, 0, 0, dotted, message)
            if entered_override and (prefix.startswith(dotted + ".") or _common(prefix, dotted) > 0):
                if best is None or _common(prefix, dotted) > best[0]:
                    best = (_common(prefix, dotted), source)
        if best is not None:
            return Problem(best[1], 0, 0, dotted, message)
        return Problem(self.file, line + 1, col + 1, dotted, message)


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        n += 1
    return n


_FIELD_NAMES: set[str] | None = None
#: pydantic names union members in error locations; these are ours, never keys
_UNION_TAGS = {"rate_steps", "rate_shape", "sweep_values", "sweep_range", "popularity_uniform", "popularity_zipf"}


def _is_field_name(part: str) -> bool:
    global _FIELD_NAMES
    if _FIELD_NAMES is None:
        _FIELD_NAMES = _all_keys()
    return part in _FIELD_NAMES and part not in distributions.DIST_NAMES


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        close = difflib.get_close_matches(key, sorted(_all_keys()), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if close and close[0] == key:  # a real key, in the wrong section
            homes = _homes(key)
            hint = f" here (it belongs at {' or '.join(homes[:3])})" if homes else " here"
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown distribution {error['input'].get('dist')!r}: use one of {', '.join(distributions.DIST_NAMES)}"
    if kind == "union_tag_not_found":
        return f"a distribution mapping needs a 'dist' key, one of {', '.join(distributions.DIST_NAMES)}"
    if kind == "model_attributes_type" or kind == "dict_type" or kind == "model_type":
        return f"expected a mapping, got {error['input']!r}"
    message = str(error["msg"])
    if kind in ("literal_error", "int_parsing", "int_from_float", "int_type", "bool_parsing", "string_type", "list_type",
                "greater_than", "greater_than_equal", "less_than_equal", "too_short", "float_parsing"):
        message += f", got {error['input']!r}"
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


def _apply_override(root: dict, path: str, value: Any, source: str) -> Problem | None:
    parts = path.split(".")
    node: Any = root
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            return Problem(source, 0, 0, ".".join(parts[:depth]) or "(root)", "is not a mapping, so it has no keys to set")
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        return Problem(source, 0, 0, ".".join(parts[:-1]) or "(root)", "is not a mapping, so it has no keys to set")
    return None


#: the largest scenario file read; a scenario is a few kilobytes, and YAML parsing is slow beyond this
MAX_FILE_BYTES = 1 << 20
#: values a scenario may hold once anchors and aliases are expanded (every `*alias` repeats its anchor's values)
MAX_VALUES = 1_000_000


def _read_text(path: Path) -> str:
    """The file as text: a regular file, at most MAX_FILE_BYTES long, in UTF-8."""
    file = str(path)
    try:
        data = read_bounded(path, MAX_FILE_BYTES, "scenario file", "a scenario file is a few kilobytes")
    except InputFileError as exc:
        raise ScenarioError([Problem(file, 0, 0, "(file)", exc.message)]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise ScenarioError([Problem(file, line, col, "(file)", f"is not UTF-8 text: byte 0x{data[exc.start]:02x} "
                                                                "cannot start or continue a character")]) from None


def _expanded_size(root: Any, file: str) -> None:
    """Refuse a tree whose anchors and aliases expand past MAX_VALUES values (a "billion laughs" file)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, (Mapping, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ScenarioError([Problem(file, 1, 1, "(yaml)", "an alias refers to a value that contains it "
                                                               "(a recursive structure)")])
        active.add(key)
        children = node.values() if isinstance(node, Mapping) else node
        total = 1
        for child in children:
            total += size(child)
        active.discard(key)
        sizes[key] = total
        return total

    if size(root) <= MAX_VALUES:
        return
    node, line, col, path = root, 1, 1, []
    while True:  # point at the innermost value that is too big on its own
        items = list(node.items()) if isinstance(node, Mapping) else list(enumerate(node))
        big = [(k, v) for k, v in items if isinstance(v, (Mapping, list)) and size(v) > MAX_VALUES]
        if not big:
            break
        key, child = big[0]
        lc = getattr(node, "lc", None)
        if lc is not None and key in lc.data:
            line, col = (lc.key(key) if isinstance(node, Mapping) else lc.item(key))
            line, col = line + 1, col + 1
        path.append(str(key))
        node = child
    raise ScenarioError([Problem(file, line, col, ".".join(path) or "(root)",
                                 f"expands to {size(node):,} values through anchors and aliases, more than "
                                 f"{MAX_VALUES:,}; a scenario needs far fewer (write the values out)")])


def _parse_yaml(text: str, file: str) -> CommentedMap:
    try:
        data = YAML(typ="rt", pure=True).load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ScenarioError([Problem(file, line, col, "(yaml)", f"malformed YAML: {what}")]) from None
    except (YAMLError, ValueError, RecursionError) as exc:  # ruamel raises ValueError for some bad scalars
        raise ScenarioError([Problem(file, 1, 1, "(yaml)", f"malformed YAML: {exc}")]) from None
    if data is None:
        raise ScenarioError([Problem(file, 1, 1, "(root)", "the file is empty; a scenario is a mapping with at least duration and workload")])
    if not isinstance(data, CommentedMap):
        raise ScenarioError([Problem(file, 1, 1, "(root)", f"a scenario must be a mapping of keys, got {type(_plain(data)).__name__}")])
    try:
        _expanded_size(data, file)
    except RecursionError:
        raise ScenarioError([Problem(file, 1, 1, "(yaml)", "values are nested too deeply")]) from None
    return data


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> Scenario:
    """Read, override and validate a scenario file.

    ``overrides`` maps dotted paths to values (``{"cqrs.replicas.count": 16}``),
    or is a list of ``PATH=VALUE`` strings as given to ``--set``. Raises
    :class:`ScenarioError` listing every problem found.
    """
    path = Path(path)
    return parse_scenario(_read_text(path), str(path), overrides, name=path.stem, base=path.parent)


def parse_scenario(text: str, source: str = "<string>", overrides: Mapping[str, Any] | Iterable[str] | None = None,
                   name: str = "scenario", base: str | Path = ".") -> Scenario:
    """Validate scenario YAML given as text; ``source`` names it in error messages, and data files
    it names (``file:``) are found relative to ``base``."""
    root = _parse_yaml(text, source)
    sources: dict[str, str] = {}
    pairs: list[tuple[str, Any, str]] = []
    problems: list[Problem] = []  # every --set that cannot be read or applied, reported together
    if overrides is not None:
        if isinstance(overrides, Mapping):
            pairs = [(str(k), v, f"--set {k}={v}") for k, v in overrides.items()]
        else:
            for assignment in overrides:
                try:
                    key, value = parse_set(assignment)
                except ScenarioError as exc:
                    problems += exc.problems
                    continue
                pairs.append((key, value, f"--set {assignment}"))
    for key, value, origin in pairs:
        problem = _apply_override(root, key, value, origin)
        if problem is not None:
            problems.append(problem)
        sources[key] = origin
    if problems:
        raise ScenarioError(problems)
    data = _plain(root)
    data.setdefault("name", name)
    where = _Located(source, root, sources)
    try:
        scenario = Scenario.model_validate(data, context={"base": str(base)})
    except ValidationError as exc:
        found = [
            where.problem(err["loc"], _message(err), at_key=err["type"] == "extra_forbidden")
            for err in exc.errors()
        ]
        raise ScenarioError(_unique(found)) from None
    found = [where.problem(loc.split("."), msg, at_key=False) for loc, msg in cross_field_problems(scenario)]
    if found:
        raise ScenarioError(_unique(found))
    return scenario


def _unique(problems: list[Problem]) -> list[Problem]:
    out: list[Problem] = []
    for p in problems:
        if p not in out:
            out.append(p)
    return out




def dump_yaml(data: Any) -> str:
    """Plain data as block-style YAML (for the resolved scenario)."""
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined]
    yaml.dump(data, stream)
    return stream.getvalue()


def resolved_yaml(scenario: Scenario) -> str:
    """The scenario with every default filled in, ready to save and reload."""
    return dump_yaml(resolved_dict(scenario))
