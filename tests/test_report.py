"""report.html: self-contained, with the table, every plot and a verdict written from the numbers."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from cqrs_sim import plots
from cqrs_sim.cli import app
from cqrs_sim.present.report import cell_states, comparison_table
from cqrs_sim.analysis.verdict import decision, verdict

from .conftest import SCENARIOS


def test_run_report_is_self_contained(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "--replications", "2", "-j", "1", "--report",
            "--set", "duration=4m", "--set", "warmup=20s", "--set", "workload.writes.interval=90s",
            "--set", "workload.writes.apply_time=30s"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "<h2>Verdict</h2>" in page and "netflix-catalog" in page
    assert page.count("src='data:image/png;base64,") == len(plots.PLOTS) - 1  # all but autoscaling: no autoscaler
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched from the network
    assert "read_latency_p999" in page and "visibility_t99" in page
    assert "P99 read latency: cqrs is better" in page  # 30 s uploads block CRUD reads; CQRS reads never wait
    assert "Stale-read fraction: crud is better" in page
    assert "cqrs is better" in result.stdout  # the verdict is printed too
    # the decision leads: latency bought with stale reads and instance time
    assert "CQRS buys lower read latency and pays with stale reads and" in page
    assert "If read latency matters most: CQRS" in page and "If fresh data matters most: CRUD" in page
    assert re.search(r"CQRS costs [\d.]+× the instance-hours", result.stdout)
    assert "Verdict: CQRS buys lower read latency" in result.stdout
    # units: instance-hours, minutes as min, the resolved scenario with its units
    assert " instance-h" in page and "duration: 4min" in page and "warmup: 20s" in page and "duration: 240.0" not in page
    assert "mean over replications of each run's p99" in result.stdout
    assert "class=better" in page and "class=significant" in page


def test_report_command_on_saved_results(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(out), "--no-plots", "--set", "duration=30s", "--set", "warmup=5s"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    page = (out / "report.html").read_text()
    # mmc: CRUD mvcc and CQRS with one replica are the same queue on the same numbers
    assert "Median read latency: the same in both" in page
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not a result directory" in missing.stderr


def _frames(crud, cqrs, low, high, metric="read_latency_p99"):
    summary = pd.DataFrame([{"architecture": "crud", "metric": metric, "mean": crud},
                            {"architecture": "cqrs", "metric": metric, "mean": cqrs}])
    diff = pd.DataFrame([{"metric": metric, "mean": cqrs - crud, "ci_low": low, "ci_high": high, "n": 3}])
    return summary, diff


def test_verdict_rules():
    (_, winner, text), = verdict(*_frames(2.0, 0.02, -3.0, -1.0))
    assert winner == "cqrs" and "100× lower" in text
    (_, winner, text), = verdict(*_frames(0.02, 0.021, -0.001, 0.003))
    assert winner == "none" and "no clear difference" in text
    (_, winner, text), = verdict(*_frames(100.0, 100.2, 0.1, 0.3))
    assert winner == "none" and "practically the same" in text
    (_, winner, _), = verdict(*_frames(0.0, 0.05, 0.03, 0.07, metric="stale_read_fraction"))
    assert winner == "crud"
    (_, winner, text), = verdict(*_frames(0.02, 0.02, 0.0, 0.0))
    assert winner == "none" and "the same in both" in text
    (_, winner, text), = verdict(*_frames(1.0, 0.5, None, None))
    assert winner == "unknown" and "no verdict" in text


def test_a_difference_must_reach_the_smallest_that_counts_for_its_kind():
    """An 85 µs (1.07%) write-latency gap whose interval excludes 0 is not "faster writes" by default (5% for
    times), and the line says which threshold it used; with the scenario's own thresholds it counts."""
    from cqrs_sim.config.scenario import MinDifference

    frames = _frames(0.007944, 0.008029, 0.00005, 0.00012, metric="write_latency_mean")
    (_, winner, text), = verdict(*frames)
    assert winner == "none"
    assert text == ("Mean write latency: practically the same (crud 7.94ms, cqrs 8.03ms; the difference, 85us, is "
                    "under 5% of the larger value, the smallest that counts for times: verdict.min_difference.time).")
    assert "write_latency_mean" not in cell_states(*frames)
    for strict in (MinDifference(time="1%"), MinDifference(time="50us")):
        (_, winner, _), = verdict(*frames, min_difference=strict)
        assert winner == "crud"
        assert cell_states(*frames, min_difference=strict) == {"write_latency_mean": "crud"}
    (_, winner, text), = verdict(*frames, min_difference=MinDifference(time="100us"))
    assert winner == "none" and "under 100us, the smallest that counts for times" in text
    # shares: an amount by default, a tenth of a percentage point
    shares = _frames(0.0, 0.0006, 0.0002, 0.001, metric="stale_read_fraction")
    (_, winner, text), = verdict(*shares)
    assert winner == "none" and "under 0.1 percentage points, the smallest that counts for shares" in text
    (_, winner, _), = verdict(*shares, min_difference=MinDifference(fraction=0.0001))
    assert winner == "crud"


