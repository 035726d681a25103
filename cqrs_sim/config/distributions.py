"""Service-time distributions: validated settings that sample and know their moments.

Each class is both the schema of one ``{dist: ...}`` mapping and the object
the model samples from (``sample(rng, n)`` returns ``n`` seconds), with its
analytic ``mean`` and ``variance`` for ``cqrs-sim check`` and the tests, and
its ``cdf`` and inverse ``ppf`` (vectorised), so that one uniform can be
mapped through several distributions (see :func:`couple`).
A bare number or duration string means a constant.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Callable, Literal, Optional, Union

import numpy as np
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo,
                      field_validator, model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from .units import DataUnit, parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration, json_schema_input_type=Union[float, str])]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # YAML's true/false would otherwise pass as 1.0 / 0.0
        raise ValueError("expected a number, not true/false")
    return value


#: a plain number (no unit) that refuses true/false
Number = Annotated[float, BeforeValidator(_not_bool)]


def _at_the_limits(method: Callable) -> Callable:
    """``method`` (a cdf or inverse cdf) with numpy's overflow, underflow and division warnings silenced: with
    valid but extreme parameters (a Weibull of cv 1e-6 has shape 1.3e6) or extreme arguments (a heavy tail's draw
    mapped through another distribution), the float arithmetic reaches inf or 0 where the function's value is its
    limit, 1 or 0, which is the right answer; a warning would only reach the user's terminal. An invalid result
    (NaN) still warns."""

    @functools.wraps(method)
    def quiet(self, x):
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            return method(self, x)

    return quiet


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name in ("cdf", "cdf_below", "ppf"):
            if name in cls.__dict__:
                setattr(cls, name, _at_the_limits(cls.__dict__[name]))

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


def _array(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


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


class _Measured:
    """Measured values held by an empirical distribution (compared by content, never printed in full)."""

    __slots__ = ("values", "ordered")

    def __init__(self, values: np.ndarray):
        self.values = values
        self.ordered = np.sort(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Measured) and np.array_equal(self.values, other.values)

    def __repr__(self) -> str:
        return f"<{len(self.values)} values>"


class Empirical(_Dist):
    """Resamples the given observations with equal probability: listed (samples) or a column of a data file."""

    dist: Literal["empirical"]
    samples: Optional[list[Seconds]] = Field(default=None, min_length=1)
    file: Optional[str] = None
    column: Optional[str] = None
    unit: Optional[DataUnit] = None
    _data: Optional[_Measured] = PrivateAttr(default=None)

    @field_validator("file")
    @classmethod
    def _located(cls, file: str, info: ValidationInfo) -> str:
        from .datafile import data_path  # pandas: when a file is read, not on `import cqrs_sim.cli`

        return data_path(file, (info.context or {}).get("base"))

    @model_validator(mode="after")
    def _one_source(self) -> "Empirical":
        from .datafile import DataError, durations, read_column  # pandas: when a file is read, not on `import cqrs_sim.cli`

        if (self.samples is None) == (self.file is None):
            raise ValueError("give samples (a list) or file and column (measured values), not both")
        if self.file is not None:
            if self.column is None:
                raise ValueError("file needs column: the column holding the values")
            try:
                self._data = _Measured(durations(read_column(self.file, self.column), self.unit or "s"))
            except DataError as exc:
                raise data_error(self, exc) from None
        elif self.column is not None or self.unit is not None:
            raise ValueError("column and unit go with file (samples carry their own units)")
        else:
            self._data = _Measured(np.asarray(self.samples, dtype=float))
        return self

    @property
    def values(self) -> np.ndarray:
        return self._data.values  # type: ignore[union-attr]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def variance(self) -> float:
        return float(np.var(self.values))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self.values, n)

    def cdf(self, x: Any) -> np.ndarray:
        ordered = self._data.ordered  # type: ignore[union-attr]
        return np.searchsorted(ordered, _array(x), side="right") / len(ordered)

    def cdf_below(self, x: Any) -> np.ndarray:
        ordered = self._data.ordered  # type: ignore[union-attr]
        return np.searchsorted(ordered, _array(x), side="left") / len(ordered)

    def ppf(self, u: Any) -> np.ndarray:
        ordered = self._data.ordered  # type: ignore[union-attr]
        index = np.ceil(_array(u) * len(ordered)).astype(np.int64) - 1
        return ordered[np.clip(index, 0, len(ordered) - 1)]

    @property
    def has_atoms(self) -> bool:
        return True


def data_error(model: BaseModel, error: Exception) -> ValidationError:
    """A data file's problem, located at the key that named what is wrong: ``file`` when the file cannot be read,
    the column's key when a column is missing or holds a bad value."""
    column = getattr(error, "column", None)
    fields = type(model).model_fields
    if column is None:
        field = "file"
    elif column in fields:  # the error is about a key itself (start)
        field = column
    else:
        field = next((name for name in fields if getattr(model, name) == column), "column")
    return located_error(model, field, str(error))


