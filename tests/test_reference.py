"""The scenario reference cannot drift: the table is the schema's (the docs build it: tests/test_docs.py), and the JSON
Schema accepts real files."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cqrs_sim.cli import app
from cqrs_sim.config.reference import markdown_table
from cqrs_sim.config.scenario import Scenario



def test_every_key_is_in_the_table():
    table = markdown_table()

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            assert f"| `{key}` |" in table, key
            assert field.description, f"{key} has no description"
            annotation = field.annotation
            for sub in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(sub, type) and sub.__module__ == "cqrs_sim.config.scenario" and hasattr(sub, "model_fields"):
                    walk(sub, key + ".")

    walk(Scenario, "")


def test_schema_command_prints_json_schema():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert "duration" in schema["required"]
    assert {"type": "string"} in schema["properties"]["duration"]["anyOf"]  # "2h" is allowed
    markdown = CliRunner().invoke(app, ["schema", "--markdown"])
    assert markdown.stdout.strip() == markdown_table()
