"""Every distribution's inverse CDF (ppf) and CDF agree with each other and with its own draws; the new families'
analytic moments agree with their draws (checked against the formulas, to a few standard errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from cqrs_sim.config.distributions import DIST_NAMES, Distribution
from cqrs_sim.workload.streams import stream

DIST = TypeAdapter(Distribution)

SPECS = {
    "constant": {"dist": "constant", "value": "3ms"},
    "exponential": {"dist": "exponential", "mean": "2s"},
    "uniform": {"dist": "uniform", "low": 1, "high": 3},
    "normal": {"dist": "normal", "mean": 1, "sd": 1},
    "lognormal": {"dist": "lognormal", "mean": "4ms", "cv": 1.5},
    "gamma": {"dist": "gamma", "mean": 2, "cv": 0.5},
    "weibull": {"dist": "weibull", "mean": 2, "cv": 0.5},
    "pareto": {"dist": "pareto", "scale": "1ms", "shape": 4.5},
    "empirical": {"dist": "empirical", "samples": [1, "2s", 6, 6]},
    "mixture": {"dist": "mixture", "components": [{"weight": 0.9, "dist": "pareto", "scale": "1ms", "shape": 3},
                                                  {"weight": 0.1, "dist": "exponential", "mean": "20ms"}]},
}


def test_every_distribution_is_covered():
    assert set(SPECS) == set(DIST_NAMES)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_ppf_is_the_inverse_of_the_cdf_and_matches_the_draws(name):
    """ppf is non-decreasing; cdf(ppf(u)) >= u (the smallest such x); ppf matches the quantiles of 200,000 draws."""
    d = DIST.validate_python(SPECS[name])
    u = np.linspace(0.0005, 0.9995, 400)
    x = d.ppf(u)
    assert x.shape == u.shape and (np.diff(x) >= 0).all()
    assert (d.cdf(x) >= u - 1e-9).all()
    assert (d.cdf(x * (1 - 1e-6) - 1e-12) <= u + 1e-9).all()  # just below ppf(u) the CDF has not reached u
    draws = np.sort(d.sample(stream(3, 0, f"ppf.{name}"), 200_000))
    at_or_below = np.searchsorted(draws, x, side="right") / len(draws)
    below = np.searchsorted(draws, x, side="left") / len(draws)
    assert (at_or_below >= u - 0.005).all() and (below <= u + 0.005).all()  # ppf(u) is a u-quantile of the draws
    if name not in ("constant", "empirical"):  # continuous: cdf(ppf(u)) is u itself
        assert d.cdf(x) == pytest.approx(u, abs=1e-9)
        assert np.abs(at_or_below - u).max() < 0.005


@pytest.mark.parametrize("name", ["weibull", "pareto", "mixture"])
def test_new_families_moments_match_their_draws(name):
    """Sample mean within 5 standard errors of the analytic mean; sample variance within 10% (finite-variance cases)."""
    d = DIST.validate_python(SPECS[name])
    x = d.sample(stream(1, 0, f"moments.{name}"), 400_000)
    assert (x >= 0).all()
    assert abs(x.mean() - d.mean) < 5 * math.sqrt(d.variance / len(x))
    assert x.var() == pytest.approx(d.variance, rel=0.1)


def test_a_common_uniform_maps_comonotonically_through_every_design():
    """The same uniform through two distributions' ppf gives draws in the same order (common random numbers)."""
    u = stream(5, 0, "crn").random(1000)
    a = DIST.validate_python(SPECS["lognormal"]).ppf(u)
    b = DIST.validate_python(SPECS["mixture"]).ppf(u)
    assert (np.argsort(a, kind="stable") == np.argsort(b, kind="stable")).all()


def test_pareto_heavy_tail_has_infinite_variance():
    d = DIST.validate_python({"dist": "pareto", "scale": 1, "shape": 1.5})
    assert d.mean == pytest.approx(3.0) and d.variance == math.inf


@pytest.mark.parametrize("spec, words", [
    ({"dist": "pareto", "scale": 1, "shape": 1}, "greater than 1"),
    ({"dist": "pareto", "scale": 0, "shape": 2}, "greater than 0"),
    ({"dist": "weibull", "mean": 1}, "Field required"),
    ({"dist": "mixture", "components": [{"weight": 0.5, "dist": "exponential", "mean": 1}]}, "add up to 1"),
    ({"dist": "mixture", "components": [{"dist": "exponential", "mean": 1}]}, "Field required"),
    ({"dist": "mixture", "components": [{"weight": 1, "dist": "mixture", "components": []}]}, "does not match any"),
    ({"dist": "empirical"}, "give samples"),
    ({"dist": "empirical", "samples": [1], "column": "x"}, "go with file"),
])
def test_bad_new_distributions_are_refused(spec, words):
    with pytest.raises(ValidationError, match=words):
        DIST.validate_python(spec)


