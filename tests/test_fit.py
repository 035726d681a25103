"""``cqrs-sim fit``: maximum-likelihood fits recover the parameters that generated the data, and print usable YAML.

The recovery tests draw 20,000 values from a known distribution (its own
named stream) and check each fitted parameter against the one that drew
them, within 5%: a check against the truth, not a pinned number.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from cqrs_sim.cli import app
from cqrs_sim.config.distributions import Distribution
from cqrs_sim.experiments.fit import fit_all, fit_family
from cqrs_sim.experiments.fitcheck import check_fits
from cqrs_sim.config.loader import parse_scenario
from cqrs_sim.workload.streams import stream

runner = CliRunner()
DIST = TypeAdapter(Distribution)
N = 20_000

TRUE = {
    "exponential": {"dist": "exponential", "mean": "8ms"},
    "lognormal": {"dist": "lognormal", "mean": "8ms", "cv": 1.5},
    "gamma": {"dist": "gamma", "mean": "8ms", "cv": 0.6},
    "weibull": {"dist": "weibull", "mean": "8ms", "cv": 0.7},
    # PBS-style: a Pareto body and an exponential tail
    "mixture": {"dist": "mixture", "components": [{"weight": 0.7, "dist": "pareto", "scale": "2ms", "shape": 3},
                                                  {"weight": 0.3, "dist": "exponential", "mean": "20ms"}]},
}


def _parameters(distribution) -> dict[str, float]:
    """Every fitted parameter by name (a mixture's by component)."""
    data = distribution.model_dump(by_alias=True, exclude_none=True)
    if data["dist"] == "mixture":
        out = {}
        for component in data["components"]:
            out.update({f"{component['dist']}.{k}": v for k, v in component.items() if k != "dist"})
        return out
    return {k: v for k, v in data.items() if k != "dist"}


def _sample(family: str) -> np.ndarray:
    return DIST.validate_python(TRUE[family]).sample(stream(7, 0, f"fit.{family}"), N)


@pytest.fixture(scope="module")
def fits() -> dict[str, object]:
    return {family: fit_family(_sample(family), family) for family in TRUE}


@pytest.mark.parametrize("family", list(TRUE))
def test_fit_recovers_known_parameters(fits, family):
    """Each parameter of the fit lies within 5% of the one that generated the 20,000 values."""
    truth = _parameters(DIST.validate_python(TRUE[family]))
    fitted = _parameters(fits[family].distribution)
    assert set(fitted) == set(truth)
    for name, value in truth.items():
        assert fitted[name] == pytest.approx(value, rel=0.05), (name, fitted, truth)


@pytest.mark.parametrize("family", list(TRUE))
def test_yaml_snippet_loads_as_a_scenario_distribution_with_the_same_mean(fits, family):
    fit = fits[family]
    scenario = parse_scenario(f"duration: 10s\nworkload:\n  reads:\n    rate: 5/s\n    query_time: {fit.yaml}\n")
    loaded = scenario.workload.reads.query_time
    assert loaded.dist == family
    assert loaded.mean == pytest.approx(fit.distribution.mean, rel=1e-3)


def test_ranking_puts_the_generating_family_first():
    """On a lognormal sample and on a Pareto+exponential sample the generating family has the lowest AIC,
    its KS distance is the smallest, the data do not refute it, and it is recommended."""
    for family in ("lognormal", "mixture"):
        ranked = fit_all(_sample(family))
        assert [f.family for f in ranked][0] == family
        assert ranked[0].ks == min(f.ks for f in ranked)
        assert [f.aic for f in ranked] == sorted(f.aic for f in ranked)
        report = check_fits(_sample(family))
        assert report.recommended is report.checked[0] and report.checked[0].fit.family == family
    assert check_fits(_sample("mixture")).checked[0].ks_p is None  # no bootstrap p-value for the mixture


def test_log_likelihood_is_that_of_the_scenario_distribution():
    """The reported log-likelihood is the data's under the fitted distribution (checked with scipy's own pdf)."""
    from scipy import stats

    x = _sample("gamma")
    fit = fit_family(x, "gamma")
    d = fit.distribution
    shape = 1 / d.cv**2
    assert fit.log_likelihood == pytest.approx(stats.gamma(shape, scale=d.mean / shape).logpdf(x).sum(), rel=1e-6)
    assert fit.aic == pytest.approx(4 - 2 * fit.log_likelihood)


def test_fit_command_prints_the_table_and_snippet_and_writes_the_plot(tmp_path):
    x = _sample("lognormal") * 1000
    pd.DataFrame({"query_ms": x, "host": "a"}).to_csv(tmp_path / "q.csv", index=False)
    plot = tmp_path / "q.png"
    result = runner.invoke(app, ["fit", str(tmp_path / "q.csv"), "--column", "query_ms", "--unit", "ms", "-o", str(plot)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    snippet = lines[lines.index("best fit, ready for a scenario (e.g. workload.reads.query_time):") + 1]
    assert snippet.startswith("{dist: lognormal, mean: ") and "ms, cv: 1." in snippet
    assert "exponential" in result.stdout and "weibull" in result.stdout and "mixture" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {plot}" in result.stdout


def test_fit_reads_numbers_from_stdin(tmp_path):
    x = _sample("exponential")
    result = runner.invoke(app, ["fit", "-", "-o", str(tmp_path / "e.svg")], input="\n".join(f"{v:.9g}" for v in x))
    assert result.exit_code == 0, result.output
    mean = float(np.mean(x))
    assert f"{{dist: exponential, mean: {mean * 1000:.4g}ms}}" in result.stdout
    assert (tmp_path / "e.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("args, data, location, words", [
    (["missing.csv"], None, "missing.csv: (file)", "no such file"),
    (["d.csv"], "a,b\n1,2\n", "d.csv:1:1: (file)", "has 2 columns (a, b): name one with --column NAME"),
    (["d.csv", "--unit", "hours"], "a\n1\n", "--unit hours: (--unit)", "unknown unit; use one of s, ms, us"),
    (["d.csv", "--column", "c"], "a,b\n1,2\n", "d.csv:1:1: c", "has no column 'c' (columns: a, b)"),
    (["d.csv"], "a\n1\n2\nslow\n", "d.csv:4:1: a", "not a finite number: 'slow'"),
    (["d.csv"], "a\n1\n0\n", "d.csv:3:1: a", "a time must be positive to fit, got 0"),
    (["d.csv"], "a\n1\n2\n", "d.csv: a", "needs at least 10 values to fit, got 2"),
    (["d.csv", "-o", "plot.txt"], "a\n1\n", "plot.txt: (output)", "give a .png, .svg or .pdf file"),
])
def test_bad_fit_input_is_one_located_line(tmp_path, monkeypatch, args, data, location, words):
    """Exit 2, one line naming the file (and line), nothing written."""
    monkeypatch.chdir(tmp_path)
    if data is not None:
        (tmp_path / "d.csv").write_text(data, encoding="utf-8")
    before = set(tmp_path.iterdir())
    result = runner.invoke(app, ["fit", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines == [lines[0]] and lines[0].startswith(f"error: {location}: "), lines
    assert words in lines[0]
    assert set(tmp_path.iterdir()) == before


def test_fit_never_replaces_a_plot_without_force(tmp_path):
    x = "\n".join(str(v) for v in _sample("gamma")[:200])
    plot = tmp_path / "p.png"
    plot.write_bytes(b"mine")
    result = runner.invoke(app, ["fit", "-", "-o", str(plot)], input=x)
    assert result.exit_code == 2 and "pass --force" in result.stderr
    assert plot.read_bytes() == b"mine"
    assert runner.invoke(app, ["fit", "-", "-o", str(plot), "--force"], input=x).exit_code == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_weibull_mean_and_cv_give_its_shape():
    """Weibull's shape 1 is the exponential (cv 1); shape 2 is the Rayleigh, cv = sqrt(4/pi - 1)."""
    assert DIST.validate_python({"dist": "weibull", "mean": 1, "cv": 1}).shape == pytest.approx(1, rel=1e-9)
    rayleigh = DIST.validate_python({"dist": "weibull", "mean": 1, "cv": math.sqrt(4 / math.pi - 1)})
    assert rayleigh.shape == pytest.approx(2, rel=1e-9)


def test_a_family_the_schema_cannot_hold_is_left_out_and_said_why():
    """A lognormal of sigma 4 has cv about 3,000, past the schema's 100: the others are still fitted and ranked."""
    x = np.random.default_rng(1).lognormal(0, 4, 2000) * 1e-3
    skipped: list = []
    fits = fit_all(x, skipped=skipped)
    assert skipped == [("lognormal", "cv: Input should be less than or equal to 100")]
    assert {f.family for f in fits} == {"exponential", "gamma", "weibull", "mixture"}


def test_em_returns_the_log_likelihood_of_the_parameters_it_returns():
    """Stopped at its iteration cap, EM's log-likelihood must be that of the weight, shape and mean it returns
    (scipy's Pareto and exponential densities), not of the step before."""
    from scipy import stats

    from cqrs_sim.experiments.fit import _mixture_em

    x = _sample("mixture") / 0.002
    scale = float(np.quantile(x, 0.3))
    for iterations in (1, 2, 5):
        log_lik, weight, shape, mean = _mixture_em(x, np.log(x), scale, iterations)
        density = weight * stats.pareto(shape, scale=scale).pdf(x) + (1 - weight) * stats.expon(scale=mean).pdf(x)
        assert log_lik == pytest.approx(float(np.log(density).sum()), rel=1e-10), iterations


def _outliers(n: int = 20_000) -> np.ndarray:
    """Query times in ms: lognormal with median 2.6 ms (σ 0.5), and 1% outliers uniform on 0.2–2 s."""
    rng = np.random.default_rng(5)
    x = np.exp(math.log(2.6) + 0.5 * rng.standard_normal(n))
    x[: n // 100] = rng.uniform(200, 2000, n // 100)
    return rng.permutation(x)


def test_fit_never_recommends_what_the_data_refute(tmp_path):
    """Lognormal query times with 1% outliers at 0.2–2 s: mean 13.9 ms, but no family matches both the mean and
    the p99 within 10% (the best by AIC, the mixture, has half the data's mean), so the recommendation is the
    measured values themselves, from the file; each candidate's mean and p99 stand beside the data's."""
    x = _outliers()
    pd.DataFrame({"query_ms": x}).to_csv(tmp_path / "q.csv", index=False)
    result = runner.invoke(app, ["fit", str(tmp_path / "q.csv"), "--unit", "ms", "-o", str(tmp_path / "q.png")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    mean, p99 = x.mean() / 1000, np.quantile(x, 0.99) / 1000
    report = check_fits(x / 1000)
    assert report.data.mean == pytest.approx(mean) and report.data.p99 == pytest.approx(p99)
    assert all(c.refused for c in report.checked) and report.recommended is None
    for c in report.checked:  # every refusal is a gap of more than 10% (or an infinite variance) that is real
        gaps = [abs(c.mean / mean - 1), abs(c.p99 / p99 - 1)]
        assert max(gaps) > 0.10 or math.isinf(c.fit.distribution.variance)
    assert "best fit, ready for a scenario" not in out
    lines = out.splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("no family fits"))
    assert lines[at + 1] == f"{{dist: empirical, file: {tmp_path / 'q.csv'}, column: query_ms, unit: ms}}"
    assert f"mean {_ms(mean)}" in out and f"p99 {_ms(p99)}" in out  # the data's, in the table's title
    assert sum(line.startswith("refused ") for line in lines) == 5
    # the snippet is a scenario distribution holding exactly the measured values
    snippet = lines[at + 1]
    loaded = parse_scenario(f"duration: 10s\nworkload:\n  reads:\n    rate: 5/s\n    query_time: {snippet}\n")
    assert loaded.workload.reads.query_time.mean == pytest.approx(mean)


def _ms(seconds: float) -> str:
    from cqrs_sim.config.format import format_duration

    return format_duration(seconds)


def test_gamma_and_weibull_are_fitted_by_maximum_likelihood():
    """Newton's solutions of the likelihood equations: a likelihood at least scipy's own fit's (to 1e-9)."""
    from scipy import stats

    for family, dist in (("gamma", stats.gamma), ("weibull", stats.weibull_min)):
        x = _sample(family)
        fit = fit_family(x, family)
        shape, _, scale = dist.fit(x, floc=0)
        assert fit.log_likelihood >= dist(shape, scale=scale).logpdf(x).sum() - 1e-9 * abs(fit.log_likelihood)


def test_a_headerless_file_of_one_column_is_read_whole(tmp_path):
    """A first line that reads as a number (or a duration) is a value, not a column's name: all 200 values are
    fitted, and the output says the file had no header line."""
    x = _sample("exponential")[:200]
    (tmp_path / "raw.csv").write_text("".join(f"{v:.9g}\n" for v in x))
    result = runner.invoke(app, ["fit", str(tmp_path / "raw.csv"), "-o", str(tmp_path / "raw.png")])
    assert result.exit_code == 0, result.output
    assert "the data: 200 values" in result.stdout
    assert "has no header line: every line, the first too, was read as a value" in result.stdout
    assert f"{{dist: exponential, mean: {np.mean(x) * 1000:.4g}ms}}" in result.stdout


@pytest.mark.parametrize("data, args, words", [
    ("0.003,0.004\n0.005,0.006\n", [], "d.csv:1:1: (file): has no header line: its first line holds values (0.003, 0.004)"),
    ("3ms\n4ms\n", ["--column", "t"], "d.csv:1:1: t: has no header line (its first line is the value '3ms'), so no column 't'"),
])
def test_a_headerless_file_that_cannot_be_read_whole_is_refused(tmp_path, monkeypatch, data, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text(data)
    result = runner.invoke(app, ["fit", "d.csv", *args])
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line] == [result.stderr.splitlines()[0]]
    assert result.stderr.startswith(f"error: {words}")


def _run_result(directory):
    """A directory as `run` leaves it (what outdir recognises as a complete result)."""
    directory.mkdir()
    (directory / "scenario.yaml").write_text("name: x\n")
    (directory / "manifest.json").write_text('{"scenario_sha256": "0"}\n')


@pytest.mark.parametrize("kind, make", [
    ("result", _run_result),
    ("sweep directory", lambda d: (d.mkdir(), (d / "sweep.json").write_text("{}"))),
    ("optimize directory", lambda d: (d.mkdir(), (d / "optimize.json").write_text("{}"))),
])
def test_fit_never_writes_its_plot_into_another_commands_result(tmp_path, kind, make):
    """Not into the result directory, nor below it: one line, exit 2, the directory untouched."""
    make(tmp_path / "res")
    (tmp_path / "res" / "plots").mkdir()
    before = sorted(p.name for p in (tmp_path / "res").rglob("*"))
    data = "\n".join(str(v) for v in _sample("gamma")[:100])
    for target in (tmp_path / "res" / "fit.png", tmp_path / "res" / "plots" / "fit.png"):
        result = runner.invoke(app, ["fit", "-", "-o", str(target)], input=data)
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [f"error: {target}: (output): is inside the cqrs-sim {kind} "
                                              f"{tmp_path / 'res'}; give a file outside it"]
    assert sorted(p.name for p in (tmp_path / "res").rglob("*")) == before


def test_a_large_sample_is_fitted_on_a_stated_subsample_with_progress(tmp_path, monkeypatch):
    """Past RANK_VALUES values the families are fitted on a seeded random sample, and the output says so; the
    data's mean and p99 come from every value; an input past PROGRESS_BYTES reports what it does on stderr."""
    from cqrs_sim.experiments import fitcheck
    from cqrs_sim.experiments import fitio

    monkeypatch.setattr(fitcheck, "RANK_VALUES", 1_000)
    monkeypatch.setattr(fitio, "PROGRESS_BYTES", 10_000)
    x = _sample("lognormal")[:5_000]
    (tmp_path / "big.csv").write_text("t\n" + "".join(f"{float(v)!r}\n" for v in x))
    result = runner.invoke(app, ["fit", str(tmp_path / "big.csv"), "-o", str(tmp_path / "big.png")])
    assert result.exit_code == 0, result.output
    assert "fitted and ranked on a random sample of 1,000 of the 5,000 values (seed 0)" in " ".join(result.stdout.split())
    assert f"the data: 5,000 values, mean {_ms(x.mean())}" in result.stdout
    progress = result.stderr.splitlines()
    assert progress[:3] == [f"reading {tmp_path / 'big.csv'} (0.1 MB)", "read 5,000 values",
                            "fitting a random sample of 1,000 of the 5,000 values"]
    assert "fitting mixture (5/5) to 1,000 values" in progress
    again = check_fits(x)
    assert again.fitted == 1_000 and [c.fit for c in again.checked] == [c.fit for c in check_fits(x).checked]


def test_the_fast_readers_give_the_text_readers_numbers(tmp_path):
    """The C parser's floats are the text reader's, bit for bit (CSV and standard input)."""
    from cqrs_sim.config.datafile import numbers, read_column, read_lines
    from cqrs_sim.experiments.fitio import read_measurements

    x = _sample("weibull")[:3000] * 1000
    text = "".join(f"{float(v)!r}\n" for v in x)
    (tmp_path / "w.csv").write_text("t\n" + text)
    np.testing.assert_array_equal(read_measurements(str(tmp_path / "w.csv")).values, numbers(read_column(tmp_path / "w.csv", "t")))
    np.testing.assert_array_equal(read_measurements("-", stdin=text).values, read_lines(text))


def test_the_plot_marks_refused_fits_and_a_sampled_cdf():
    from cqrs_sim.plots.fit import fit_plot

    x = _sample("lognormal")[:2000]
    fits = fit_all(x, families=("lognormal", "exponential"))
    figure = fit_plot(x, fits, "q", frozenset({"exponential"}), of=10_000)
    cdf_ax = figure.axes[0]
    labels = [line.get_label() for line in cdf_ax.get_lines()]
    assert labels[0] == "measured (2,000, a random sample of 10,000)"
    assert labels[1].endswith(")") and "refused" not in labels[1] and labels[2].endswith(", refused)")
    assert cdf_ax.get_lines()[2].get_linestyle() == "--" and cdf_ax.get_lines()[1].get_linestyle() == "-"