def test_the_decision_says_which_thresholds_it_used(scenario_from):
    summary, diff = _summary({"read_latency_p99": (2.0, 0.02, 0.5)})
    assert decision(summary, diff).endswith(
        "A difference counts when its paired 95% interval excludes 0 and it reaches 5% of the larger value for "
        "times, rates, counts and costs; 0.1 percentage points for shares (verdict.min_difference).")
    scenario = scenario_from("""
        duration: 10s
        workload: {reads: {rate: 1/s, query_time: 1ms}}
        verdict: {min_difference: {time: 2ms, fraction: 1%}}
    """)
    assert decision(summary, diff, scenario=scenario).endswith(
        "it reaches 2ms for times; 1% of the larger value for shares; 5% of the larger value for rates, counts and "
        "costs (verdict.min_difference).")


def _summary(rows: dict[str, tuple[float, float, float]]):
    """Synthetic frames from metric -> (crud, cqrs, half-width of the paired interval); arch intervals ±1%."""
    summary, diff = [], []
    for metric, (crud, cqrs, half) in rows.items():
        for arch, mean in (("crud", crud), ("cqrs", cqrs)):
            summary.append({"architecture": arch, "metric": metric, "mean": mean, "ci_low": mean * 0.99,
                            "ci_high": mean * 1.01, "n": 5})
        d = cqrs - crud
        diff.append({"metric": metric, "mean": d, "ci_low": d - half, "ci_high": d + half, "n": 5})
    return pd.DataFrame(summary), pd.DataFrame(diff)


def test_decision_weighs_latency_against_staleness_and_cost():
    """CQRS wins read latency, loses freshness and costs 9× the instance time: the paragraph says all three."""
    summary, diff = _summary({
        "read_latency_p99": (112.0, 0.021, 2.0),
        "stale_read_fraction": (0.0, 0.088, 0.01),
        "write_latency_mean": (120.0, 120.5, 3.0),  # interval holds 0: no difference
        "replica_seconds": (3600.0, 9 * 3600.0, 10.0),
        "reads_failed": (0.0, 0.0, 0.0),
    })
    text = decision(summary, diff)
    assert text.startswith("CQRS buys lower read latency and pays with stale reads and 9.0× the instance-hours.")
    assert "If read latency matters most: CQRS (p99 21ms vs 112s)." in text
    assert "If fresh data matters most: CRUD (0% stale vs 8.80%)." in text
    assert "If cost matters most: CRUD (1.00 instance-h vs 9.00 instance-h)." in text
    assert "CQRS costs 9.0× the instance-hours." in text
    assert "No significant difference in write latency." in text
    assert "reliability" not in text  # no failed reads anywhere: nothing to weigh
    lines = {metric: (winner, line) for metric, winner, line in verdict(summary, diff)}
    assert lines["replica_seconds"][0] == "crud" and "9.0× lower" in lines["replica_seconds"][1]


def test_each_priority_agrees_with_its_verb():
    """A plural priority takes "matter", a singular one "matters"."""
    summary, diff = _summary({
        "read_latency_p99": (2.0, 0.02, 0.5),
        "monotonic_read_violations": (0.0, 0.05, 0.01),
        "read_your_writes_violations": (0.0, 0.1, 0.01),
    })
    text = decision(summary, diff)
    assert "If monotonic reads matter most: CRUD (" in text and "monotonic reads matters" not in text
    assert "If users seeing their own writes matters most: CRUD (" in text
    assert "If read latency matters most: CQRS (" in text


def test_decision_when_one_design_wins_everything_or_nothing():
    summary, diff = _summary({"read_latency_p99": (2.0, 0.02, 0.5), "replica_seconds": (3600.0, 3000.0, 10.0)})
    assert decision(summary, diff).startswith(
        "CQRS wins on everything that differs significantly: lower read latency and lower cost.")
    summary, diff = _summary({"read_latency_p99": (0.02, 0.021, 0.005), "replica_seconds": (3600.0, 3600.0, 0.0)})
    text = decision(summary, diff)
    assert text.startswith("Neither design wins") and "No significant difference in read latency and cost." in text
    summary, diff = _summary({"read_latency_p99": (2.0, 0.02, 0.5)})
    diff[["ci_low", "ci_high"]] = None  # one replication
    assert "nothing is decided on read latency" in decision(summary, diff)