def located_error(model: BaseModel, field: str, message: str) -> ValidationError:
    """A validation error at one key of ``model`` (a model validator's own errors point at the whole model)."""
    return ValidationError.from_exception_data(type(model).__name__, [InitErrorDetails(
        type=PydanticCustomError("located", "{message}", {"message": message}), loc=(field,),
        input=getattr(model, field, None))])


def _weighted(cls: type[_Dist]) -> type[_Dist]:
    """``cls`` with a ``weight``: one component of a mixture, bound to its name in this module (``UniformPart``),
    so that pickle finds the class by name as it finds every other one (a parallel run pickles the scenario)."""
    name = cls.__name__ + "Part"
    part = type(name, (cls,), {
        "__annotations__": {"weight": Number},
        "weight": Field(gt=0, le=1, allow_inf_nan=False, description="Share of draws from this component."),
        "__module__": __name__, "__qualname__": name, "__doc__": cls.__doc__,
    })
    globals()[name] = part
    return part


_PARTS = tuple(_weighted(c) for c in (Constant, Exponential, Uniform, Normal, Lognormal, Gamma, Weibull, Pareto, Empirical))
Component = Annotated[Union[_PARTS], Field(discriminator="dist")]  # type: ignore[valid-type]


class Mixture(_Dist):
    """Draws from one of its components, chosen by weight (e.g. a Pareto body and an exponential tail)."""

    dist: Literal["mixture"]
    components: list[Component] = Field(min_length=1, max_length=100)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _weights_add_up(self) -> "Mixture":
        total = sum(c.weight for c in self.components)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"component weights must add up to 1, got {total:g}")
        return self

    @property
    def _weights(self) -> np.ndarray:
        w = np.array([c.weight for c in self.components])
        return w / w.sum()

    @property
    def mean(self) -> float:
        return float(sum(w * c.mean for w, c in zip(self._weights, self.components)))

    @property
    def variance(self) -> float:
        second = sum(w * (c.variance + c.mean**2) for w, c in zip(self._weights, self.components))
        return float(second - self.mean**2) if math.isfinite(second) else math.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        which = np.searchsorted(np.cumsum(self._weights)[:-1], rng.random(n), side="right")
        out = np.empty(n)
        for i, component in enumerate(self.components):
            chosen = which == i
            out[chosen] = component.sample(rng, int(chosen.sum()))
        return out

    def cdf(self, x: Any) -> np.ndarray:
        x = _array(x)
        return sum(w * c.cdf(x) for w, c in zip(self._weights, self.components))

    def cdf_below(self, x: Any) -> np.ndarray:
        x = _array(x)
        return sum(w * c.cdf_below(x) for w, c in zip(self._weights, self.components))

    @property
    def has_atoms(self) -> bool:
        return any(c.has_atoms for c in self.components)

    def ppf(self, u: Any) -> np.ndarray:
        """By bisection between the components' own quantiles (the mixture's lies between the smallest and largest)."""
        u = _array(u)
        each = np.array([c.ppf(u) for c in self.components])
        low, high = each.min(axis=0), each.max(axis=0)
        finite = np.isfinite(high)
        low, high = np.where(finite, low, 0.0), np.where(finite, high, 0.0)
        for _ in range(80):
            mid = (low + high) / 2
            above = self.cdf(mid) >= u
            high = np.where(above, mid, high)
            low = np.where(above, low, mid)
        return np.where(finite, high, np.inf)


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
    Union[Constant, Exponential, Uniform, Normal, Lognormal, Gamma, Weibull, Pareto, Empirical, Mixture],
    Field(discriminator="dist"),
    BeforeValidator(_coerce, json_schema_input_type=Union[float, str, dict]),
]

DIST_NAMES = ("constant", "exponential", "uniform", "normal", "lognormal", "gamma", "weibull", "pareto", "empirical",
              "mixture")
