"""Plots: each function returns a Figure whose content matches the results (not only that files exist)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim import plots
from cqrs_sim.cli import app
from cqrs_sim.plots import sweeps as sweep_plots
from cqrs_sim.plots.sweeps import save_sweep_plots
from cqrs_sim.plots.style import COLORS, SHADE_AT_MOST, rollout_coverage, rollout_spans

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


def _rectangles(ax) -> int:
    return sum(len(c.get_paths()) for c in ax.collections if isinstance(c, PolyCollection))


def test_latency_over_time_shades_every_rollout_and_marks_commits(results):
    fig = plots.latency_over_time(results)
    ax, rate = fig.axes[:2]
    spans = rollout_spans(results, 0)
    assert len(spans) >= 2
    assert rollout_coverage(results, 0) <= SHADE_AT_MOST  # so rollouts shade the whole panel height
    shades = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_label().startswith("cqrs rollout")]
    assert len(shades) == 1 and len(shades[0].get_paths()) == len(spans)
    commits = results.writes.query("architecture == 'cqrs' and replication == 0 and commit <= 360").commit
    marks = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_label() == "write commit"]
    assert len(marks) == 1 and len(marks[0].get_segments()) == len(commits)
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert {line.get_label() for line in solid} == {"crud p99", "cqrs p99"}
    # the legend sits outside the data area, right of the panel
    assert ax.get_legend() is not None and ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1
    # the read-rate panel: the scenario's offered 250/s and each architecture's completions per second
    completed = {line.get_label(): np.nanmean(line.get_ydata()) for line in rate.lines}
    assert set(completed) == {"crud reads completed per second", "cqrs reads completed per second"}
    assert all(200 < v < 300 for v in completed.values())


def test_frequent_rollouts_become_a_strip_and_many_commits_ticks():
    """Writes every 20 s: rollouts cover most of the run, so they are a strip at the top and the legend says so."""
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {
        "duration": "4m", "warmup": "10s", "replications": 1, "workload.reads.rate": "20/s",
        "workload.writes.interval": "4s", "workload.writes.apply_time": "1s", "cqrs.sync.replace_time": "5s"})
    frequent = cqrs_sim.simulate(scenario)
    assert rollout_coverage(frequent, 0) > SHADE_AT_MOST
    for fig in (plots.latency_over_time(frequent), plots.stale_over_time(frequent)):
        ax = fig.axes[0]
        strip = [c for c in ax.collections if c.get_label().startswith("cqrs rollout")][0]
        heights = {round(p.get_extents().height, 6) for p in strip.get_paths()}
        assert heights == {0.04}  # in axes fraction: a strip, not the panel's height
        assert "strip at the top" in strip.get_label()
    ax = plots.latency_over_time(frequent).axes[0]
    ticks = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_label().startswith("write commit (")]
    assert len(ticks) == 1 and "ticks at the bottom" in ticks[0].get_label()
    fig = plots.replica_versions(frequent)
    top = int(frequent.replicas.query("replication == 0").version.max())
    assert top >= 12
    ticks = fig.axes[1].get_yticks()
    assert np.all(ticks == np.round(ticks)) and len(ticks) <= 8  # round version numbers on the colour bar


def test_replica_versions_lanes(results):
    fig = plots.replica_versions(results)
    ax = fig.axes[0]
    swaps = results.replicas.query("architecture == 'cqrs' and replication == 0")
    # per replica: one bar before each swap, one hatched gap per swap, one bar after the last
    assert _rectangles(ax) == 8 + 2 * len(swaps)
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
    assert any(t.startswith("crud: 99% by 0s, 99.9% by 0s") for t in labels)
    cqrs = [t for t in labels if t.startswith("cqrs: 99% by ")]
    assert len(cqrs) == 1 and ", 99.9% by " in cqrs[0]


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
    drawn = [n for n in plots.PLOTS if n != "autoscaling"]  # netflix has no autoscaler
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(f"{n}.png" for n in drawn)
    result = CliRunner().invoke(app, ["plot", str(out), "--plot-format", "svg"])
    assert result.exit_code == 0
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(f"{n}.{x}" for n in drawn for x in ("png", "svg"))
    assert (out / "visibility.parquet").exists()
    none = tmp_path / "n"
    assert CliRunner().invoke(app, args[:2] + ["-o", str(none), "--no-plots", "--replications", "1"] + args[6:]).exit_code == 0
    assert not (none / "plots").exists()


def test_crud_only_results_plot_without_replicas(tmp_path):
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**OVERRIDES, "architectures": ["crud"], "replications": 1})
    results = cqrs_sim.simulate(scenario)
    assert "replica_versions" not in plots.available(results)
    paths = plots.save_all(results, tmp_path)
    assert len(paths) == len(plots.PLOTS) - 2  # nor autoscaling: no autoscaler


EMPTY_BASE = {"duration": "2m", "warmup": "10s", "replications": 1, "workload.reads.rate": "40/s",
              "workload.writes.interval": "40s", "workload.writes.apply_time": "10s", "cqrs.sync.replace_time": "5s"}
#: case -> (overrides, {plot: words its text must hold to say why it is empty})
EMPTY_CASES = {
    "no_reads": ({"workload.reads.rate": 0}, {
        "latency_cdf": "no reads arrived", "latency_over_time": "no reads in this replication",
        "stale_over_time": "no reads in this replication", "staleness_ccdf": "no reads",
        "visibility_curve": "no reads"}),
    "no_writes": ({"workload.writes": None}, {
        "visibility_curve": "no write committed", "replica_versions": "no swaps", "staleness_ccdf": "no stale reads"}),
    "crud_only": ({"architectures": ["crud"]}, {
        "replica_versions": "no cqrs", "staleness_ccdf": "crud: no stale reads"}),
    "cqrs_only": ({"architectures": ["cqrs"]}, {"latency_cdf": "cqrs p99"}),
    "one_bin": ({"bin": "2m"}, {"latency_over_time": "one time bin", "stale_over_time": "one time bin"}),
}


def all_texts(fig: Figure) -> str:
    parts = texts(fig) + [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        legend = ax.get_legend()
        parts += [t.get_text() for t in legend.get_texts()] if legend else []
    return "\n".join(parts)


@pytest.mark.parametrize("case", EMPTY_CASES)
def test_every_plot_draws_empty_data_and_says_why(case, tmp_path):
    """No reads, no writes (so no swaps), one architecture, one time bin: every plot is drawn, and its text says
    why a panel holds nothing."""
    overrides, expected = EMPTY_CASES[case]
    results = cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml", {**EMPTY_BASE, **overrides}))
    paths = plots.save_all(results, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{n}.png" for n in plots.available(results))
    assert all(p.stat().st_size > 1000 for p in paths)
    for name, plot in plots.PLOTS.items():  # every plot, even one save_all leaves out (replica_versions without cqrs)
        fig = plot(results)
        fig.savefig(tmp_path / f"direct_{name}.png")
        assert (tmp_path / f"direct_{name}.png").exists()
        if name in expected:
            assert expected[name] in all_texts(fig), (case, name, all_texts(fig))
    if case == "no_reads":
        rate = plots.latency_over_time(results).axes[1]
        assert "no reads" in " ".join(t.get_text() for t in rate.texts)
    if case == "no_writes":
        assert results.replicas.empty  # no writes, so no swaps: the zero-swap case
    if case == "cqrs_only":
        legend = plots.latency_cdf(results).axes[0].get_legend()
        assert [t.get_text().split()[0] for t in legend.get_texts()] == ["cqrs"]


def sweep_table(constant: bool = False) -> pd.DataFrame:
    """A hand-made sweep table: two varied paths, 2 x 2 points, both architectures, four metrics
    (the visibility window missing everywhere: no writes)."""
    rows = []
    for count in (2, 4):
        for interval in (30.0, 60.0):
            point = f"{count}-{interval}"
            for arch in ("crud", "cqrs"):
                for metric, value in (("read_latency_p99", 0.02 if constant else 0.01 * count),
                                      ("stale_read_fraction", 0.0 if arch == "crud" else 0.1 * count),
                                      ("read_latency_mean", 0.004), ("visibility_window_mean", np.nan)):
                    rows.append({"point": point, "architecture": arch, "metric": metric, "mean": value,
                                 "ci_low": value * 0.9, "ci_high": value * 1.1, "n": 2,
                                 "cqrs.replicas.count": count, "workload.writes.interval": interval})
    return pd.DataFrame(rows)


def test_sweep_plots_overview_by_default_every_metric_on_request(tmp_path):
    table = sweep_table()
    parameters = ["cqrs.replicas.count", "workload.writes.interval"]
    paths = save_sweep_plots(table, parameters, "demo", tmp_path / "a")
    assert [p.name for p in paths] == ["overview.png"] and paths[0].exists()
    every = save_sweep_plots(table, parameters, "demo", tmp_path / "b", every_metric=True)
    names = {p.name for p in every}
    assert {"overview.png", "read_latency_p99__vs__cqrs.replicas.count.png", "read_latency_p99__heatmap.png",
            "stale_read_fraction__vs__workload.writes.interval.png"} <= names
    assert not any(n.startswith("visibility_window_mean") for n in names)  # no value anywhere: no file of its own
    assert all(p.exists() for p in every)
    fig = sweep_plots.overview(table, parameters, "demo")
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert set(panels) == {sweep_plots.TITLES[m] for m in sweep_plots.HEADLINE}
    visibility = panels[sweep_plots.TITLES["visibility_window_mean"]]
    assert "no write committed" in " ".join(t.get_text() for t in visibility.texts)
    stale = panels[sweep_plots.TITLES["stale_read_fraction"]]
    assert stale.yaxis.get_major_formatter()(0.25, 0).endswith("%")


def test_sweep_legend_one_entry_per_line_meaning():
    """Two architectures and one varied path: two legend entries; a second path adds one entry per value."""
    table = sweep_table().query("`workload.writes.interval` == 30.0").drop(columns="workload.writes.interval")
    fig = sweep_plots.metric_vs_parameter(table, "read_latency_p99", "cqrs.replicas.count", "demo")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["crud", "cqrs"]
    both = sweep_plots.metric_vs_parameter(sweep_table(), "read_latency_p99", "cqrs.replicas.count", "demo")
    labels = [t.get_text() for t in both.axes[0].get_legend().get_texts()]
    assert labels == ["crud", "cqrs", "workload.writes.interval=30", "workload.writes.interval=60"]


def test_constant_heatmap_has_no_colour_bar_and_says_so():
    table = sweep_table(constant=True)
    fig = sweep_plots.heatmap(table, "read_latency_p99", "cqrs.replicas.count", "workload.writes.interval", "demo")
    assert not any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    assert "read_latency_p99 is 20ms at every point" in fig._suptitle.get_text()
    varied = sweep_plots.heatmap(sweep_table(), "read_latency_p99", "cqrs.replicas.count", "workload.writes.interval", "demo")
    bars = [ax for ax in varied.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1  # one colour scale shared by both architectures
    low, high = bars[0].get_ylim()
    assert np.isclose(low, 0.02) and np.isclose(high, 0.04)


def test_plot_command_all_plots_on_a_sweep_directory(tmp_path):
    table = sweep_table()
    table.to_parquet(tmp_path / "sweep.parquet", index=False)
    (tmp_path / "sweep.json").write_text(json.dumps({
        "scenario": "demo", "axes": [{"path": "cqrs.replicas.count"}, {"path": "workload.writes.interval"}]}))
    assert CliRunner().invoke(app, ["plot", str(tmp_path)]).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["overview.png"]
    result = CliRunner().invoke(app, ["plot", str(tmp_path), "--all-plots"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plots" / "stale_read_fraction__heatmap.png").exists()
