"""The shipped notebooks run top to bottom against the library (their code cells, in order)."""

from __future__ import annotations

import json
import os

import matplotlib
import matplotlib.pyplot as plt
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
    monkeypatch.setenv("CQRS_SIM_QUICK", "1")
    namespace: dict = {"__name__": "__main__"}
    for cell in cells:
        exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)  # noqa: S102
    plt.close("all")
    assert "cqrs_sim" in namespace


def test_both_notebooks_are_shipped():
    assert {p.name for p in NOTEBOOKS} == {"quickstart.ipynb", "netflix_case_study.ipynb"}
    assert os.path.exists(ROOT / "notebooks" / "quickstart.ipynb")
