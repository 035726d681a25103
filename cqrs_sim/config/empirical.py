"""The empirical distribution: measured values, listed or read from a data file, resampled with equal probability;
and the errors that point at the key naming a data file's problem.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .distbase import Seconds, _Dist, _array
from .units import DataUnit


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
