"""Service-time distributions: validated settings that sample and know their moments.

Each class is both the schema of one ``{dist: ...}`` mapping and the object
the model samples from (``sample(rng, n)`` returns ``n`` seconds), with its
analytic ``mean`` and ``variance`` for ``cqrs-sim check`` and the tests.
A bare number or duration string means a constant.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .units import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration, json_schema_input_type=Union[float, str])]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def variance(self) -> float:
        raise NotImplementedError

    @property
    def scv(self) -> float:
        """Squared coefficient of variation, for queueing approximations."""
        return self.variance / self.mean**2 if self.mean > 0 else 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    # --- the inverse-CDF view, for coupling two distributions (see :func:`couple`) ---
    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x), elementwise."""
        raise NotImplementedError

    def cdf_below(self, x: np.ndarray) -> np.ndarray:
        """P(X < x): differs from :meth:`cdf` only at a point mass."""
        return self.cdf(x)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The inverse CDF: the smallest x with P(X <= x) >= u, elementwise, for u in (0, 1)."""
        raise NotImplementedError

    @property
    def has_atoms(self) -> bool:
        """Whether some value has positive probability (then :meth:`cdf` jumps there)."""
        return False


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
    cv: float = Field(ge=0, le=100, allow_inf_nan=False)

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


class Empirical(_Dist):
    """Resamples the given observations with equal probability."""

    dist: Literal["empirical"]
    samples: list[Seconds] = Field(min_length=1)

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))

    @property
    def variance(self) -> float:
        return float(np.var(self.samples))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.samples, dtype=float), n)

    def _sorted(self) -> np.ndarray:
        return np.sort(np.asarray(self.samples, dtype=float))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        values = self._sorted()
        return np.searchsorted(values, x, side="right") / len(values)

    def cdf_below(self, x: np.ndarray) -> np.ndarray:
        values = self._sorted()
        return np.searchsorted(values, x, side="left") / len(values)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        values = self._sorted()
        at = np.ceil(np.asarray(u, dtype=float) * len(values)).astype(np.int64) - 1
        return values[np.clip(at, 0, len(values) - 1)]

    @property
    def has_atoms(self) -> bool:
        return True


#: u is kept inside (0, 1) by this margin, so an inverse CDF with an unbounded tail stays finite
_EDGE = 1e-15


def couple(x: np.ndarray, source: _Dist, target: _Dist, rng: np.random.Generator) -> np.ndarray:
    """``target``'s values comonotone with draws ``x`` of ``source``: F_target⁻¹(F_source(x)).

    This is the common-random-numbers coupling of two distributions: the
    uniform behind each draw of ``source`` is recovered (its probability
    integral transform) and mapped through ``target``'s inverse CDF, so the
    i-th value is long in one when it is long in the other, and each keeps
    its own distribution exactly. Where ``source`` has a point mass (a
    constant, an empirical sample) the uniform is spread across the jump by
    one extra uniform from ``rng`` (the randomised transform of Rüschendorf),
    which keeps it uniform; ``rng`` is used only then.
    """
    x = np.asarray(x, dtype=float)
    u = source.cdf(x)
    if source.has_atoms:
        below = source.cdf_below(x)
        u = below + rng.random(len(x)) * (u - below)
    return target.ppf(np.clip(u, _EDGE, 1 - _EDGE))


def _coerce(value: Any) -> Any:
    """A bare number or duration string is a constant."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return value


Distribution = Annotated[
    Union[Constant, Exponential, Uniform, Normal, Lognormal, Gamma, Empirical],
    Field(discriminator="dist"),
    BeforeValidator(_coerce, json_schema_input_type=Union[float, str, dict]),
]

DIST_NAMES = ("constant", "exponential", "uniform", "normal", "lognormal", "gamma", "empirical")
