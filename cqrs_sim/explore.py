"""An interactive explorer for notebooks: a slider per scenario key, and every move re-simulates a short run.

Thin over the library: :meth:`Explorer.update` is ``load_scenario`` with the
chosen values, ``simulate``, one plot and a few summary numbers;
:meth:`Explorer.widget` only wires ipywidgets sliders to it (ipywidgets comes
with the ``notebook`` extra). The run is shortened (``SHORT``) so a move
answers in seconds; its numbers are a sketch, not a result to quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from .experiments.simulate import simulate
from .analysis.values import format_value
from .present.plots import latency_over_time
from .config.loader import load_scenario
from .experiments.sweep import _resolved_value

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .io.results import Results

#: scenario key -> the values its slider offers (durations in seconds, rates per second)
CONTROLS: dict[str, list[Any]] = {
    "workload.reads.rate": [50, 100, 250, 500],
    "workload.writes.apply_time.mean": [15, 30, 60, 120],
    "cqrs.replicas.count": [2, 4, 8, 16],
    "cqrs.sync.batch_size": [1, 2, 4],
}

#: the summary numbers shown under the plot
SHOWN = ("read_latency_p99", "stale_read_fraction", "visibility_window_mean")

#: overrides that keep one run short: one replication of ten minutes, an upload every three or so
SHORT: dict[str, Any] = {"duration": "10m", "warmup": "1m", "replications": 1, "workload.writes.interval": "3m"}


@dataclass
class Frame:
    """What one position of the sliders produced."""

    values: dict[str, Any]
    results: Results
    figure: Figure
    numbers: pd.DataFrame  #: SHOWN metric x architecture, formatted as in the terminal table


@dataclass
class Explorer:
    """Sliders over ``controls`` for the scenario in ``path``, each run with ``overrides`` on top."""

    path: str | Path
    controls: dict[str, list[Any]] = field(default_factory=lambda: dict(CONTROLS))
    overrides: dict[str, Any] = field(default_factory=lambda: dict(SHORT))

    def initial(self) -> dict[str, Any]:
        """Each slider's starting value: the scenario's own where it is one of the choices, else the first choice."""

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
        scenario = load_scenario(self.path, {**self.overrides, **values})
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


__all__ = ["CONTROLS", "SHORT", "SHOWN", "Explorer", "Frame"]
