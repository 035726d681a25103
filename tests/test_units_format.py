"""The one formatting rule: every value shown to a user is written by its kind (duration, rate, fraction, instance time)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cqrs_sim.core.intervals import compare, contains, finite_or_none, json_value
from cqrs_sim.config.loader import dump_yaml, load_scenario, parse_scenario
from cqrs_sim.config.resolved import resolved_dict
from cqrs_sim.config.format import format_duration, format_fraction, format_instance_time, format_rate
from cqrs_sim.analysis.values import format_interval, format_value, kind_of
from cqrs_sim.config.units import parse_duration, parse_rate
from cqrs_sim.config.paths import with_units

from .conftest import SCENARIOS


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (2e-5, "20us"), (0.0042, "4.2ms"), (0.021, "21ms"), (3.5, "3.5s"), (112.0, "112s"),
    (124.2, "2.07min"), (3480.0, "58min"), (10800.0, "3h"), (-0.5, "-500ms"), (math.nan, "-"),
])
def test_durations_across_units(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (0.9994, "999ms"), (0.9995, "1s"), (0.99999, "1s"), (1.0, "1s"), (0.0009996, "1ms"), (3599.9, "1h"),
    (119.96, "2min"), (-0.9996, "-1s"),
])
def test_a_duration_that_rounds_up_to_the_next_unit_is_written_in_it(seconds, text):
    assert format_duration(seconds) == text and "1,000" not in format_duration(seconds)


def test_minutes_never_read_as_m():
    assert all(not format_duration(s).endswith("m") or format_duration(s).endswith("ms") for s in (130, 600, 3599, 7000))


@pytest.mark.parametrize("seconds, text", [(3600.0, "1h"), (90.0, "90s"), (1800.0, "30min"), (0.004, "4ms"),
                                           (0.0042, "4.2ms"), (86400.0, "24h"), (2.0, "2s"), (1234.5, "20.575min"), (1e5, "100000s")])
def test_exact_durations_keep_every_digit_and_reload(seconds, text):
    """A set value is written exactly, and reads back to the same number."""
    assert format_duration(seconds, exact=True) == text
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-6)


@pytest.mark.parametrize("rate, text", [(2660.4, "2,660/s"), (250.0, "250/s"), (0.5, "30/min"), (1 / 900, "4/h"),
                                        (0.0, "0/s")])
def test_rates(rate, text):
    assert format_rate(rate) == text
    assert parse_rate(text.replace(",", "")) == pytest.approx(rate, rel=1e-3)


@pytest.mark.parametrize("value, text", [(0.0, "0%"), (0.088, "8.80%"), (0.4, "40.00%"), (0.9995, "99.95%"),
                                         (0.0005, "0.05%")])
def test_fractions(value, text):
    assert format_fraction(value) == text


def test_instance_time_is_in_instance_hours_not_a_duration():
    assert format_instance_time(8.7 * 3600) == "8.70 instance-h"
    assert format_instance_time(220.0) == "0.0611 instance-h"
    assert format_instance_time(250 * 3600) == "250 instance-h"
    assert format_value("replica_seconds", 8.7 * 3600) == "8.70 instance-h"  # not "8.7h": it is not a time span


def test_metric_values_by_kind():
    assert kind_of("read_latency_p99") == "duration" and format_value("read_latency_p99", 0.0231) == "23.1ms"
    assert kind_of("read_throughput") == "rate" and format_value("read_throughput", 2660.0) == "2,660/s"
    assert kind_of("stale_read_fraction") == "fraction" and format_value("stale_read_fraction", 0.4) == "40.00%"
    assert kind_of("reads_completed") == "count" and format_value("reads_completed", 120000.0) == "120,000"
    assert kind_of("replica_seconds") == "instance_time"
    assert format_value("read_latency_p99", None) == "-" and format_value("read_latency_p99", math.nan) == "-"


def test_scenario_values_by_path():
    """A sweep axis or a capacity answer is written in its path's unit."""
    assert kind_of("cqrs.sync.replace_time") == "distribution" and format_value("cqrs.sync.replace_time", 2.0) == "2s"
    assert kind_of("workload.reads.rate") == "rate_steps" and format_value("workload.reads.rate", 2660.0) == "2,660/s"
    assert kind_of("workload.writes.rate") == "rate" and format_value("workload.writes.rate", 1 / 600) == "6/h"
    assert kind_of("duration") == "duration" and format_value("warmup", 120.0) == "2min"
    assert kind_of("workload.writes.at.1") == "duration"
    assert kind_of("cqrs.replicas.count") is None and format_value("cqrs.replicas.count", 8) == "8"
    assert kind_of("workload.reads.query_time.cv") is None


