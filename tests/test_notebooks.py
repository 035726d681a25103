"""The shipped notebooks run top to bottom against the library (their code cells, in order)."""

from __future__ import annotations

import json
import os

import matplotlib
import pytest

from .conftest import ROOT

matplotlib.use("Agg")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    notebook = json.loads(path.read_text())
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert cells
    assert all(not c.get("outputs") for c in cells), "commit notebooks without outputs"
    monkeypatch.chdir(path.parent)
    namespace: dict = {"__name__": "__main__"}
    for cell in cells:
        exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)  # noqa: S102
    assert "results" in namespace


def test_there_is_a_notebook():
    assert NOTEBOOKS and os.path.exists(ROOT / "notebooks" / "quickstart.ipynb")
