"""Property-based tests of the scenario loader and of --set.

Whatever the input — random text, random YAML structures, valid scenarios
with keys deleted, values swapped for other types, odd units, huge numbers
or unicode — loading either returns a valid Scenario or raises ScenarioError
with located problems; nothing else escapes. Every valid scenario
round-trips: load → resolved YAML → load gives an equal scenario.
"""

from __future__ import annotations

import copy
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import cqrs_sim
from cqrs_sim.core.errors import Problem, ScenarioError
from cqrs_sim.config.loader import parse_scenario, resolved_yaml

from .conftest import SCENARIOS

#: examples per property; CQRS_SIM_FUZZ_EXAMPLES=5000 for a long hunt
EXAMPLES = int(os.environ.get("CQRS_SIM_FUZZ_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHIPPED = {p.name: p.read_text() for p in sorted(SCENARIOS.glob("*.yaml"))}
SAFE = YAML(typ="safe", pure=True)


def dump(data) -> str:
    stream = io.StringIO()
    SAFE.dump(data, stream)
    return stream.getvalue()


def outcome(text: str, overrides=None):
    """The loader's answer, asserting it is one of the two allowed ones."""
    try:
        scenario = parse_scenario(text, "fuzz.yaml", overrides)
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert isinstance(problem, Problem) and problem.message
            assert str(problem).startswith(("fuzz.yaml", "--set "))
            assert "\n" not in str(problem)  # one line per problem, always
        return None
    assert isinstance(scenario, cqrs_sim.Scenario)
    again = parse_scenario(resolved_yaml(scenario), "resolved.yaml")
    assert again == scenario  # round trip
    return scenario


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["250ms", "30s", "15m", "2h", "1d", "1h30m", "30m1h", "800/s", "5/m", "-1s", "1e308s", "0", "10/fortnight",
                     "∞", "１０s", "NaN", "1_000", "exponential", "lognormal", "poisson", "mvcc", "rolling"]),
)
keys = st.one_of(st.text(max_size=10), st.sampled_from(
    ["duration", "warmup", "seed", "replications", "workload", "reads", "writes", "rate", "query_time", "apply_time",
     "dist", "mean", "cv", "cqrs", "crud", "replicas", "count", "sync", "batch_size", "at", "interval", "limits"]))
documents = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4),
                                                              st.dictionaries(keys, children, max_size=5)), max_leaves=25)


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text):
    outcome(text)


@SETTINGS
@given(documents)
def test_random_yaml_structures(document):
    outcome(dump(document))


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(SHIPPED)))
    data = SAFE.load(SHIPPED[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["delete", "replace", "huge", "unicode", "unit"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(documents)
        elif action == "huge":
            parent[path[-1]] = draw(st.sampled_from([10**30, -10**30, 1e300, 2**63, "1e300h"]))
        elif action == "unicode":
            parent[path[-1]] = draw(st.text(min_size=1, max_size=8))
        else:
            parent[path[-1]] = f"{draw(st.integers(-5, 10**6))}{draw(st.sampled_from(['ms', 's', 'm', 'h', 'd', 'us', 'min', '/s', '/h', 'x', '']))}"
    return dump(data)


@SETTINGS
@given(mutated())
def test_mutated_shipped_scenarios(text):
    outcome(text)


@SETTINGS
@given(st.sampled_from(sorted(SHIPPED)), st.lists(st.text(max_size=40), max_size=3))
def test_random_set_assignments(name, assignments):
    outcome(SHIPPED[name], assignments)


@SETTINGS
@given(st.sampled_from(sorted(SHIPPED)),
       st.lists(st.tuples(st.sampled_from(["duration", "warmup", "cqrs.replicas.count", "cqrs.sync.batch_size",
                                            "workload.reads.rate", "workload.writes.apply_time", "crud.locking",
                                            "cqrs.sync.replace_time", "workload.reads.query_time.cv", "limits.max_in_system",
                                            "architectures", "nope.deeper", "bin", "limits.max_bins",
                                            "workload.reads.rate.diurnal.peak"]),
                          st.sampled_from(["0", "-1", "16", "2h", "abc", "[crud]", "{dist: gamma, mean: 1s, cv: 2}",
                                           "1e400", "true", "~", "[]", "mvcc", "5/s", "3s", "1h30m", "-6h", "1e-12",
                                           "{diurnal: {mean: 5/s, amplitude: 0.5, peak: 18h45m}}"])), max_size=3))
def test_plausible_set_assignments(name, pairs):
    outcome(SHIPPED[name], [f"{path}={value}" for path, value in pairs])


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_scenarios_round_trip(name):
    scenario = outcome(SHIPPED[name])
    assert scenario is not None


def test_deep_copy_of_a_scenario_is_equal():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "netflix.yaml")
    assert copy.deepcopy(scenario) == scenario


def test_the_shortest_duration_resolves_to_a_file_that_loads_again():
    """Found by the fuzzer: duration 1e-12s made a default bin of 5e-15s, which the resolved file could not hold."""
    scenario = outcome(SHIPPED["testbed_cqrs.yaml"], ["duration=1e-12"])
    assert scenario is not None and scenario.bin_width == 1e-12


def test_a_sweep_value_shaped_like_a_distribution_round_trips():
    """Found by the mutation fuzzer: a sweep's values are override values, written back as given; the resolved
    scenario dropped a null key from a mapping that had ``dist`` (as it tidies distributions), so it read back as
    another scenario."""
    text = SHIPPED["priced.yaml"] + "\n"
    scenario = parse_scenario(text, "fuzz.yaml", ["sweep={crud.replicas: [{'': null, dist: null}, 2]}"])
    assert parse_scenario(resolved_yaml(scenario), "resolved.yaml") == scenario
