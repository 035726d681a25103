"""Scheduled failures that name no instance are one located error each; one after the run does not happen."""

from __future__ import annotations

import pytest

from .test_bad_input import VALID, assert_one_error, run_bad


@pytest.mark.parametrize("target, words", [
    ("cqrs.replicas.4", "cqrs has 4 replicas"),
    ("crud.replicas.0", "crud has 0 replicas"),
    ("crud.write_servers.0", "write servers are CQRS's"),
    ("replicas", "needs an instance number"),
    ("cache.0", "unknown target 'cache.0'"),
])
def test_a_target_that_names_no_instance_is_refused_at_its_line(tmp_path, target, words):
    text = VALID + f"failures:\n  scheduled:\n    - {{at: 2s, for: 1s, target: {target}}}\n"
    result, _, out = run_bad(tmp_path, text)
    assert_one_error(result, out, ":15:33", "failures.scheduled.0.target", words)
    assert not out.exists()


def test_a_failure_after_the_run_does_not_happen(scenario_from):
    """A scenario shortened below its scheduled failure still runs: the failure never starts (as a random one
    never starts after duration), and the outage table is empty."""
    import cqrs_sim

    text = VALID + "failures:\n  scheduled:\n    - {at: 10s, for: 1s, target: crud.primary}\n"
    results = cqrs_sim.simulate(scenario_from(text, overrides={"replications": 1}))
    assert results.outages.empty
    assert results.per_replication["reads_failed"].sum() == 0


def test_a_scheduled_failure_that_cannot_happen_is_warned_of(scenario_from):
    """Valid but probably not meant: a failure after the run, or of an instance only an unsimulated design has."""
    from cqrs_sim.config.warnings import scenario_warnings

    late = scenario_from(VALID + "failures:\n  scheduled:\n    - {at: 10s, for: 1s, target: crud.primary}\n")
    assert any(w.startswith("failures.scheduled.0.at:") and "does not happen" in w for w in scenario_warnings(late))
    unsimulated = scenario_from(VALID + "failures:\n  scheduled:\n    - {at: 1s, for: 1s, target: crud.primary}\n",
                                overrides={"architectures": ["cqrs"]})
    assert any(w.startswith("failures.scheduled.0.target:") for w in scenario_warnings(unsimulated))
    happens = scenario_from(VALID + "failures:\n  scheduled:\n    - {at: 1s, for: 1s, target: crud.primary}\n")
    assert not [w for w in scenario_warnings(happens) if w.startswith("failures.")]
