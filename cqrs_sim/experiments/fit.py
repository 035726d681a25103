"""Distributions fitted to measurements by maximum likelihood, ranked, and written as scenario YAML.

Every family is fitted with its location at zero (times start at 0):
exponential and lognormal (closed forms), gamma and Weibull (the
likelihood equation of the shape solved by Newton's method, the scale then
in closed form), and the mixture of a Pareto body and an exponential tail
that PBS (Bailis et al., VLDB 2012) fitted to Cassandra's latencies. The
mixture's likelihood jumps at the Pareto's scale (a value below it cannot
come from the Pareto), so the scale is profiled over the data's own values,
and for each the weight, Pareto shape and exponential mean come from EM
(expectation maximisation), whose steps are exact for these two families.
The shape solvers work on many samples at once (one per row), so the
parametric bootstrap of :mod:`cqrs_sim.experiments.fitcheck` refits thousands of
samples by the same estimator.

Fits are ranked by AIC (2k - 2 log L, k fitted parameters); the
Kolmogorov-Smirnov distance of each, computed with the scenario
distribution's own CDF, says how far its CDF strays from the data's.
Whether the data refute a fit is :mod:`cqrs_sim.experiments.fitcheck`'s question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from pydantic import TypeAdapter, ValidationError
from scipy import special, stats

from ..config.distributions import Distribution
from ..config.distbase import _Dist
from ..config.format import duration_unit, format_in_unit

FAMILIES = ("exponential", "lognormal", "gamma", "weibull", "mixture")
MIN_VALUES = 10  #: fewer measurements say nothing about a distribution's shape
DIGITS = 4  #: significant digits in the YAML snippet

_DIST = TypeAdapter(Distribution)


@dataclass(frozen=True)
class Fit:
    family: str
    distribution: _Dist  #: the fitted distribution as the scenario schema holds it
    parameters: int  #: fitted parameters (k of the AIC)
    log_likelihood: float
    ks: float  #: Kolmogorov-Smirnov distance (largest gap between the fitted and the data's CDF)

    @property
    def aic(self) -> float:
        return 2 * self.parameters - 2 * self.log_likelihood

    @property
    def yaml(self) -> str:
        return snippet(self.distribution)


def ks_distance(ordered: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """The two-sided Kolmogorov-Smirnov distance of each row: ``ordered`` values sorted along the last axis,
    ``cdf`` the fitted CDF at them."""
    m = ordered.shape[-1]
    above = np.arange(1, m + 1) / m - cdf
    below = cdf - np.arange(m) / m
    return np.maximum(above.max(axis=-1), below.max(axis=-1))


def _exponential(x: np.ndarray) -> tuple[dict, float, int]:
    mean = float(x.mean())
    return {"dist": "exponential", "mean": mean}, float(stats.expon(scale=mean).logpdf(x).sum()), 1


def _lognormal(x: np.ndarray) -> tuple[dict, float, int]:
    logs = np.log(x)
    mu, sigma = float(logs.mean()), float(logs.std())
    spec = {"dist": "lognormal", "mean": math.exp(mu + sigma**2 / 2), "cv": math.sqrt(math.expm1(sigma**2))}
    return spec, float(stats.lognorm(sigma, scale=math.exp(mu)).logpdf(x).sum()), 2


def gamma_shape(gap: np.ndarray) -> np.ndarray:
    """The gamma shape k solving log k − ψ(k) = ``gap`` (= log of the mean − mean of the logs, > 0), elementwise:
    Minka's starting point, then Newton's method (the maximum-likelihood shape; the scale is mean / k)."""
    gap = np.asarray(gap, dtype=float)
    k = (3 - gap + np.sqrt((gap - 3) ** 2 + 24 * gap)) / (12 * gap)
    for _ in range(20):
        step = (np.log(k) - special.digamma(k) - gap) / (1 / k - special.polygamma(1, k))
        k = np.where(k - step > 0, k - step, k / 2)
        if np.all(np.abs(step) <= 1e-12 * k):
            break
    return k


def _gamma(x: np.ndarray) -> tuple[dict, float, int]:
    mean = float(x.mean())
    shape = float(gamma_shape(np.array(math.log(mean) - float(np.log(x).mean()))))
    spec = {"dist": "gamma", "mean": mean, "cv": 1 / math.sqrt(shape)}
    return spec, float(stats.gamma(shape, scale=mean / shape).logpdf(x).sum()), 2


def weibull_fit(logs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(shape k, scale λ) of the Weibull maximising the likelihood of each row of ``logs`` (logs of the values).

    k solves Σ xᵏ ln x / Σ xᵏ − 1/k = mean(ln x), increasing in k, by Newton's method from the moment estimate
    π / (√6 sd(ln x)); then λ = mean(xᵏ)^(1/k). Powers are taken relative to the row's largest value, so
    nothing overflows.
    """
    logs = np.atleast_2d(np.asarray(logs, dtype=float))
    top = logs.max(axis=-1, keepdims=True)
    u = logs - top  # ≤ 0
    mean_log = logs.mean(axis=-1)
    k = math.pi / (math.sqrt(6) * np.maximum(logs.std(axis=-1), 1e-300))
    for _ in range(100):
        w = np.exp(k[:, None] * u)
        a = w.sum(axis=-1)
        b = (w * logs).sum(axis=-1) / a
        c = (w * logs**2).sum(axis=-1) / a
        step = (b - 1 / k - mean_log) / (c - b**2 + 1 / k**2)
        k = np.where(k - step > 0, k - step, k / 2)
        if np.all(np.abs(step) <= 1e-12 * k):
            break
    scale = np.exp(top[:, 0] + np.log(np.exp(k[:, None] * u).mean(axis=-1)) / k)
    return k, scale


