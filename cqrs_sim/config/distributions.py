"""Service-time distributions: validated settings that sample and know their moments.

Each class is both the schema of one ``{dist: ...}`` mapping and the object
the model samples from (``sample(rng, n)`` returns ``n`` seconds), with its
analytic ``mean`` and ``variance`` for ``cqrs-sim check`` and the tests, and
its ``cdf`` and inverse ``ppf`` (vectorised), so that one uniform can be
mapped through several distributions (see :func:`couple`).
A bare number or duration string means a constant.

The classes live in :mod:`.parametric`, :mod:`.empirical` and (on their common
base) :mod:`.distbase`; this module holds the mixture of them, the
:data:`Distribution` a scenario key accepts, and :func:`couple`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from .distbase import Number, _Dist, _array
from .empirical import Empirical
from .parametric import Constant, Exponential, Gamma, Lognormal, Normal, Pareto, Uniform, Weibull


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