def test_resolved_scenario_writes_durations_with_units_and_shapes_and_weights_as_numbers(tmp_path):
    """Only durations get a unit: a Pareto's shape and a component's weight stay plain numbers."""
    from cqrs_sim.config.loader import dump_yaml, parse_scenario
    from cqrs_sim.config.resolved import resolved_dict
    from cqrs_sim.config.paths import with_units

    scenario = parse_scenario("duration: 10s\nworkload:\n  reads:\n    rate: 5/s\n    query_time: "
                              "{dist: mixture, components: [{weight: 0.9, dist: pareto, scale: 1ms, shape: 1.5}, "
                              "{weight: 0.1, dist: weibull, mean: 20ms, cv: 2}]}\n")
    text = dump_yaml(with_units(resolved_dict(scenario))["workload"]["reads"]["query_time"])
    assert "{dist: pareto, scale: 1ms, shape: 1.5, weight: 0.9}" in text
    assert "{dist: weibull, mean: 20ms, cv: 2.0, weight: 0.1}" in text
    again = parse_scenario(dump_yaml(with_units(resolved_dict(scenario))))
    assert again.workload.reads.query_time.mean == pytest.approx(scenario.workload.reads.query_time.mean)


@pytest.mark.parametrize("source, target", [("mixture", "weibull"), ("pareto", "lognormal"), ("weibull", "mixture")])
def test_couple_maps_the_new_families_onto_each_other(source, target):
    """couple() keeps the target's distribution (KS distance to its CDF is small) and the source's order."""
    from cqrs_sim.config.distributions import couple

    a, b = DIST.validate_python(SPECS[source]), DIST.validate_python(SPECS[target])
    x = a.sample(stream(2, 0, "couple"), 50_000)
    y = couple(x, a, b, stream(2, 0, "couple.rng"))
    order = np.argsort(x, kind="stable")
    assert (np.diff(y[order]) >= -1e-12).all()
    ys = np.sort(y)
    assert np.abs(b.cdf(ys) - np.arange(1, len(ys) + 1) / len(ys)).max() < 0.01


def _extremes():
    """Valid distributions at the ends of their parameters' ranges."""
    specs = [{"dist": family, "mean": mean, "cv": cv} for family in ("lognormal", "gamma", "weibull")
             for cv in (0, 1e-6, 1e-3, 1, 30, 100) for mean in (1e-12, 1e-3, 1e9)]
    specs += [{"dist": "pareto", "scale": scale, "shape": shape} for shape in (1.0001, 2, 1000) for scale in (1e-12, 1e9)]
    specs += [{"dist": "normal", "mean": mean, "sd": sd} for mean, sd in ((1e-12, 1e9), (1e9, 1e-12), (1e-3, 0))]
    specs += [{"dist": "exponential", "mean": 1e-12}, {"dist": "exponential", "mean": 1e9},
              {"dist": "uniform", "low": 0, "high": 1e9}, {"dist": "empirical", "samples": [0, 1e-12, 1e9]}]
    return specs + [{"dist": "mixture", "components": [{**a, "weight": 0.5}, {**b, "weight": 0.5}]}
                    for a, b in zip(specs[::5], specs[2::5])]


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("spec", _extremes(), ids=lambda spec: str(spec)[:60])
def test_extreme_valid_parameters_give_limits_not_warnings(spec):
    """A Weibull of cv 1e-6 (shape 1.3e6) overflowed in its CDF and printed numpy warnings during runs; at any
    argument, even past the largest duration (a heavy tail's draw coupled to another distribution), every CDF
    and inverse CDF gives a number in its range, silently."""
    dist = DIST.validate_python(spec)
    x = np.array([0, 1e-300, 1e-12, 1e-6, 1e-3, 1, 1e3, 1e9, 1e12, 1e300, np.inf])
    u = np.array([1e-15, 1e-9, 0.1, 0.5, 0.9, 1 - 1e-9, 1 - 1e-15])
    for values in (dist.cdf(x), dist.cdf_below(x)):
        assert ((values >= 0) & (values <= 1)).all() and (np.diff(values) >= 0).all()
    quantiles = dist.ppf(u)
    assert not np.isnan(quantiles).any() and (quantiles >= 0).all() and (np.diff(quantiles) >= 0).all()
    assert not np.isnan(dist.sample(np.random.default_rng(1), 1000)).any()
