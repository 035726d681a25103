"""Whether the data refute a fit, and what ``cqrs-sim fit`` recommends: never a distribution the data refute.

A fit is *refused* when

* its mean or its 99th percentile is more than :data:`TOLERANCE` (10%) from
  the data's: a query time whose mean is off by a third gives utilisations
  off by a third, whatever its likelihood says;
* its variance is infinite (a Pareto shape of 2 or less) while the data's
  tail shows a finite one: Hill's estimate of the tail index α from the
  largest 1% of the values (at least 10), P(X > x) ~ x^−α, has a 95%
  interval above 2.

The recommendation is the best (lowest AIC) fit not refused. When every
fit is refused, it is the measured values themselves, ``{dist: empirical,
file: ..., column: ..., unit: ...}``, and the output says why.

KS p-values allow for the parameters having been fitted to the same data
(Lilliefors's correction, by parametric bootstrap): :data:`BOOTSTRAP`
samples of m = min(n, :data:`BOOTSTRAP_VALUES`) values are drawn from the
fit, each is refitted by the same estimator, and p = (1 + the number whose
√m · distance reaches √n · the data's distance) / (samples + 1); for n > m
the distances are compared on the √n scale, where their distribution
settles as n grows. The mixture, whose profiled fit is too slow to refit
that often, has no p-value (nor has a fit whose refits fail, such as a
gamma so skewed that its draws underflow to 0): its KS distance and the
checks above judge it.

Large samples: beyond :data:`RANK_VALUES` values the families are fitted,
ranked and drawn on a simple random sample of that many (stream
``fit.subsample`` of seed 0, so the same data give the same answer); the
data's mean, p99 and tail index are computed from every value. The output
says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from scipy import special

from .fit import Fit, fit_all, gamma_shape, ks_distance, weibull_fit
from ..workload.streams import stream
from ..config.format import format_duration

TOLERANCE = 0.10  #: the largest relative gap between a fit's mean (or p99) and the data's
RANK_VALUES = 100_000  #: values fitted and ranked; a larger sample is subsampled
BOOTSTRAP = 199  #: parametric bootstrap samples per KS p-value
BOOTSTRAP_VALUES = 2_000  #: values per bootstrap sample (at most n)
SEED = 0  #: of the subsample and the bootstrap streams
TAIL_SHARE = 0.01  #: the share of the largest values Hill's estimate uses (at least TAIL_MIN)
TAIL_MIN = 10


@dataclass(frozen=True)
class DataSummary:
    """What every measured value says: the numbers a fit must match."""

    n: int
    mean: float
    p99: float
    tail_index: float  #: Hill's α from the largest values
    tail_low: float  #: the lower end of its 95% interval
    tail_values: int  #: how many largest values it used

    @property
    def finite_variance(self) -> bool:
        """Whether the tail shows a finite variance (α > 2 with 95% confidence)."""
        return self.tail_low > 2


@dataclass(frozen=True)
class Checked:
    """One fit beside the data."""

    fit: Fit
    mean: float
    p99: float
    ks_p: Optional[float]  #: bootstrap KS p-value; None for the mixture
    problems: tuple[str, ...]  #: why the data refute it (empty: not refused)

    @property
    def refused(self) -> bool:
        return bool(self.problems)


@dataclass
class FitReport:
    data: DataSummary
    checked: list[Checked]  #: best AIC first
    fitted: int  #: values the families were fitted to (the subsample, or every value)
    skipped: list[tuple[str, str]] = field(default_factory=list)  #: (family, why it could not be fitted)

    @property
    def subsampled(self) -> bool:
        return self.fitted < self.data.n

    @property
    def recommended(self) -> Optional[Checked]:
        """The best fit the data do not refute; None: recommend the measured values themselves."""
        return next((c for c in self.checked if not c.refused), None)


def summarize(values: np.ndarray) -> DataSummary:
    x = np.asarray(values, dtype=float)
    n = len(x)
    k = min(max(TAIL_MIN, int(TAIL_SHARE * n)), n - 1)
    top = np.sort(np.partition(x, n - k - 1)[n - k - 1:])[::-1]  # the k + 1 largest, largest first
    spread = float(np.log(top[:k] / top[k]).sum())
    alpha = k / spread if spread > 0 else math.inf
    low = alpha * (1 - 1.96 / math.sqrt(k))
    return DataSummary(n, float(x.mean()), float(np.quantile(x, 0.99)), alpha, low, k)


def subsample(values: np.ndarray) -> np.ndarray:
    """Every value, or a simple random sample of RANK_VALUES of them (seeded)."""
    if len(values) <= RANK_VALUES:
        return values
    return stream(SEED, 0, "fit.subsample").choice(values, RANK_VALUES, replace=False)


def _gap(fitted: float, measured: float) -> float:
    return fitted / measured - 1 if measured > 0 else math.inf


def _problems(fit: Fit, data: DataSummary) -> tuple[str, ...]:

    d = fit.distribution
    out = []
    for what, fitted, measured in (("mean", d.mean, data.mean), ("p99", float(d.ppf(np.array([0.99]))[0]), data.p99)):
        gap = _gap(fitted, measured)
        if not abs(gap) <= TOLERANCE:
            out.append(f"{what} {format_duration(fitted)} is {abs(gap):.0%} {'above' if gap > 0 else 'below'} the "
                       f"data's {format_duration(measured)}")
    if math.isinf(d.variance) and data.finite_variance:
        out.append(f"infinite variance, where the data's tail index {data.tail_index:.2g} (95% interval from "
                   f"{data.tail_low:.2g}) shows a finite one")
    return tuple(out)


def _refit_cdf(family: str, ordered: np.ndarray) -> np.ndarray:
    """Each row (sorted values) refitted by ``family``'s estimator, its fitted CDF at those values."""
    logs = np.log(ordered)
    mean = ordered.mean(axis=1, keepdims=True)
    if family == "exponential":
        return -np.expm1(-ordered / mean)
    if family == "lognormal":
        mu, sigma = logs.mean(axis=1, keepdims=True), logs.std(axis=1, keepdims=True)
        return special.ndtr((logs - mu) / sigma)
    if family == "gamma":
        shape = gamma_shape(np.log(mean[:, 0]) - logs.mean(axis=1))[:, None]
        return special.gammainc(shape, ordered * shape / mean)
    shape, scale = weibull_fit(logs)
    return -np.expm1(-((ordered / scale[:, None]) ** shape[:, None]))


