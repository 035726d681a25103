"""``cqrs-sim schema``: the scenario schema (JSON Schema, or the reference table)."""

from __future__ import annotations


import typer
from .common import app



@app.command()
def schema(markdown: bool = typer.Option(False, "--markdown", help="Print the README's scenario reference table instead.")) -> None:
    """Print the scenario file's JSON Schema (for editor completion in YAML files)."""
    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..config.reference import json_schema, markdown_table

    typer.echo(markdown_table() if markdown else json_schema())
