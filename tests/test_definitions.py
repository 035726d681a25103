"""Every metric is defined once (cqrs_sim.analysis.definitions): every metric a run reports has a definition, and the report
shows that same text (the documentation's metric reference is generated from it: tests/test_docs.py)."""

from __future__ import annotations

import html

import pytest

import cqrs_sim
from cqrs_sim.analysis.definitions import CONDITIONAL, LOWER_IS_BETTER, METRICS, NEUTRAL

#: one small scenario that turns on every conditional metric: keys, clients, read-backs, timeouts, failures, cost
EVERYTHING = """
duration: 40s
warmup: 5s
replications: 2
workload:
  keys: {count: 20, popularity: {zipf: 1.0}}
  reads: {rate: 200/s, query_time: 2ms, clients: 5, timeout: 50ms, retries: 1}
  writes: {rate: 1/s, apply_time: 100ms, read_back: {probability: 0.5, after: 10ms}}
handlers: {count: 2, concurrency: 8}
crud: {failures: {mtbf: 10s, mttr: 1s}}
cqrs:
  replicas: {count: 3, connections: 4, failures: {mtbf: 15s, mttr: 2s}}
  sync: {replace_time: 1s}
cost: {instance_hour: 0.5}
"""

BOOKKEEPING = {"architecture", "replication", "stopped_at"}


def test_every_metric_a_run_reports_has_a_definition(scenario_from):
    results = cqrs_sim.simulate(scenario_from(EVERYTHING))
    reported = set(results.per_replication.columns) - BOOKKEEPING
    assert reported == set(METRICS), (reported - set(METRICS), set(METRICS) - reported)
    assert set(results.summary().metric) == reported  # nothing reported is left out of the summary
    for name in reported:
        metric = METRICS[name]
        assert metric.definition and metric.kind and metric.better in ("lower", "higher", "neutral"), name


def test_definitions_are_complete_and_consistent():
    assert set(CONDITIONAL) <= set(METRICS)
    assert LOWER_IS_BETTER.isdisjoint(NEUTRAL)
    for name, metric in METRICS.items():
        assert metric.text().endswith("."), name
        assert all(design in ("crud", "cqrs") and note for design, note in metric.designs), name
        assert METRICS[name][0] == metric.unit and METRICS[name][1] == metric.definition  # (unit, definition) first
    # the designs' different meanings are spelled out where they differ
    assert "up-time" in dict(METRICS["replica_availability"].designs)["crud"]
    assert "database down" in dict(METRICS["pool_empty_fraction"].designs)["crud"]


@pytest.mark.filterwarnings("ignore")
def test_report_shows_each_metric_definition(scenario_from):
    from cqrs_sim.present.htmlreport import render

    results = cqrs_sim.simulate(scenario_from(EVERYTHING.replace("replications: 2", "replications: 1")))
    page = render(results)
    for name in set(results.summary().metric):
        assert f"<tr><td>{name}</td><td class=definition>{html.escape(METRICS[name].text())}</td></tr>" in page, name
