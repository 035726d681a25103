"""``cqrs-sim compare``: two result directories side by side."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import Problem, ScenarioError
from ..io.outdir import Lock, staged_files
from ..io.resultdir import check_plot_dir
from ..core.safetext import rich_text
from .common import _guarded, _note, _say, _warn, app, out


@app.command("compare")
def compare_command(
    dir_a: Path = typer.Argument(..., metavar="DIR_A", help="A result directory (e.g. from `run`)."),
    dir_b: Path = typer.Argument(..., metavar="DIR_B", help="Another (e.g. from `testbed`, same scenario)."),
    plots: Optional[Path] = typer.Option(None, "--plots", help="Directory for the overlay plots (new, or holding only "
                                                                 "earlier overlays); none drawn without it."),
) -> None:
    """Side by side: each metric of two result directories, the difference, and whether it lies inside their intervals."""

    def body() -> None:
        # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
        from ..experiments.compare import (PLOT_FILES, compare_results, compare_table, load_pair, pair_labels,
                                          scenario_difference)

        a, b = load_pair(dir_a, dir_b)
        labels = pair_labels(a, dir_a, b, dir_b)
        if plots is not None:
            for directory, side in ((dir_a, a), (dir_b, b)):
                if side.manifest.get("kind") == "sweep point":
                    raise ScenarioError([Problem(str(directory), 0, 0, "(--plots)", "is a sweep point, which keeps "
                                                 "summaries only: the overlays need the requests of two run results")])
            check_plot_dir(plots, PLOT_FILES)
        difference = scenario_difference(a, b)
        judged = difference is None or difference.same_model or difference.calibrated
        table = compare_table(compare_results(a, b, targets=None if judged else {}), labels)
        if difference is not None:
            (_note if difference.calibrated else _warn)(difference.message())  # a prediction is what is expected
            table.caption = rich_text("A and B: " + (
                "the same model, other random numbers or runs" if difference.same_model else
                "a prediction from measured parts beside a measurement" if difference.calibrated else
                "different scenarios; agreement targets not judged"))
            table.caption_justify = "left"
        out.print(table)
        if plots is None:
            return
        # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
        from ..present.plots.overlay import latency_cdf_overlay, visibility_overlay

        Path(os.path.abspath(plots)).parent.mkdir(parents=True, exist_ok=True)
        with Lock(plots):
            check_plot_dir(plots, PLOT_FILES)
            with staged_files(plots, notify=_note) as staging:
                latency_cdf_overlay(a, b, labels).savefig(staging / PLOT_FILES[0])
                visibility_overlay(a, b, labels).savefig(staging / PLOT_FILES[1])
        _say(out, f"wrote {plots}/{PLOT_FILES[0]} and {PLOT_FILES[1]}")

    _guarded(body)
