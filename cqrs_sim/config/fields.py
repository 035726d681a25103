"""The building blocks of the scenario schema: the value types every section uses (durations, rates, counts,
rate steps, routing policies, architectures) and the base of every section (unknown keys refused, frozen).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .units import parse_duration, parse_rate, parse_signed_duration


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true/false")
    return value


def _rate_steps(value: Any) -> Any:
    """A single rate becomes one step starting at 0; steps are parsed pairwise; a mapping is a shape (diurnal)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, (list, tuple)):
        steps = []
        for step in value:
            if not isinstance(step, (list, tuple)) or len(step) != 2:
                raise ValueError("each step must be a pair [start, rate], such as [30m, 1500/s]")
            steps.append((parse_duration(step[0]), parse_rate(step[1])))
        if not steps:
            raise ValueError("give a rate or at least one step")
        if steps[0][0] != 0:
            raise ValueError("the first step must start at 0s")
        if any(b[0] <= a[0] for a, b in zip(steps, steps[1:])):
            raise ValueError("step start times must increase")
        return steps
    return [(0.0, parse_rate(value))]




SignedSeconds = Annotated[float, BeforeValidator(parse_signed_duration, json_schema_input_type=Union[float, str])]


PerSecond = Annotated[float, BeforeValidator(parse_rate, json_schema_input_type=Union[float, str])]


Count = Annotated[int, BeforeValidator(_strict_int), Field(ge=1)]


NonNegativeCount = Annotated[int, BeforeValidator(_strict_int), Field(ge=0)]


RateSteps = Annotated[list[tuple[float, float]],
                      BeforeValidator(_rate_steps, json_schema_input_type=Union[float, str, list[tuple[Union[float, str], Union[float, str]]]])]


Policy = Literal["round_robin", "random", "least_outstanding", "power_of_two", "sticky"]


ReplicaPolicy = Literal["round_robin", "random", "least_outstanding", "power_of_two", "prefer_fresh", "sticky"]


Architecture = Literal["crud", "cqrs"]


ARCHITECTURES: list[str] = list(get_args(Architecture))  #: every architecture, in table order


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)
