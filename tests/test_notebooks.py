"""The shipped notebooks run top to bottom in a real Jupyter kernel and show their tables and figures.

Each notebook is executed by nbclient with the ``python3`` kernel of the
installed ipykernel, shortened by ``CQRS_SIM_QUICK=1``. A figure counts as
shown only when the executed cell holds an ``image/png`` output, which is what
Jupyter displays; a cell that merely returns a Figure object nobody renders
would leave a ``text/plain`` repr instead and fail here.
"""

from __future__ import annotations

import base64
import os

import ipywidgets
import nbclient
import nbformat
import pytest

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCENARIO = ROOT / "scenarios" / "netflix.yaml"

#: notebook -> ids of the cells that must display a PNG figure
FIGURES = {
    "quickstart.ipynb": {"latency-over-time", "visibility-curve", "explorer"},
    "netflix_case_study.ipynb": {"apply-time-plot", "trade-plot"},
}

#: the same shortening the notebooks apply under CQRS_SIM_QUICK=1
QUICK = {"duration": "6m", "warmup": "1m", "replications": 2, "workload.reads.rate": "50/s", "workload.writes.interval": "2m"}

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _execute(path, monkeypatch):
    monkeypatch.setenv("CQRS_SIM_QUICK", "1")  # the kernel inherits this process's environment
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


def _pngs(cell) -> list[bytes]:
    return [base64.b64decode(out["data"]["image/png"]) for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result") and "image/png" in out.get("data", {})]


def test_both_notebooks_are_shipped_without_outputs():
    assert {p.name for p in NOTEBOOKS} == set(FIGURES)
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), \
            f"{path.name}: commit notebooks without outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_and_shows_its_figures(path, monkeypatch):
    notebook = _execute(path, monkeypatch)
    cells = {cell.id: cell for cell in notebook.cells if cell.cell_type == "code"}
    errors = [(cid, out.get("ename"), out.get("evalue")) for cid, cell in cells.items() for out in cell.outputs
              if out.output_type == "error"]
    assert errors == []
    assert all(cell.execution_count is not None for cell in cells.values())
    for cid in FIGURES[path.name]:
        pngs = _pngs(cells[cid])
        assert len(pngs) == 1, f"{path.name}, cell {cid}: {len(pngs)} PNG outputs, {[o.get('data', {}).keys() for o in cells[cid].outputs]}"
        assert pngs[0].startswith(PNG_MAGIC) and len(pngs[0]) > 20_000  # a drawn figure, not an empty canvas
    # a figure nobody renders shows up as its text repr alone
    reprs = [cid for cid, cell in cells.items() for out in cell.outputs
             if "<Figure size" in out.get("data", {}).get("text/plain", "") and "image/png" not in out["data"]]
    assert reprs == []
    if path.name == "quickstart.ipynb":
        html = [out["data"]["text/html"] for out in cells["results-table"].outputs if "text/html" in out.get("data", {})]
        assert len(html) == 1 and "<table>" in html[0] and "read_latency_p99" in html[0]


def test_explorer_update_draws_a_figure_and_numbers():
    from matplotlib.figure import Figure

    from cqrs_sim.explore import SHOWN, Explorer

    explorer = Explorer(SCENARIO, overrides={**QUICK, "replications": 1})
    start = explorer.initial()
    controls = explorer.controls
    assert set(start) == set(controls) and all(start[key] in controls[key] for key in controls)
    assert start["cqrs.replicas.count"] == 8  # the scenario's own value is among the choices
    frame = explorer.update({**start, "cqrs.replicas.count": 4})
    assert frame.results.scenario.cqrs.replicas.count == 4
    assert isinstance(frame.figure, Figure) and frame.figure.axes
    assert list(frame.numbers.index) == list(SHOWN) and list(frame.numbers.columns) == ["crud", "cqrs"]
    assert frame.numbers.loc["stale_read_fraction", "crud"] == "0%"


def test_explorer_sliders_come_from_the_scenarios_own_numbers_and_keep_its_writes():
    """failure_at_peak.yaml gives its writes as a rate and its reads as steps: the sliders are its write rate,
    apply time and replica counts around its own values (no read-rate slider over steps), and a run keeps the
    scenario's own writes (one a second), shortened to its own 8 minutes."""
    from cqrs_sim.explore import Explorer

    explorer = Explorer(ROOT / "scenarios" / "failure_at_peak.yaml")
    assert explorer.controls == {
        "workload.writes.rate": [0.5, 1.0, 2.0, 4.0],
        "workload.writes.apply_time.mean": [0.0025, 0.005, 0.01, 0.02],
        "cqrs.replicas.count": [2, 4, 8, 16],
        "crud.replicas": [1, 2, 4, 8],
    }
    start = explorer.initial()
    assert start == {"workload.writes.rate": 1.0, "workload.writes.apply_time.mean": 0.005,
                     "cqrs.replicas.count": 4, "crud.replicas": 2}
    frame = explorer.update({**start, "workload.writes.rate": 2.0, "architectures": ["cqrs"]})
    scenario = frame.results.scenario
    assert scenario.duration == 480 and scenario.workload.writes.rate == 2.0
    assert 700 < len(frame.results.writes) < 1200  # 2/s over 8 minutes: 960 expected


def test_explorer_widget_has_one_slider_per_key_and_redraws_when_one_moves(capsys):
    from cqrs_sim.explore import Explorer

    explorer = Explorer(SCENARIO, controls={"cqrs.replicas.count": [2, 8]},
                        overrides={**QUICK, "replications": 1, "architectures": ["cqrs"]})
    box = explorer.widget()
    sliders = [w for w in box.children if isinstance(w, ipywidgets.SelectionSlider)]
    assert [(s.description, s.options, s.value) for s in sliders] == [("cqrs.replicas.count", (2, 8), 8)]
    assert isinstance(box.children[-1], ipywidgets.Output)
    # outside a kernel the Output widget captures nothing and display() prints: one frame, image and numbers
    first = capsys.readouterr().out
    assert first.count("Image object") == 1 and "stale_read_fraction" in first
    sliders[0].value = 2
    second = capsys.readouterr().out
    assert second.count("Image object") == 1 and second != first  # another run, other numbers

