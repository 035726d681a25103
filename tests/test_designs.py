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
