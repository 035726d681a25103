"""The reference pages' generated parts, filled in when the site is built (an mkdocs hook: ``hooks:`` in mkdocs.yml).

A page holds a placeholder on a line of its own, such as ``<!-- generated: commands -->``, followed by the part as
last generated and ``<!-- end of generated: commands -->`` (so the page read as a plain file shows it too). The hook
replaces the part with Markdown made from the code itself when the site is built, so the built reference cannot
drift from what the program does; ``python docs/_hooks/generated.py`` rewrites the pages' copies, and
``tests/test_docs.py`` fails when a copy is out of date:

- ``scenario-keys``: every key of a scenario file, its default and meaning, from the schema;
- ``commands``: every command's usage and options, introspected from the command-line application;
- ``metrics``: every summary metric's unit, kind, better direction and definition, from the one table of them.

The three imports below are the only places the docs touch the package's modules: when modules move, repoint
them here and nowhere else.
"""

from __future__ import annotations

import html
import re
from typing import Any, Callable

from cqrs_sim.cli import app  # the typer application behind `cqrs-sim`
from cqrs_sim.analysis.definitions import METRICS  # metric name -> Metric(unit, definition, kind, better, designs)
from cqrs_sim.config.reference import markdown_table as scenario_keys_table  # the schema as | key | default | meaning |

PLACEHOLDER = re.compile(r"^<!-- generated: ([a-z-]+) -->$(?:\n.*?^<!-- end of generated: \1 -->$)?", re.M | re.S)
PAGES = ("reference/scenario.md", "reference/commands.md", "reference/metrics.md")  #: under docs/: the pages holding parts
PROGRAM = "cqrs-sim"
UNIT_TEXT = {"s": "s", "1/s": "/s", "": "share", "reads": "reads", "writes": "writes", "/h": "/h"}


def _text(markdown: str) -> str:
    """Markdown whose ``<`` and ``>`` outside code spans are shown, not read as HTML (``results/<name>/``)."""
    parts = markdown.split("`")
    parts[::2] = [part.replace("<", "&lt;").replace(">", "&gt;") for part in parts[::2]]
    return "`".join(parts)


def _cell(text: str) -> str:
    """Text for one Markdown table cell: one line, pipes escaped, angle brackets shown."""
    return _text(" ".join(str(text).split()).replace("|", "\\|"))


def _code_cell(text: str) -> str:
    """Code in a table cell: an HTML code element, since a pipe escaped inside backticks would show its backslash."""
    return "<code>" + html.escape(" ".join(text.split())).replace("|", "&#124;") + "</code>"


def scenario_keys() -> str:
    """| key | default | meaning |, one row per key of the schema."""
    return _text(scenario_keys_table())


def metrics_table() -> str:
    """| metric | unit | kind | better | definition |, one row per metric in report order."""
    rows = ["| metric | unit | kind | better | definition |", "|---|---|---|---|---|"]
    for name, metric in METRICS.items():
        better = "" if metric.better == "neutral" else metric.better
        unit = UNIT_TEXT.get(metric.unit, metric.unit)
        rows.append(f"| `{name}` | {unit} | {metric.kind} | {better} | {_cell(metric.text())} |")
    return "\n".join(rows)


def _cli_root() -> Any:
    """The click command group that typer builds from the application (typer's own public entry point)."""
    import typer.main

    return typer.main.get_command(app)


def _parameter_rows(command: Any, context: Any) -> list[str]:
    rows = []
    for parameter in command.get_params(context):
        if parameter.opts == ["--help"]:
            continue  # every command has it
        record = parameter.get_help_record(context)
        name, meaning = record if record else (parameter.metavar or parameter.name.upper(), "")
        kind = "argument" if parameter.param_type_name == "argument" else "option"
        rows.append(f"| {_code_cell(name)} | {kind} | {_cell(meaning)} |")
    return rows


def commands_reference() -> str:
    """One section per command, in the application's order: usage, what it does, every argument and option."""
    root = _cli_root()
    root_context = root.context_class(root, info_name=PROGRAM)
    sections = []
    for name, command in root.commands.items():
        if command.hidden:
            continue
        context = command.context_class(command, info_name=name, parent=root_context)
        arguments = [p.metavar or p.name.upper() for p in command.get_params(context) if p.param_type_name == "argument"]
        usage = " ".join([PROGRAM, name, "[OPTIONS]", *arguments])
        section = [f"### {PROGRAM} {name}", "", f"`{usage}`", "", _cell(command.help or "")]
        rows = _parameter_rows(command, context)
        if rows:
            section += ["", "| argument or option | kind | meaning |", "|---|---|---|", *rows]
        sections.append("\n".join(section))
    return "\n\n".join(sections)


GENERATORS: dict[str, Callable[[], str]] = {
    "scenario-keys": scenario_keys,
    "commands": commands_reference,
    "metrics": metrics_table,
}


class UnknownPlaceholder(ValueError):
    """A page names a generated part that does not exist."""


def fill(markdown: str, where: str = "page") -> str:
    """The page's Markdown with every placeholder replaced by its generated part."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise UnknownPlaceholder(f"{where}: unknown generated part {name!r} (known: {', '.join(GENERATORS)})")
        return f"<!-- generated: {name} -->\n{GENERATORS[name]()}\n<!-- end of generated: {name} -->"

    return PLACEHOLDER.sub(replace, markdown)


def write_pages() -> list[str]:
    """Rewrite the generated parts of :data:`PAGES` in place; returns the pages that changed."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1]
    changed = []
    for page in PAGES:
        path = docs / page
        text = path.read_text(encoding="utf-8")
        fresh = fill(text, page)
        if fresh != text:
            path.write_text(fresh, encoding="utf-8")
            changed.append(page)
    return changed


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """mkdocs event: fill the page's placeholders (an unknown one fails the build)."""
    from mkdocs.exceptions import PluginError

    try:
        return fill(markdown, page.file.src_uri)
    except UnknownPlaceholder as exc:
        raise PluginError(str(exc)) from None


if __name__ == "__main__":
    for page in write_pages():
        print(f"rewrote docs/{page}")
