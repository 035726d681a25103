"""Plots say what they shade, keep each design's marks apart, and put legends and notes where no data is."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection

import cqrs_sim
from cqrs_sim import plots
from cqrs_sim.experiments.fit import fit_all
from cqrs_sim.plots.fit import fit_plot
from cqrs_sim.plots.style import COLORS, time_axis

from .conftest import SCENARIOS
from .test_scenarios_shipped import SHORTEN


@pytest.fixture(scope="module")
def failing_projections():
    """Projections whose replicas all fail at 1m and rebuild (out of the pool) for a while."""
    overrides = {"duration": "3m", "warmup": "10s", "replications": 1,
                 "cqrs.replicas.failures": {"mtbf": "1m", "mttr": "10s"}}
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "projections.yaml", overrides))
    swaps = results.replicas.query("architecture == 'cqrs' and replication == 0")
    assert len(swaps) > 0  # the scenario must rebuild replicas for these tests to mean anything
    return results


def _shading_labels(fig) -> list[str]:
    """Labels of the cqrs shading (the read-rate panel's offered-rate fill is a PolyCollection too)."""
    return [c.get_label() for ax in fig.axes for c in ax.collections
            if isinstance(c, PolyCollection) and c.get_label().startswith("cqrs")]


@pytest.mark.parametrize("plot", ["latency_over_time", "stale_over_time"])
def test_projections_shade_rebuilds_never_rollouts(failing_projections, plot):
    labels = _shading_labels(getattr(plots, plot)(failing_projections))
    assert labels, "the rebuilds are shaded"
    assert not any("rollout" in label for label in labels), labels
    assert all(label.startswith("cqrs replica rebuilding") for label in labels), labels


def test_projection_lanes_leave_rebuild_bars_uncovered_and_end_with_the_run(failing_projections):
    fig = plots.replica_versions(failing_projections)
    ax = fig.axes[0]
    notes = [t.get_text() for t in ax.texts]
    assert not any("every replica stays in the pool" in n for n in notes), notes
    divisor, _ = time_axis(failing_projections)
    end = failing_projections.scenario.duration / divisor
    assert ax.get_xlim() == pytest.approx((0, end))
    bars = [c for c in ax.collections if isinstance(c, PolyCollection)]
    right = max(path.vertices[:, 0].max() for c in bars for path in c.get_paths())
    assert right <= end + 1e-9


def test_projection_lanes_keep_the_note_when_nothing_rebuilds():
    overrides = {"duration": "1m", "warmup": "10s", "replications": 1}
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "projections.yaml", overrides))
    notes = [t.get_text() for t in plots.replica_versions(results).axes[0].texts]
    assert any("every replica stays in the pool" in n for n in notes), notes


@pytest.fixture(scope="module")
def autoscale():
    return cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "autoscale.yaml", SHORTEN["autoscale.yaml"]))


def test_autoscaling_decisions_of_both_designs_at_one_time_both_show(autoscale):
    decisions = autoscale.autoscale.query("replication == 0 and change > 0")
    times = decisions.groupby("t")["architecture"].nunique()
    together = times[times == 2].index.to_numpy()
    assert len(together) > 0  # both designs scale out at the same decision time in this scenario
    fig = plots.autoscaling(autoscale)
    fig.draw_without_rendering()
    pool = fig.axes[0]
    divisor, _ = time_axis(autoscale)
    shown = {}
    for line in pool.lines:
        if line.get_marker() == "^":
            arch = line.get_label().split()[0]
            xy = line.get_transform().transform(np.c_[line.get_xdata(), line.get_ydata()])
            shown[arch] = dict(zip(np.round(np.asarray(line.get_xdata()) * divisor, 6), map(tuple, xy)))
    for t in np.round(together, 6):
        crud, cqrs = shown["crud"][t], shown["cqrs"][t]
        apart = np.hypot(crud[0] - cqrs[0], crud[1] - cqrs[1])
        assert apart >= 10 * fig.dpi / 72, (t, crud, cqrs)  # at least a marker's width (10 points) apart
    boxes = [(t.get_color(), t.get_window_extent()) for t in pool.texts if t.get_text().startswith(("+", "-"))]
    for i, (color, box) in enumerate(boxes):
        for other_color, other in boxes[i + 1:]:
            if color != other_color:
                assert not box.overlaps(other), (box, other)


def test_latency_over_time_marks_each_designs_commits_when_they_differ():
    overrides = {**SHORTEN["netflix.yaml"], "crud.apply_time": "40s", "cqrs.apply_time": "5s",
                 "cqrs.sync.replace_time": "5s"}
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", overrides))
    ax = plots.latency_over_time(results).axes[0]
    marks = {c.get_label(): c for c in ax.collections if isinstance(c, LineCollection)}
    for arch in ("crud", "cqrs"):
        commits = results.writes.query(f"architecture == '{arch}' and replication == 0 and commit <= 300").commit
        assert len(commits)
        mine = marks[f"{arch} write commit"]
        assert len(mine.get_segments()) == len(commits)
        assert np.allclose(mine.get_color()[0][:3], np.array([int(COLORS[arch][i:i + 2], 16) for i in (1, 3, 5)]) / 255)
    crud = np.sort([s[0][0] for s in marks["crud write commit"].get_segments()])
    cqrs = np.sort([s[0][0] for s in marks["cqrs write commit"].get_segments()])
    assert not np.allclose(crud, cqrs)  # the designs really commit at different times here
    assert "write commit" not in marks


def test_fit_legend_hides_no_cdf():
    values = np.random.default_rng(1).lognormal(1.5, 0.6, 2000) / 1000
    fig = fit_plot(values, fit_all(values), "query")
    fig.draw_without_rendering()
    cdf_ax = fig.axes[0]
    legend = cdf_ax.get_legend()
    assert legend is not None
    assert not legend.get_window_extent().overlaps(cdf_ax.get_window_extent())
