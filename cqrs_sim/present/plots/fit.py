"""The fits of ``cqrs-sim fit`` against the data: CDFs side by side, and a QQ plot of each fit."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...core.safetext import plot_text
from .style import DPI, HEIGHT, LABEL_SIZE, TICK_SIZE, TITLE_SIZE, WIDTH, duration_axis, percent_axis

#: one colour per family, in ranking-independent order
FAMILY_COLORS = {"exponential": "#7570b3", "lognormal": "#1b9e77", "gamma": "#d95f02", "weibull": "#e7298a",
                 "mixture": "#66a61e"}
QQ_POINTS = 400  #: quantiles drawn per fit in the QQ panel


def fit_plot(values: np.ndarray, fits: list, name: str, refused: frozenset[str] = frozenset(),
             of: int | None = None) -> Figure:
    """Left: the data's CDF and each fitted CDF (log time axis); right: fitted quantiles against measured ones.
    A family in ``refused`` (the data refute it) is drawn dashed and says so; ``of``: the values ``values`` are a
    random sample of."""
    x = np.sort(np.asarray(values, dtype=float))
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    cdf_ax, qq_ax = fig.subplots(1, 2)
    for ax in (cdf_ax, qq_ax):
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(True, which="major", alpha=0.3)
    steps = np.arange(1, len(x) + 1) / len(x)
    sampled = f", a random sample of {of:,}" if of and of > len(x) else ""
    cdf_ax.step(x, steps, where="post", color="black", linewidth=2.5, label=f"measured ({len(x):,}{sampled})")
    grid = np.geomspace(x[0], x[-1], 400)
    probabilities = (np.arange(QQ_POINTS) + 0.5) / QQ_POINTS
    measured_q = np.quantile(x, probabilities)
    for rank, fit in enumerate(fits):
        color = FAMILY_COLORS.get(fit.family, "0.5")
        no = fit.family in refused
        label = f"{rank + 1}. {fit.family} (AIC {fit.aic:,.0f}, KS {fit.ks:.3f}{', refused' if no else ''})"
        cdf_ax.plot(grid, fit.distribution.cdf(grid), color=color, linewidth=1.6, linestyle="--" if no else "-",
                    label=label)
        qq_ax.plot(measured_q, fit.distribution.ppf(probabilities), "x" if no else ".", color=color, markersize=3,
                   label=fit.family + (" (refused)" if no else ""))
    qq_ax.plot([x[0], x[-1]], [x[0], x[-1]], color="black", linewidth=1, label="fitted = measured")
    cdf_ax.set_xscale("log")
    duration_axis(cdf_ax.xaxis, log=True)
    percent_axis(cdf_ax.yaxis)
    cdf_ax.set_xlabel("time (log scale)", fontsize=LABEL_SIZE)
    cdf_ax.set_ylabel("fraction at or below", fontsize=LABEL_SIZE)
    # below the panel: a CDF crosses every corner of its panel somewhere, so any legend inside hides a curve
    cdf_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9, ncols=2, frameon=False)
    qq_ax.set_xscale("log")
    qq_ax.set_yscale("log")
    duration_axis(qq_ax.xaxis, log=True)
    duration_axis(qq_ax.yaxis, log=True)
    qq_ax.set_xlim(x[0], x[-1])
    qq_ax.set_ylim(x[0], x[-1])
    qq_ax.set_xlabel("measured quantile", fontsize=LABEL_SIZE)
    qq_ax.set_ylabel("fitted quantile", fontsize=LABEL_SIZE)
    qq_ax.legend(loc="upper left", fontsize=9)
    fig.suptitle(f"{plot_text(name)}: fitted distributions, best first", fontsize=TITLE_SIZE)
    return fig