def ks_pvalue(fit: Fit, n: int) -> Optional[float]:
    """The bootstrap p-value of ``fit``'s KS distance on n values (see the module docstring); None for the mixture."""
    if fit.family == "mixture":
        return None
    m = min(n, BOOTSTRAP_VALUES)
    draws = fit.distribution.sample(stream(SEED, 0, f"fit.bootstrap.{fit.family}"), BOOTSTRAP * m)
    ordered = np.sort(draws.reshape(BOOTSTRAP, m) / float(fit.distribution.ppf(np.array([0.5]))[0]), axis=1)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        distances = ks_distance(ordered, _refit_cdf(fit.family, ordered))
    if not np.isfinite(distances).all():  # a refit that failed (values underflowing to 0): no p-value
        return None
    reached = int((math.sqrt(m) * distances >= math.sqrt(n) * fit.ks).sum())
    return (1 + reached) / (BOOTSTRAP + 1)


def check_fits(values: np.ndarray, progress: Callable[[str], None] = lambda line: None) -> FitReport:
    """Fit every family (to a subsample of a large sample), check each against every value, best AIC first."""
    values = np.asarray(values, dtype=float)
    data = summarize(values)
    fitted = subsample(values)
    if len(fitted) < len(values):
        progress(f"fitting a random sample of {len(fitted):,} of the {len(values):,} values")
    skipped: list[tuple[str, str]] = []
    fits = fit_all(fitted, skipped=skipped, progress=progress)
    checked = []
    for fit in fits:
        if fit.family != "mixture":
            progress(f"KS p-value of {fit.family}: refitting {BOOTSTRAP} samples drawn from it")
        checked.append(Checked(fit, fit.distribution.mean, float(fit.distribution.ppf(np.array([0.99]))[0]),
                               ks_pvalue(fit, len(fitted)), _problems(fit, data)))
    return FitReport(data, checked, len(fitted), skipped)


# --- what the command prints ----------------------------------------------------------------------------------
def _shown_p(p: Optional[float]) -> str:
    if p is None:
        return "—"
    return f"≤{1 / (BOOTSTRAP + 1):.3g}" if p <= 1 / (BOOTSTRAP + 1) else f"{p:.2g}"


