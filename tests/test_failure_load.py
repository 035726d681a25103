"""``check``'s warnings for scheduled failures: the offered load on what a failure leaves, derived by hand."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cqrs_sim import load_scenario
from cqrs_sim.analysis.failure_load import failure_warnings
from cqrs_sim.cli import app

from .conftest import SCENARIOS

runner = CliRunner()


def test_a_replica_down_at_the_peak_overloads_what_is_left():
    """failure_at_peak.yaml: CRUD has 2 replicas × 3 connections; with replicas.0 down from 3 min to 4 min, at the
    peak's 100 reads/s × 40 ms mean query, 3 connections carry 4 busy: utilisation 4/3 = 1.33. CQRS keeps 3 × 3 = 9
    connections: 4/9 = 0.44, no warning."""
    (line,) = failure_warnings(load_scenario(SCENARIOS / "failure_at_peak.yaml"))
    assert line.startswith("crud read replicas: utilisation 1.33 >= 1 while replicas.0 is down (3min–4min")
    assert "3 connections left at up to 100 reads/s" in line


def test_check_warns_about_a_failure_it_would_otherwise_call_harmless():
    result = runner.invoke(app, ["check", str(SCENARIOS / "failure_at_peak.yaml")])
    assert result.exit_code == 0
    assert "utilisation 1.33 >= 1 while replicas.0 is down" in result.output
    assert "every tier is below utilisation 1." not in result.output


@pytest.mark.parametrize("target, says", [
    ("crud.primary", ["crud database: no instance left to read from while crud.primary is down",
                      "crud: no instance left to take writes while crud.primary is down"]),
    ("cqrs.write_servers.0", ["cqrs: no instance left to take writes while cqrs.write_servers.0 is down"]),
])
def test_a_design_left_without_an_instance_is_named(target, says):
    scenario = load_scenario(SCENARIOS / "mmc.yaml", [f"failures.scheduled=[{{at: 1s, for: 2s, target: {target}}}]",
                                                      "architectures=[crud, cqrs]"])
    lines = failure_warnings(scenario)
    assert [line.split(" (")[0] for line in lines] == says


def test_overlapping_failures_are_counted_together():
    """CQRS replicas × 4 connections at 800 reads/s × 4 ms = 3.2 busy. Eight replicas, two down together: 24
    connections, 0.13, nothing to say. Two replicas, both down together: none left; the first alone leaves 4
    connections: 0.8, nothing to say (so only the overlap is named)."""
    both = "failures.scheduled=[{at: 1s, for: 5s, target: cqrs.replicas.0}, {at: 2s, for: 5s, target: cqrs.replicas.1}]"
    plenty = load_scenario(SCENARIOS / "mmc.yaml", ["architectures=[cqrs]", "cqrs.replicas.count=8", both])
    assert failure_warnings(plenty) == []
    two = load_scenario(SCENARIOS / "mmc.yaml", ["architectures=[cqrs]", "cqrs.replicas.count=2", both])
    (line,) = failure_warnings(two)
    assert line.startswith("cqrs replica pool: no instance left to read from while cqrs.replicas.0, cqrs.replicas.1 "
                           "are down (2s–6s")