def _weibull(x: np.ndarray) -> tuple[dict, float, int]:
    (shape,), (scale,) = weibull_fit(np.log(x))
    mean = scale * math.exp(special.gammaln(1 + 1 / shape))
    cv = math.sqrt(math.expm1(special.gammaln(1 + 2 / shape) - 2 * special.gammaln(1 + 1 / shape)))
    return {"dist": "weibull", "mean": mean, "cv": cv}, float(stats.weibull_min(shape, scale=scale).logpdf(x).sum()), 2


#: the Pareto shape is kept within the schema's range (shape > 1: a finite mean)
_SHAPE_RANGE = (1.0 + 1e-3, 1000.0)
_SCALE_CANDIDATES = 32  #: Pareto scales tried on the first pass (data quantiles up to _SCALE_UP_TO)
_SCALE_UP_TO = 0.9
_QUICK_ITERATIONS = 40  #: EM steps per scale while profiling
_QUICK_VALUES = 4000  #: values (evenly spaced order statistics) used while profiling
_MIN_SHARE = 0.01  #: each component keeps at least this weight (else the mixture degenerates to one family)


def _mixture_em(x: np.ndarray, logs: np.ndarray, scale: float, iterations: int = 400) -> tuple[float, float, float, float]:
    """(log-likelihood, weight, shape, mean) of the Pareto(scale) + exponential mixture by EM, scale fixed."""
    above = x >= scale
    log_ratio = np.where(above, logs - math.log(scale), 0.0)
    if above.sum() < 2 or log_ratio.sum() <= 0:
        return -math.inf, 0.0, 0.0, 0.0
    weight, shape, mean = 0.5, float(np.clip(above.sum() / log_ratio.sum(), *_SHAPE_RANGE)), float(x.mean())

    def expectation() -> tuple[float, np.ndarray, np.ndarray]:
        """(log-likelihood of the current parameters, log of each value's Pareto term, log of its density)."""
        log_pareto = np.where(above, math.log(weight) + math.log(shape) - shape * log_ratio - logs, -np.inf)
        total = np.logaddexp(log_pareto, math.log1p(-weight) - math.log(mean) - x / mean)
        return float(total.sum()), log_pareto, total

    previous = -math.inf
    for _ in range(iterations):
        log_lik, log_pareto, total = expectation()
        if log_lik - previous < 1e-10 * len(x):
            break
        previous = log_lik
        r = np.exp(log_pareto - total)
        body = r.sum()
        weight = float(np.clip(body / len(x), _MIN_SHARE, 1 - _MIN_SHARE))
        shape = float(np.clip(body / max((r * log_ratio).sum(), 1e-300), *_SHAPE_RANGE))
        tail = len(x) - body
        mean = float((x * (1 - r)).sum() / tail) if tail > 1e-12 else float(x.mean())
    else:  # stopped at the cap: the parameters moved after the last likelihood was taken
        log_lik = expectation()[0]
    return log_lik, weight, shape, mean


def _mixture(x: np.ndarray) -> tuple[dict, float, int]:
    """Profile the Pareto scale over the data's order statistics: a coarse pass, every value near the best, and
    EM run to convergence for the three best scales (the passes stop EM early, which ranks scales well enough)."""
    ordered = np.sort(x)
    logs = np.log(x)
    n = len(ordered)
    few = ordered[np.linspace(0, n - 1, min(n, _QUICK_VALUES)).astype(int)]  # evenly spaced order statistics
    few_logs = np.log(few)
    coarse = np.unique(np.linspace(0, int(_SCALE_UP_TO * (n - 1)), _SCALE_CANDIDATES).astype(int))
    tried: dict[int, float] = {}

    def quick(index: int) -> float:
        if index not in tried:
            tried[index] = _mixture_em(few, few_logs, float(ordered[index]), _QUICK_ITERATIONS)[0]
        return tried[index]

    best = max((int(i) for i in coarse), key=quick)
    position = int(np.searchsorted(coarse, best))
    low, high = int(coarse[max(position - 1, 0)]), int(coarse[min(position + 1, len(coarse) - 1)])
    for index in np.unique(np.linspace(low, high, 16).astype(int)):
        quick(int(index))
    finalists = sorted(tried, key=tried.__getitem__, reverse=True)[:3]
    results = {i: _mixture_em(x, logs, float(ordered[i]), 2000) for i in finalists}
    best = max(results, key=lambda i: results[i][0])
    log_lik, weight, shape, mean = results[best]
    weight = round(weight, 4)
    spec = {"dist": "mixture", "components": [
        {"weight": weight, "dist": "pareto", "scale": float(ordered[best]), "shape": shape},
        {"weight": 1 - weight, "dist": "exponential", "mean": mean},
    ]}
    return spec, log_lik, 4