def _beside(fitted: float, measured: float) -> str:

    gap = _gap(fitted, measured)
    return f"{format_duration(fitted)} ({'±0%' if abs(gap) < 0.005 else f'{gap:+.0%}'})"


def fits_table(report: FitReport):
    """The ranking as a rich Table: the data's mean and p99 first, then per fit its AIC, KS distance and
    bootstrap p-value, mean and p99 beside the data's, and whether the data refute it (its YAML: :func:`yaml_lines`)."""
    from rich.table import Table

    data = report.data
    title = (f"fits by maximum likelihood, best (lowest AIC) first; the data: {data.n:,} values, mean "
             f"{format_duration(data.mean)}, p99 {format_duration(data.p99)}")
    table = Table(title=title, title_justify="left")
    for name, justify in (("#", "right"), ("family", "left"), ("AIC", "right"), ("ΔAIC", "right"), ("KS distance", "right"),
                          ("KS p", "right"), ("mean (vs data)", "right"), ("p99 (vs data)", "right"), ("refused", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    best = report.checked[0].fit.aic if report.checked else 0.0
    for rank, c in enumerate(report.checked, start=1):
        table.add_row(str(rank), c.fit.family, f"{c.fit.aic:,.1f}", f"{c.fit.aic - best:,.1f}", f"{c.fit.ks:.4f}",
                      _shown_p(c.ks_p), _beside(c.mean, data.mean), _beside(c.p99, data.p99),
                      "yes" if c.refused else "no")
    notes = [f"KS p: Lilliefors-corrected by a parametric bootstrap of {BOOTSTRAP} samples (— : none for the mixture)",
             f"refused: mean or p99 more than {TOLERANCE:.0%} from the data's, or an infinite variance the data's "
             "tail does not show"]
    if report.subsampled:
        notes.append(f"fitted and ranked on a random sample of {report.fitted:,} of the {data.n:,} values (seed {SEED}); "
                     "the data's mean and p99 are from every value")
    table.caption = "; ".join(notes)
    table.caption_justify = "left"
    return table


def yaml_lines(report: FitReport) -> list[str]:
    """Each fit as scenario YAML, in the table's order."""
    return [f"{rank}. {c.fit.family}: {c.fit.yaml}" for rank, c in enumerate(report.checked, start=1)]


def recommendation_lines(report: FitReport, measurements) -> list[str]:
    """Why each refused fit is refused; then what to put in a scenario: the best fit not refused, or the measured
    values themselves."""
    lines = [f"refused {c.fit.family}: {'; '.join(c.problems)}" for c in report.checked if c.refused]
    best = report.recommended
    if best is not None:
        rank = report.checked.index(best) + 1
        which = "best fit" if rank == 1 else f"best fit the data do not refute (#{rank} by AIC)"
        return lines + [f"{which}, ready for a scenario (e.g. workload.reads.query_time):", best.fit.yaml]
    lines.append(f"no family fits: each misses the data's mean or p99 by more than {TOLERANCE:.0%}, or has an "
                 "infinite variance the data do not show; use the measured values themselves, ready for a scenario "
                 "(e.g. workload.reads.query_time):")
    return lines + empirical_lines(measurements)


def _yaml_text(text: str) -> str:
    """A string as a YAML flow scalar: plain when that reads back as it is, else double-quoted."""
    import json
    import re

    return text if re.fullmatch(r"[\w./~-]+", text) else json.dumps(text)


def empirical_lines(measurements) -> list[str]:
    """``{dist: empirical, file: ..., column: ..., unit: ...}`` for the measured values, and what it needs."""
    import os

    unit = measurements.unit
    if measurements.source == "-":
        return [f"{{dist: empirical, file: FILE, column: NAME, unit: {unit}}}",
                "(the values came from standard input: save them to FILE, a CSV whose first line is the column's NAME)"]
    path = _yaml_text(os.path.abspath(measurements.source))
    if measurements.column is None:
        return [f"{{dist: empirical, file: {path}, column: NAME, unit: {unit}}}",
                f"(after adding a first line naming the column, NAME, to {measurements.source}: it has no header line)"]
    return [f"{{dist: empirical, file: {path}, column: {_yaml_text(measurements.column)}, unit: {unit}}}"]


__all__ = ["BOOTSTRAP", "Checked", "DataSummary", "FitReport", "RANK_VALUES", "TOLERANCE", "check_fits", "fits_table",
           "ks_pvalue", "recommendation_lines", "yaml_lines", "subsample", "summarize"]