def test_intervals_keep_the_means_unit():
    assert format_interval("read_throughput", 2660.0, 2586.0, 2734.0) == "2,660/s ± 74/s"
    assert format_interval("read_latency_p99", 112.0, 110.0, 114.0) == "112s ± 2s"
    assert format_interval("staleness_max", 210.0, 209.85, 210.15) == "3.5min ± 150ms"
    assert format_interval("stale_read_fraction", 0.088, 0.078, 0.098) == "8.80% ± 1%"
    assert format_interval("replica_seconds", 31320.0, 31300.0, 31340.0) == "8.70 ± 0.0056 instance-h"
    assert format_interval("read_latency_p99", 0.02, None, math.nan) == "20ms"  # no interval: the mean alone
    assert format_interval("read_latency_p99", 0.02, 0.02, 0.02) == "20ms"  # identical replications
    # a half-width far below the mean's last digit is dropped, as for identical replications
    assert format_interval("replica_seconds", 9000.0, 9000.0 - 0.1224, 9000.0 + 0.1224) == "2.50 instance-h"
    assert format_interval("cost_per_hour", 2.5, 2.5 - 3.4e-5, 2.5 + 3.4e-5) == "2.50/h"
    assert format_interval("cost_per_hour", 2.5, 2.5 - 3.4e-3, 2.5 + 3.4e-3) == "2.50 ± 0.0034/h"
    assert format_interval("stale_read_fraction", 0.088, 0.088 - 1e-7, 0.088 + 1e-7) == "8.80%"
    assert format_interval("read_throughput", 2660.0, 2660.0 - 0.01, 2660.0 + 0.01) == "2,660/s"
    # a capacity answer: the searched value, three digits, ± the search's resolution
    assert format_interval("workload.reads.rate", 2623.4375, 2549.0, 2697.9) == "2,623/s ± 74/s"


def test_resolved_yaml_is_shown_with_units():
    """The report's scenario: every duration and rate with its unit, and it still loads as the same scenario."""
    scenario = load_scenario(SCENARIOS / "netflix.yaml")
    text = dump_yaml(with_units(resolved_dict(scenario)))
    for line in ("duration: 1h", "warmup: 2min", "bin: 18s", "- [0s, 250/s]", "retry_backoff: 0s",
                 "handler_time: {dist: exponential, mean: 1ms}", "query_time: {dist: lognormal, mean: 4ms, cv: 1.0}",
                 "interval: {dist: uniform, low: 10min, high: 20min}", "replace_time: {dist: normal, mean: 20s, sd: 4s}",
                 "connections: 32", "max_in_system: 1000000"):
        assert line in text, line
    assert "3600.0" not in text and "120.0" not in text
    assert resolved_dict(parse_scenario(text, "<with units>")) == resolved_dict(scenario)


def test_resolved_yaml_units_for_diurnal_rates_and_write_times():
    scenario = parse_scenario("""
duration: 2h
workload:
  reads: {rate: {diurnal: {mean: 300/s, amplitude: 0.5, period: 1h}}, query_time: 4ms}
  writes: {at: [90s, 30m], apply_time: {dist: empirical, samples: [1s, 1500ms]}}
""", "<diurnal>")
    text = dump_yaml(with_units(resolved_dict(scenario)))
    assert "diurnal: {mean: 300/s, amplitude: 0.5, period: 1h, phase: 0s}" in text
    assert "at: [90s, 30min]" in text and "samples: [1s, 1.5s]" in text
    assert resolved_dict(parse_scenario(text, "<again>")) == resolved_dict(scenario)


def test_nan_to_none_and_the_significance_rule():
    import numpy as np

    assert finite_or_none(math.nan) is None and finite_or_none(None) is None and finite_or_none(np.float64(2)) == 2.0
    assert json_value(np.int64(3)) == 3 and isinstance(json_value(np.int64(3)), int) and json_value(math.inf) is None
    assert contains(1, 3, 2) and not contains(1, 3, 4) and not contains(None, 3, 2)
    assert compare(2.0, 0.02, -1.98, -3.0, -1.0) == "significant"
    assert compare(0.02, 0.021, 0.001, -0.001, 0.003) == "unclear"
    assert compare(100.0, 100.2, 0.2, 0.1, 0.3) == "negligible"
    assert compare(0.02, 0.02, 0.0, 0.0, 0.0) == "same"
    assert compare(1.0, 0.5, -0.5, None, math.nan) == "unknown"


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1e9, allow_nan=False))
def test_exact_duration_and_rate_read_back_exactly(value):
    """A set value written with its unit (the report's resolved scenario) parses back to it, to the last bits of a unit's product."""
    from cqrs_sim.config.units import parse_duration, parse_rate

    assert math.isclose(parse_duration(format_duration(value, exact=True).replace(",", "")), value, rel_tol=1e-12)
    assert math.isclose(parse_rate(format_rate(value, exact=True).replace(",", "")), value, rel_tol=1e-12)
