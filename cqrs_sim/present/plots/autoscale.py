"""The elastic read pool: replicas in the pool and connection utilization over time, above the read rate."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

from .style import (COLORS, LABEL_SIZE, WIDTHS, architectures, empty_note, figure, legend_outside, percent_axis,
                    read_rate_panel, shade_rollouts, time_axis, titled)


#: points each design's decision markers sit beside the decision time when both designs autoscale
MARKER_SHIFT = 9.0


def autoscaled(results) -> list[str]:
    """The simulated architectures whose read pool has an autoscaler."""
    scenario = results.scenario
    settings = {"cqrs": scenario.cqrs.autoscale, "crud": scenario.crud.replica_autoscale}
    return [arch for arch in architectures(results) if settings[arch] is not None]


def _settings(results, arch: str):
    return results.scenario.cqrs.autoscale if arch == "cqrs" else results.scenario.crud.replica_autoscale


def autoscaling(results, replication: int = 0) -> Figure:
    """Replicas in the pool (time average per bin) and the autoscaler's decisions; the utilization it measured
    per interval against its target; the read rate."""
    fig, (pool, util, rate) = figure(rows=3, height=9.0, sharex=True, height_ratios=[2.0, 1.6, 1.0])
    scenario = results.scenario
    divisor, unit = time_axis(results)
    ts, decisions = results.timeseries, results.autoscale
    elastic = autoscaled(results)
    top = 1
    # with both designs elastic, each design's decision markers sit a little to its side of the decision time,
    # so that decisions the two take at the same time (same interval) both show
    side = {arch: (k - (len(elastic) - 1) / 2) * 2 * MARKER_SHIFT for k, arch in enumerate(elastic)}
    for arch in elastic:
        settings = _settings(results, arch)
        top = max(top, settings.max)
        series = ts[(ts["architecture"] == arch) & (ts["replication"] == replication)]
        if len(series):
            t = np.r_[series["t"].to_numpy(), scenario.duration] / divisor
            in_pool = series["replicas_in_pool"].to_numpy()
            pool.step(t, np.r_[in_pool, in_pool[-1:]], where="post", color=COLORS[arch], lw=WIDTHS[arch],
                      label=f"{arch} replicas in the pool\n(time average per bin)")
        mine = decisions[(decisions["architecture"] == arch) & (decisions["replication"] == replication)]
        if not len(mine):
            continue
        t = mine["t"].to_numpy()
        shifted = offset_copy(pool.transData, fig=fig, x=side[arch], y=0.0, units="points")
        planned = mine["replicas_in_pool"].to_numpy() + mine["provisioning"].to_numpy()
        pool.plot(t / divisor, planned, "o", color=COLORS[arch], ms=4, mfc="white", transform=shifted,
                  label=f"{arch} in the pool + being provisioned\n(at each decision)")
        change = mine["change"].to_numpy()
        desired = mine["desired"].to_numpy()
        for marker, moved, text in (("^", change > 0, "scale-out"), ("v", change < 0, "scale-in")):
            if moved.any():
                pool.plot(t[moved] / divisor, desired[moved], marker, color=COLORS[arch], ms=10, mec="black", mew=0.6,
                          ls="none", transform=shifted, label=f"{arch} {text} (to the desired count)")
                for x, y, n in zip(t[moved], desired[moved], change[moved]):
                    # a label leans away from the other design's, so that two at the same time do not touch
                    lean = "center" if side[arch] == 0 else ("right" if side[arch] < 0 else "left")
                    nudge = {"center": 0.0, "right": 3.0, "left": -3.0}[lean]
                    pool.annotate(f"{n:+d}", (x / divisor, y), xytext=(side[arch] + nudge, 9 if n > 0 else -15),
                                  textcoords="offset points", ha=lean, fontsize=10, color=COLORS[arch])
        utilization = mine["utilization"].to_numpy()
        interval = settings.interval
        util.step(np.r_[t[:1] - interval, t] / divisor, np.r_[utilization[:1], utilization], where="pre",
                  color=COLORS[arch], lw=WIDTHS[arch], label=f"{arch} utilization per interval")
        band = settings.target_utilization * np.array([1 - settings.tolerance, 1 + settings.tolerance])
        util.axhline(settings.target_utilization, color=COLORS[arch], ls="--", lw=1.2,
                     label=f"{arch} target ({settings.target_utilization:.0%}; no change in the band)")
        if settings.tolerance > 0:
            util.axhspan(*band, color=COLORS[arch], alpha=0.12, lw=0)
    if "cqrs" in architectures(results):
        for ax in (pool, util):
            shade_rollouts(ax, results, replication, divisor, label=ax is pool)
    if not elastic:
        empty_note(pool, "no autoscaler in this scenario (cqrs.autoscale, crud.replica_autoscale): the pool is fixed")
        empty_note(util, "no autoscaler: no utilization measured")
    elif decisions.empty:
        empty_note(util, "the run ended before the autoscaler's first interval: nothing measured")
    pool.set_ylim(0, top + 1)
    pool.yaxis.set_major_locator(MaxNLocator(integer=True))
    pool.set_ylabel("replicas", fontsize=LABEL_SIZE)
    util.set_ylim(0, 1.05)
    percent_axis(util.yaxis)
    util.set_ylabel("connection utilization", fontsize=LABEL_SIZE)
    for ax in (pool, util):
        legend_outside(ax)
    read_rate_panel(rate, results, replication, divisor)
    legend_outside(rate)
    util.text(0.005, 0.03, "busy connection-seconds / connection-seconds in the pool,\nover the interval ending at "
              "each decision", transform=util.transAxes, ha="left", va="bottom", fontsize=9, color="0.3")
    beside = "" if len(elastic) < 2 else (f"; decision markers: {elastic[0]}'s just left, {elastic[-1]}'s just right "
                                          "of the decision time")
    rate.set_xlabel(f"time ({unit}){beside}", fontsize=LABEL_SIZE)
    rate.set_xlim(0, scenario.duration / divisor)
    titled(fig, results, "elastic read pool: replicas and utilization",
           f"replication {replication + 1} of {scenario.replications}; "
           + (", ".join(f"{arch}: {_settings(results, arch).min}–{_settings(results, arch).max} replicas"
                        for arch in elastic) or "no autoscaler"))
    return fig
