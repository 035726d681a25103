"""The parametric service-time distributions: constant, exponential, uniform, normal, and those given by mean
and coefficient of variation (lognormal, gamma, Weibull), and the Pareto heavy tail.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr, field_validator, model_validator

from .distbase import Number, Seconds, _Dist, _array


class Constant(_Dist):
    """Always ``value``."""

    dist: Literal["constant"] = "constant"
    value: Seconds

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) >= self.value).astype(float)

    def cdf_below(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) > self.value).astype(float)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value)

    @property
    def has_atoms(self) -> bool:
        return True


class Exponential(_Dist):
    """Memoryless, the M of M/M/c."""

    dist: Literal["exponential"]
    mean_: Seconds = Field(alias="mean", gt=0)

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.mean_**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-np.maximum(np.asarray(x, dtype=float), 0.0) / self.mean_)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -self.mean_ * np.log1p(-np.asarray(u, dtype=float))


class Uniform(_Dist):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise ValueError("high must not be below low")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.high == self.low:
            return (x >= self.low).astype(float)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def cdf_below(self, x: np.ndarray) -> np.ndarray:
        if self.high == self.low:
            return (np.asarray(x, dtype=float) > self.low).astype(float)
        return self.cdf(x)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + np.asarray(u, dtype=float) * (self.high - self.low)

    @property
    def has_atoms(self) -> bool:
        return self.high == self.low


class Normal(_Dist):
    """Normal with negative samples redrawn (a normal truncated at zero)."""

    dist: Literal["normal"]
    mean_: Seconds = Field(alias="mean")
    sd: Seconds

    @model_validator(mode="after")
    def _sane(self) -> "Normal":
        if self.mean_ <= 0 and self.sd > 0:
            raise ValueError("mean must be positive (negative samples are redrawn)")
        return self

    def _truncated(self) -> tuple[float, float]:
        if self.sd == 0:
            return self.mean_, 0.0
        alpha = -self.mean_ / self.sd
        phi = math.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
        tail = 1 - 0.5 * (1 + math.erf(alpha / math.sqrt(2)))
        lam = phi / tail
        mean = self.mean_ + self.sd * lam
        variance = self.sd**2 * (1 + alpha * lam - lam * lam)
        return mean, variance

    @property
    def mean(self) -> float:
        return self._truncated()[0]

    @property
    def variance(self) -> float:
        return self._truncated()[1]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = rng.normal(self.mean_, self.sd, n)
        bad = out < 0
        while bad.any():
            out[bad] = rng.normal(self.mean_, self.sd, int(bad.sum()))
            bad = out < 0
        return out

    def cdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        x = np.asarray(x, dtype=float)
        if self.sd == 0:
            return (x >= self.mean_).astype(float)
        below = ndtr(-self.mean_ / self.sd)  # the mass cut off at zero
        return np.clip((ndtr((x - self.mean_) / self.sd) - below) / (1 - below), 0.0, 1.0)

    def cdf_below(self, x: np.ndarray) -> np.ndarray:
        if self.sd == 0:
            return (np.asarray(x, dtype=float) > self.mean_).astype(float)
        return self.cdf(x)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr, ndtri

        u = np.asarray(u, dtype=float)
        if self.sd == 0:
            return np.full(u.shape, self.mean_)
        below = ndtr(-self.mean_ / self.sd)
        return np.maximum(self.mean_ + self.sd * ndtri(below + u * (1 - below)), 0.0)

    @property
    def has_atoms(self) -> bool:
        return self.sd == 0


class _MeanCv(_Dist):
    """A distribution given by its mean and coefficient of variation (sd / mean)."""

    mean_: Seconds = Field(alias="mean", gt=0)
    cv: Number = Field(ge=0, le=100, allow_inf_nan=False)

    @field_validator("cv")
    @classmethod
    def _drawable(cls, cv: float) -> float:
        if 0 < cv < 1e-6:  # gamma's shape 1/cv² would pass 1e12 and overflow below
            raise ValueError(f"give 0 (a constant) or at least 1e-06, got {cv:g}")
        return cv

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return (self.cv * self.mean_) ** 2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.cv == 0:
            return np.full(n, self.mean_)
        return self._draw(rng, n)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.cv == 0:
            return (x >= self.mean_).astype(float)
        return self._cdf(np.maximum(x, 0.0))

    def cdf_below(self, x: np.ndarray) -> np.ndarray:
        if self.cv == 0:
            return (np.asarray(x, dtype=float) > self.mean_).astype(float)
        return self.cdf(x)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        if self.cv == 0:
            return np.full(u.shape, self.mean_)
        return self._ppf(u)

    @property
    def has_atoms(self) -> bool:
        return self.cv == 0

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Lognormal(_MeanCv):
    """Lognormal with the given mean and cv: σ² = ln(1 + cv²), μ = ln(mean) − σ²/2."""

    dist: Literal["lognormal"]

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2), n)

    def _params(self) -> tuple[float, float]:
        sigma2 = math.log1p(self.cv**2)
        return math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        mu, sigma = self._params()
        with np.errstate(divide="ignore"):
            return ndtr((np.log(x) - mu) / sigma)

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri

        mu, sigma = self._params()
        return np.exp(mu + sigma * ndtri(u))


class Gamma(_MeanCv):
    """Gamma with the given mean and cv: shape 1/cv² (cv 1 is exponential)."""

    dist: Literal["gamma"]

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1 / self.cv**2
        return rng.gamma(shape, self.mean_ / shape, n)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import gammainc

        shape = 1 / self.cv**2
        return gammainc(shape, x * shape / self.mean_)

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy.special import gammaincinv

        shape = 1 / self.cv**2
        return gammaincinv(shape, u) * self.mean_ / shape


def _weibull_shape(cv: float) -> float:
    """The Weibull shape k whose coefficient of variation is ``cv``: cv² = Γ(1 + 2/k) / Γ(1 + 1/k)² − 1, falling in k."""
    from scipy.optimize import brentq
    from scipy.special import gammaln

    def gap(log_k: float) -> float:
        k = math.exp(log_k)
        return math.log(math.expm1(gammaln(1 + 2 / k) - 2 * gammaln(1 + 1 / k))) / 2 - math.log(cv)

    return math.exp(brentq(gap, math.log(0.02), math.log(1e7), xtol=1e-13, rtol=1e-13))


class Weibull(_MeanCv):
    """Weibull with the given mean and cv: the shape k solves cv² = Γ(1+2/k)/Γ(1+1/k)² − 1 (k 1 is exponential)."""

    dist: Literal["weibull"]
    _shape: float = PrivateAttr(default=1.0)

    @model_validator(mode="after")
    def _solve_shape(self) -> "Weibull":
        if self.cv > 0:
            self._shape = _weibull_shape(self.cv)
        return self

    @property
    def shape(self) -> float:
        return self._shape

    @property
    def scale(self) -> float:
        from scipy.special import gammaln

        return self.mean_ / math.exp(gammaln(1 + 1 / self._shape))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._ppf(rng.random(n))

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-((x / self.scale) ** self._shape))

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return self.scale * (-np.log1p(-u)) ** (1 / self._shape)


class Pareto(_Dist):
    """Pareto (type I): never below ``scale``, P(X > x) = (scale / x)^shape; a heavy tail for small shapes."""

    dist: Literal["pareto"]
    scale: Seconds = Field(gt=0)
    shape: Number = Field(gt=1, le=1000, allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.shape * self.scale / (self.shape - 1)

    @property
    def variance(self) -> float:
        """Infinite for shape <= 2."""
        a = self.shape
        return self.scale**2 * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.ppf(rng.random(n))

    def cdf(self, x: Any) -> np.ndarray:
        x = np.maximum(_array(x), self.scale)
        return -np.expm1(self.shape * np.log(self.scale / x))

    def ppf(self, u: Any) -> np.ndarray:
        return self.scale * np.exp(-np.log1p(-_array(u)) / self.shape)
