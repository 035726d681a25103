"""An interactive explorer for notebooks: a slider per scenario key, and every move re-simulates a short run.

Thin over the library: :meth:`Explorer.update` is ``load_scenario`` with the
chosen values, ``simulate``, one plot and a few summary numbers;
:meth:`Explorer.widget` only wires ipywidgets sliders to it (ipywidgets comes
with the ``notebook`` extra). The run is shortened (``SHORT``: one
replication of at most ten minutes; the scenario's own writes are kept) so a
move answers in seconds; its numbers are a sketch, not a result to quote.

The sliders come from the scenario's own numbers (:func:`controls_for`):
its read rate (a single rate, or a diurnal mean), its write rate or mean
interval, its mean apply time, each at ½, 1, 2 and 4 times the scenario's
value; the CQRS replica count at ½, 1, 2 and 4 times; the rolling batch size
(1, 2, 4 and the scenario's) and CRUD's replica count when it has some.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from .experiments.simulate import simulate
from .analysis.values import format_value
from .present.plots import latency_over_time
from .config.loader import load_scenario
from .config.parametric import Constant
from .config.units import parse_duration
from .experiments.sweep import _resolved_value

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .io.results import Results
    from .config.scenario import Scenario

#: each slider's values: these multiples of the scenario's own value
FACTORS = (0.5, 1.0, 2.0, 4.0)


def _around(value: float) -> list[float]:
    """``value`` × FACTORS, to 3 significant digits (the scenario's own value exactly)."""
    return [value if f == 1.0 else float(f"{value * f:.3g}") for f in FACTORS]


def _mean_key(path: str, dist: Any) -> tuple[str, float] | None:
    """The key and value a slider moves for a distribution: a constant's value, else its ``mean`` field."""
    if isinstance(dist, Constant):
        return path, float(dist.value)
    fields = type(dist).model_fields
    if any(name == "mean" or info.alias == "mean" for name, info in fields.items()):
        return f"{path}.mean", float(dist.mean)
    return None


def controls_for(scenario: "Scenario") -> dict[str, list[Any]]:
    """Scenario key -> the values its slider offers (durations in seconds, rates per second), around the
    scenario's own numbers; a key the scenario does not set that way (a rate given as steps, a trace) gets none."""
    controls: dict[str, list[Any]] = {}
    reads = scenario.workload.reads
    if reads.trace is None:
        if isinstance(reads.rate, list) and len(reads.rate) == 1:
            controls["workload.reads.rate"] = _around(reads.rate[0][1])
        elif reads.rate is not None and not isinstance(reads.rate, list):
            controls["workload.reads.rate.diurnal.mean"] = _around(reads.rate.diurnal.mean)
    writes = scenario.workload.writes
    if writes is not None:
        if isinstance(writes.rate, float):
            controls["workload.writes.rate"] = _around(writes.rate)
        elif writes.interval is not None and (found := _mean_key("workload.writes.interval", writes.interval)):
            controls[found[0]] = _around(found[1])
        if (found := _mean_key("workload.writes.apply_time", writes.apply_time)) is not None:
            controls[found[0]] = _around(found[1])
    if "cqrs" in scenario.architectures and scenario.cqrs.autoscale is None:
        count = scenario.cqrs.replicas.count
        controls["cqrs.replicas.count"] = sorted({max(1, count // 2), count, 2 * count, 4 * count})
        sync = scenario.cqrs.sync
        if sync.strategy == "rolling" and count > 1:
            controls["cqrs.sync.batch_size"] = sorted({b for b in (1, 2, 4) if b <= count} | {sync.batch_size})
    if "crud" in scenario.architectures and scenario.crud.replicas and scenario.crud.replica_autoscale is None:
        count = scenario.crud.replicas
        controls["crud.replicas"] = sorted({max(1, count // 2), count, 2 * count, 4 * count})
    return controls

#: the summary numbers shown under the plot
SHOWN = ("read_latency_p99", "stale_read_fraction", "visibility_window_mean")

#: overrides that keep one run short: one replication of at most ten minutes (a shorter scenario keeps its own)
SHORT: dict[str, Any] = {"duration": "10m", "warmup": "1m", "replications": 1}


@dataclass
class Frame:
    """What one position of the sliders produced."""

    values: dict[str, Any]
    results: Results
    figure: Figure
    numbers: pd.DataFrame  #: SHOWN metric x architecture, formatted as in the terminal table


@dataclass
class Explorer:
    """Sliders over ``controls`` (default: :func:`controls_for` the scenario) for the scenario in ``path``, each
    run with ``overrides`` on top (default: ``SHORT``, with the scenario's own duration and warmup when shorter)."""

    path: str | Path
    controls: dict[str, list[Any]] | None = None
    overrides: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.overrides is None:
            own = load_scenario(self.path)
            duration = min(own.duration, parse_duration(SHORT["duration"]))
            warmup = min(own.warmup, parse_duration(SHORT["warmup"]), duration / 2)
            self.overrides = {**SHORT, "duration": duration, "warmup": warmup}
        if self.controls is None:
            self.controls = controls_for(load_scenario(self.path, self.overrides))

    def initial(self) -> dict[str, Any]:
        """Each slider's starting value: the scenario's own where it is one of the choices, else the first choice."""

        assert self.controls is not None
        scenario = load_scenario(self.path, self.overrides)
        values = {}
        for key, choices in self.controls.items():
            current = _resolved_value(scenario, key)
            values[key] = current if current in choices else choices[0]
        return values

    def update(self, values: dict[str, Any] | None = None) -> Frame:
        """Simulate the scenario with ``values`` (key -> value) and draw read latency over time."""
        import pandas as pd

        values = dict(values if values is not None else self.initial())
        scenario = load_scenario(self.path, {**(self.overrides or {}), **values})
        results = simulate(scenario, jobs=1)
        summary = results.summary()
        means = summary.set_index(["metric", "architecture"])["mean"]
        numbers = pd.DataFrame({arch: [format_value(m, means.get((m, arch))) for m in SHOWN] for arch in scenario.architectures},
                               index=pd.Index(SHOWN, name="metric"))
        return Frame(values, results, latency_over_time(results), numbers)

    def widget(self) -> Any:
        """The sliders above the latest frame's plot and numbers; moving a slider (on release) re-simulates."""
        import io

        import ipywidgets as widgets
        from IPython.display import Image, display

        assert self.controls is not None
        sliders = {key: widgets.SelectionSlider(options=choices, value=value, description=key, continuous_update=False,
                                                style={"description_width": "16em"}, layout={"width": "36em"})
                   for (key, choices), value in zip(self.controls.items(), self.initial().values())}
        output = widgets.Output()

        def redraw(_change: Any = None) -> None:
            with output:
                output.clear_output(wait=True)
                frame = self.update({key: slider.value for key, slider in sliders.items()})
                png = io.BytesIO()
                frame.figure.savefig(png, format="png")  # an image, whatever matplotlib backend the kernel has
                display(Image(png.getvalue()), frame.numbers)

        for slider in sliders.values():
            slider.observe(redraw, names="value")
        redraw()
        return widgets.VBox([*sliders.values(), output])


__all__ = ["FACTORS", "SHORT", "SHOWN", "Explorer", "Frame", "controls_for"]
