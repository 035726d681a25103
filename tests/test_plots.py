"""Plots: each function returns a Figure whose content matches the results (not only that files exist)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim import plots
from cqrs_sim.cli import app
from cqrs_sim.plots.style import COLORS, rollout_spans

from .conftest import SCENARIOS

OVERRIDES = {"duration": "6m", "warmup": "30s", "replications": 2,
             "workload.writes.interval": {"dist": "uniform", "low": "1m", "high": "2m"},
             "workload.writes.apply_time": "20s", "cqrs.sync.replace_time": "5s"}


@pytest.fixture(scope="module")
def results():
    return cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", OVERRIDES))


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [fig._suptitle.get_text()]


def test_every_plot_is_a_figure_with_the_scenario_name(results):
    for name, plot in plots.PLOTS.items():
        fig = plot(results)
        assert isinstance(fig, Figure), name
        assert fig._suptitle.get_text().startswith("netflix-catalog:"), name
        width, _ = fig.get_size_inches() * fig.dpi
        assert width == 1200
        for ax in fig.axes:
            if ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() or ax is not fig.axes[-1], name


def test_latency_cdf_one_line_per_architecture_and_marked_percentiles(results):
    fig = plots.latency_cdf(results)
    ax = fig.axes[0]
    curves = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 100]
    assert sorted(line.get_color() for line in curves) == sorted(COLORS.values())
    labels = texts(fig)
    for arch in ("crud", "cqrs"):
        for name in ("p50", "p99", "p99.9"):
            assert any(t.startswith(f"{arch} {name} ") for t in labels), (arch, name)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "logit"
    # the marked p99 is the pooled 99th percentile of the plotted reads
    reads = results.requests.query("architecture == 'cqrs' and kind == 'read' and arrival >= 30 and arrival < 360")
    p99 = np.quantile(reads.latency, 0.99, method="lower")
    markers = [line for line in ax.lines if line.get_marker() == "o" and line.get_color() == COLORS["cqrs"]]
    assert any(np.isclose(m.get_xdata()[0], p99) for m in markers)


def test_latency_over_time_shades_every_rollout_and_marks_commits(results):
    fig = plots.latency_over_time(results)
    ax = fig.axes[0]
    spans = rollout_spans(results, 0)
    assert len(spans) >= 2
    shaded = [p for p in ax.patches if p.get_facecolor()[3] < 0.5]
    assert len(shaded) == len(spans)
    commits = results.writes.query("architecture == 'cqrs' and replication == 0").commit
    dotted = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(dotted) == len(commits)
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert {line.get_label() for line in solid} == {"crud p99", "cqrs p99"}


def test_replica_versions_lanes(results):
    fig = plots.replica_versions(results)
    ax = fig.axes[0]
    bars = [c for c in ax.collections if isinstance(c, PolyCollection)]
    swaps = results.replicas.query("architecture == 'cqrs' and replication == 0")
    # per replica: one bar before each swap, one hatched gap per swap, one bar after the last
    assert len(bars) == 8 + 2 * len(swaps)
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"replica {r}" for r in range(8)]


def test_stale_over_time_two_panels(results):
    fig = plots.stale_over_time(results)
    top, bottom = fig.axes[:2]
    assert {line.get_color() for line in top.lines} == set(COLORS.values())
    crud = [line for line in top.lines if line.get_color() == COLORS["crud"]][0]
    assert np.nanmax(crud.get_ydata()) == 0
    assert min(np.nanmin(line.get_ydata()) for line in bottom.lines) < 8


def test_visibility_curve_crud_is_one_and_times_are_annotated(results):
    fig = plots.visibility_curve(results)
    ax = fig.axes[0]
    crud = [line for line in ax.lines if line.get_color() == COLORS["crud"] and len(line.get_xdata()) > 2][0]
    assert crud.get_xdata()[0] == 0 and np.all(crud.get_ydata() == 1)
    labels = texts(fig)
    assert "crud: 99% by 0s" in labels
    assert any(t.startswith("cqrs: 99% by ") for t in labels) and any(t.startswith("cqrs: 99.9% by ") for t in labels)


def test_staleness_ccdf_says_crud_has_none(results):
    fig = plots.staleness_ccdf(results)
    assert any("crud: no stale reads" in t for t in texts(fig))
    lines = fig.axes[0].lines
    assert len(lines) == 1 and lines[0].get_color() == COLORS["cqrs"]
    assert lines[0].get_ydata()[0] == 1.0


def test_visibility_table_and_metrics(results, tmp_path):
    vis = results.visibility
    assert set(vis.columns) == {"architecture", "t", "probability", "reads"}
    crud = vis[(vis.architecture == "crud") & (vis.reads > 0)]
    assert (crud.probability == 1).all()
    summary = results.summary().set_index(["architecture", "metric"])["mean"]
    assert summary[("crud", "visibility_t99")] == 0
    assert 0 < summary[("cqrs", "visibility_t99")] <= summary[("cqrs", "visibility_t999")]
    assert summary[("cqrs", "visibility_t999")] <= summary[("cqrs", "visibility_window_max")] + vis.t.diff().max()


def test_run_writes_plots_and_plot_redraws(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "--replications", "1", "-j", "1"]
    args += [f"--set={k}={v}" for k, v in (("duration", "3m"), ("warmup", "10s"), ("workload.writes.interval", "1m"))]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(f"{n}.png" for n in plots.PLOTS)
    result = CliRunner().invoke(app, ["plot", str(out), "--plot-format", "svg"])
    assert result.exit_code == 0
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(f"{n}.{x}" for n in plots.PLOTS for x in ("png", "svg"))
    assert (out / "visibility.parquet").exists()
    none = tmp_path / "n"
    assert CliRunner().invoke(app, args[:2] + ["-o", str(none), "--no-plots", "--replications", "1"] + args[6:]).exit_code == 0
    assert not (none / "plots").exists()


def test_crud_only_results_plot_without_replicas(tmp_path):
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**OVERRIDES, "architectures": ["crud"], "replications": 1})
    results = cqrs_sim.simulate(scenario)
    assert "replica_versions" not in plots.available(results)
    paths = plots.save_all(results, tmp_path)
    assert len(paths) == len(plots.PLOTS) - 1