_FITTERS: dict[str, Callable[[np.ndarray], tuple[dict, float, int]]] = {
    "exponential": _exponential, "lognormal": _lognormal, "gamma": _gamma, "weibull": _weibull, "mixture": _mixture,
}


def fit_family(values: np.ndarray, family: str) -> Fit:
    """One family fitted to ``values`` (seconds, all positive)."""
    x = np.asarray(values, dtype=float)
    scale = float(np.median(x))  # fitted on values near 1, then scaled back: the solvers like that better
    spec, log_lik, k = _FITTERS[family](x / scale)
    distribution = _DIST.validate_python(_rescaled(spec, scale))
    ks = float(ks_distance(np.sort(x), distribution.cdf(np.sort(x))))
    return Fit(family, distribution, k, log_lik - len(x) * math.log(scale), ks)


def _rescaled(spec: dict, factor: float) -> dict:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "components":
            value = [_rescaled(c, factor) for c in value]
        elif key in ("mean", "scale"):
            value = value * factor
        out[key] = value
    return out


def check_values(values: np.ndarray) -> str | None:
    """Why these values cannot be fitted, or None."""
    if len(values) < MIN_VALUES:
        return f"needs at least {MIN_VALUES} values to fit, got {len(values)}"
    if (values <= 0).any():
        return f"every value must be positive (times), found {float(values[np.argmax(values <= 0)]):g}"
    if values.min() < 1e-12 or values.max() > 1e9:
        return (f"times run from {values.min():g}s to {values.max():g}s; a scenario's durations lie between 1e-12s "
                "and 1e9s (is --unit right?)")
    if np.ptp(values) == 0:
        return f"every value is {values[0]:g}: a constant, nothing to fit ({{dist: constant, value: ...}})"
    return None


def fit_all(values: np.ndarray, families: tuple[str, ...] = FAMILIES,
            skipped: Optional[list[tuple[str, str]]] = None,
            progress: Callable[[str], None] = lambda line: None) -> list[Fit]:
    """Every family fitted to ``values`` (seconds), best AIC first; a family whose fit fails is left out
    (and, with ``skipped``, appended to it as (family, reason)). ``progress`` hears of each family as it starts."""
    problem = check_values(np.asarray(values, dtype=float))
    if problem is not None:
        raise ValueError(problem)
    fits = []
    for k, family in enumerate(families, start=1):
        progress(f"fitting {family} ({k}/{len(families)}) to {len(values):,} values")
        try:
            fits.append(fit_family(values, family))
        except (ValueError, ArithmeticError, RuntimeError) as exc:  # e.g. a Weibull cv past the schema's range
            if skipped is not None:
                reason = (f"{exc.errors()[0]['loc'][-1]}: {exc.errors()[0]['msg']}" if isinstance(exc, ValidationError)
                          else str(exc))
                skipped.append((family, " ".join(reason.split())[:200]))
    return sorted(fits, key=lambda f: (f.aic, f.ks))


def _number(value: float) -> str:
    return f"{value:.{DIGITS}g}"


def _duration(seconds: float) -> str:
    return format_in_unit(seconds, duration_unit(seconds), DIGITS)


def snippet(distribution: _Dist) -> str:
    """The distribution as one line of scenario YAML, durations with units: ``{dist: lognormal, mean: 12.3ms, cv: 0.8}``."""
    data = distribution.model_dump(mode="json", by_alias=True, exclude_none=True)
    if data["dist"] == "mixture":
        parts, left = [], 1.0
        for i, component in enumerate(data["components"]):
            weight = component.pop("weight")
            weight = round(weight, 4) if i < len(data["components"]) - 1 else left
            left -= weight
            parts.append(f"{{weight: {weight:.4f}, {_pairs(component)}}}")
        return f"{{dist: mixture, components: [{', '.join(parts)}]}}"
    return f"{{{_pairs(data)}}}"


def _pairs(data: dict) -> str:
    items = [f"dist: {data['dist']}"]
    for key, value in data.items():
        if key != "dist":
            items.append(f"{key}: {_number(value) if key in ('cv', 'shape') else _duration(value)}")
    return ", ".join(items)
