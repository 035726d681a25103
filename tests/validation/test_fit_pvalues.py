"""Validation of fit's KS p-values against Lilliefors's tables: the parametric bootstrap allows for fitted parameters.

With the parameters estimated from the same data, the Kolmogorov-Smirnov
distance is smaller than with known ones, so the plain Kolmogorov p-value is
far too large. Lilliefors (1967, 1969) tabulated the corrected critical
values of √n·D for large n: 0.886 (5%) and 1.031 (1%) for the normal with
estimated mean and variance (a lognormal's KS distance is the normal's on
the logs), 1.06 (5%) and 1.25 (1%) for the exponential with estimated mean.
A p-value from 199 bootstrap samples carries a binomial error of about
±0.015 at 5%.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from cqrs_sim.experiments.fit import fit_family
from cqrs_sim.experiments.fitcheck import ks_pvalue

pytestmark = pytest.mark.validation

N = 2000


@pytest.mark.parametrize("family, at_5, at_1", [("lognormal", 0.886, 1.031), ("exponential", 1.06, 1.25)])
def test_the_bootstrap_p_value_at_lilliefors_critical_values(family, at_5, at_1):
    """A distance at Lilliefors's 5% critical value gets p ≈ 0.05, one at his 1% value p ≈ 0.01; the
    uncorrected Kolmogorov p-value at the 5% value would be 0.41 (normal) or 0.21 (exponential)."""
    x = np.random.default_rng(3).lognormal(0, 1, N) if family == "lognormal" else np.random.default_rng(3).exponential(1, N)
    fit = fit_family(x, family)
    at = lambda c: ks_pvalue(dataclasses.replace(fit, ks=c / math.sqrt(N)), N)  # noqa: E731
    assert 0.02 <= at(at_5) <= 0.10
    assert at(at_1) <= 0.03
    assert stats.kstwobign.sf(at_5) > 0.2  # what the plain KS test would have said


def test_p_values_are_uniform_when_the_family_is_right():
    """100 lognormal samples of 300 values, each fitted and tested: about 10 of the p-values fall at or below
    0.1 (binomial sd 3: allowed 2 to 19), and about half at or below 0.5 (allowed 35 to 65)."""
    rng = np.random.default_rng(11)
    p = []
    for _ in range(100):
        x = rng.lognormal(-6, 0.8, 300)
        fit = fit_family(x, "lognormal")
        p.append(ks_pvalue(fit, len(x)))
    p = np.array(p)
    assert 2 <= (p <= 0.1).sum() <= 19
    assert 35 <= (p <= 0.5).sum() <= 65
