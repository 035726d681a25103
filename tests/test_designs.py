"""Designs side by side: each row is exactly the run its overrides make, and the table reads as the terminal does."""

from __future__ import annotations

import cqrs_sim
from cqrs_sim.designs import formatted, side_by_side, standard_designs

SMALL = """\
name: small
duration: 2m
warmup: 10s
seed: 3
replications: 2
workload:
  reads: {rate: 50/s, query_time: {dist: exponential, mean: 4ms}}
  writes: {interval: 30s, apply_time: 5s}
cqrs:
  replicas: {count: 3}
  sync: {replace_time: 4s}
"""


def test_each_row_is_the_run_its_overrides_make(write_yaml):
    path = write_yaml(SMALL)
    designs = {"one database": {"architectures": ["crud"]},
               "cqrs, 2 at a time": {"architectures": ["cqrs"], "cqrs.sync.batch_size": 2}}
    seen = []
    table = side_by_side(path, designs, metrics=("read_latency_p99", "stale_read_fraction"), progress=seen.append)
    assert seen == list(designs)
    assert list(table["design"].unique()) == list(designs)
    direct = cqrs_sim.simulate(cqrs_sim.load_scenario(path, {"architectures": ["cqrs"], "cqrs.sync.batch_size": 2}))
    want = direct.summary().set_index("metric")["mean"]
    got = table[table.design == "cqrs, 2 at a time"].set_index("metric")["mean"]
    assert got["read_latency_p99"] == want["read_latency_p99"]
    assert got["stale_read_fraction"] == want["stale_read_fraction"]
    crud = table[table.design == "one database"].set_index("metric")["mean"]
    assert crud["stale_read_fraction"] == 0  # one database: every read sees the newest commit

    wide = formatted(table)
    assert list(wide.index) == list(designs)
    assert list(wide.columns) == ["read_latency_p99", "stale_read_fraction"]
    assert wide.loc["one database", "stale_read_fraction"] == "0%"
    assert "ms ± " in wide.loc["cqrs, 2 at a time", "read_latency_p99"]  # two replications: an interval


def test_standard_designs_name_one_architecture_each(scenario_from):
    scenario = scenario_from(SMALL)
    designs = standard_designs(scenario)
    assert list(designs) == ["CRUD, one database", "CRUD + 3 streaming replicas", "CQRS, rolling snapshots",
                             "CQRS, blue-green snapshots", "CQRS, projections"]
    for overrides in designs.values():
        assert len(overrides["architectures"]) == 1


def test_standard_designs_with_read_your_writes_add_crud_reading_own_writes_from_the_primary(scenario_from):
    scenario = scenario_from(SMALL)
    designs = standard_designs(scenario, read_your_writes="2s")
    name = "CRUD + 3 streaming replicas, own writes read from the primary for 2s"
    assert list(designs)[2] == name and len(designs) == 6
    assert designs[name] == {"architectures": ["crud"], "crud.replicas": 3, "crud.read_your_writes_window": 2.0}


def test_designs_plot_draws_one_bar_per_design_and_metric():
    """Three panels (p99, stale by key, stale by version), a bar per design in each; a metric missing from the table
    drops its panel."""
    import pandas as pd

    from cqrs_sim.plots.designs import designs_side_by_side

    rows = []
    for design, arch, p99, key, version in (("one database", "crud", 2.0, 0.0, 0.0),
                                            ("rolling", "cqrs", 0.01, 0.008, 0.09),
                                            ("projections", "cqrs", 0.01, 0.0001, 0.001)):
        for metric, mean in (("read_latency_p99", p99), ("stale_read_fraction", key), ("stale_version_fraction", version)):
            rows.append({"design": design, "architecture": arch, "metric": metric, "mean": mean,
                         "ci_low": mean * 0.9, "ci_high": mean * 1.1, "n": 3})
    table = pd.DataFrame(rows)
    fig = designs_side_by_side(table)
    axes = fig.get_axes()
    assert [ax.get_title(loc="left").split(" (")[0] for ax in axes] == [
        "p99 read latency", "reads stale for their key", "reads of a replica behind"]
    for ax in axes:
        assert len(ax.patches) == 3
        assert [t.get_text() for t in ax.get_yticklabels()] == ["one database", "rolling", "projections"]
    assert axes[0].get_xscale() == "log"
    widths = sorted(p.get_width() for p in axes[2].patches)
    assert widths == [0.0, 0.001, 0.09]
    fig = designs_side_by_side(table[table.metric != "stale_version_fraction"])
    assert len(fig.get_axes()) == 2