def test_every_significant_difference_is_highlighted():
    """Not only headline metrics: p95 and a neutral metric are marked too; an unclear difference is not."""
    summary, diff = _summary({
        "read_latency_p95": (1.0, 0.5, 0.1),  # cqrs better
        "staleness_p99": (0.0, 3.0, 0.5),  # cqrs worse
        "read_throughput": (250.0, 200.0, 5.0),  # neutral, significant
        "read_latency_mean": (1.0, 0.99, 0.05),  # interval holds 0
        "write_latency_max": (100.0, 100.2, 0.1),  # significant but under 1%
    })
    assert cell_states(summary, diff) == {"read_latency_p95": "cqrs", "staleness_p99": "crud", "read_throughput": "differs"}
    table = comparison_table(summary, diff, "t")
    metrics, diffs = table.columns[0]._cells, table.columns[-1]._cells
    marked = {m.replace("[bold]", "").replace("[/bold]", ""): d for m, d in zip(metrics, diffs)}
    assert marked["read_latency_p95"].startswith("[green]") and marked["staleness_p99"].startswith("[red]")
    assert marked["read_throughput"].startswith("[bold]")
    assert not marked["read_latency_mean"].startswith("[") and not marked["write_latency_max"].startswith("[")


def test_db_utilization_is_not_called_better():
    summary, diff = _summary({"db_utilization": (0.3, 0.6, 0.05)})
    (_, winner, text), = verdict(summary, diff)
    assert winner == "none" and "cqrs keeps its connections busier" in text and "neither good nor bad" in text


def test_incomplete_run_says_so_and_decides_nothing(tmp_path):
    """CRUD's write lock piles reads past a tiny limits.max_in_system; CQRS finishes. No conclusion is drawn."""
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "--no-plots", "-j", "1", "--report",
            "--replications", "2", "--set", "duration=90s", "--set", "warmup=5s", "--set", "workload.writes.interval=null",
            "--set", "workload.writes.at=[20s]", "--set", "workload.writes.apply_time=40s", "--set", "limits.max_in_system=2000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    table_top = result.stdout.split("┏")[0]
    assert "INCOMPLETE: crud stopped by the runaway guard" in table_top  # above the table, not below it
    assert "Verdict: Incomplete run: no decision. CRUD was stopped by the runaway guard" in result.stdout
    assert "CQRS finished every replication, but is not compared with a stopped run" in result.stdout
    assert "is better" not in result.stdout and "no clear difference" not in result.stdout
    assert "no verdict" in result.stdout  # every metric line says it draws none
    page = (out / "report.html").read_text()
    assert "(incomplete)</span></h1>" in page and "<p class='incomplete'>INCOMPLETE: crud stopped" in page
    assert "<caption class='incomplete'>INCOMPLETE" in page and "Incomplete run: no decision." in page
    assert not re.search(r"(crud|cqrs) is better \(", page) and "class=better" not in page and "class=worse" not in page


def test_capacity_and_sweep_cells_carry_units():
    """A searched rate reads as a rate ± the search's resolution; an integer answer is exact; sweep axes keep units."""
    from types import SimpleNamespace

    from cqrs_sim.cli.capacity import _capacity_answer
    from cqrs_sim.cli.sweep import _sweep_summary

    rate = SimpleNamespace(answer=2623.4375, bracket=(2623.4375, 2697.8))
    assert _capacity_answer("workload.reads.rate", rate) == "2,623/s ± 74/s"
    count = SimpleNamespace(answer=4, bracket=(4, 3))
    assert _capacity_answer("cqrs.replicas.connections", count) == "4"
    assert _capacity_answer("cqrs.replicas.connections", SimpleNamespace(answer=None, bracket=(None, 1))) == "none"
    table = pd.DataFrame([{"metric": m, "architecture": "cqrs", "mean": v, "cqrs.sync.replace_time": 2.0}
                          for m, v in (("read_latency_p99", 0.0231), ("stale_read_fraction", 0.088),
                                       ("visibility_window_mean", 150.0))])
    row = _sweep_summary(table, ["cqrs.sync.replace_time"]).columns
    assert [column._cells[0] for column in row] == ["2s", "23.1ms", "8.80%", "2.5min"]


def test_decision_says_what_drives_it(scenario_from):
    """Given the scenario, the decision ends with the drivers: each design's own query and apply time, and
    CRUD's whole-database lock."""
    scenario = scenario_from("""
        duration: 1m
        workload:
          reads: {rate: 10/s, query_time: 8ms}
          writes: {interval: 20s, apply_time: 10s}
        crud: {locking: exclusive, query_time: {dist: exponential, mean: 12ms}, apply_time: 20s}
        cqrs: {apply_time: 1s, replicas: {query_time: {dist: exponential, mean: 2ms}}}
        """)
    summary, diff = _summary({"read_latency_p99": (2.0, 0.02, 0.5)})
    text = decision(summary, diff, scenario=scenario)
    assert text.endswith("Why: CQRS reads are 6.0× cheaper on the read model (mean query 2ms against 12ms on CRUD's "
                         "schema). CQRS writes apply 20× faster (mean 1s against 20s on CRUD). Each CRUD write locks "
                         "the whole database while it applies (mean 20s): reads arriving meanwhile wait for it.")
    same = scenario_from("""
        duration: 1m
        crud: {replicas: 2}
        workload: {reads: {rate: 10/s, query_time: 8ms}}
        """)
    assert "Why:" not in decision(summary, diff, scenario=same)  # nothing differs but the architecture
