"""The base of every service-time distribution: validated, frozen, and quiet at the limits of float arithmetic;
and the value types its settings use (a duration in seconds, a plain number).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Callable, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict

from .units import parse_duration


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
