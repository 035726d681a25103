"""One event budget: every kind of event a run schedules is counted when the scenario loads, and a run too
large to simulate (or to hold) is refused with one located line naming the key that drives it.

The commands that once ran forever (failures every picosecond) or grew memory without a word (an autoscaler
deciding every microsecond) run in a child process capped in time and memory, so a regression fails instead of
hanging. The expected counts are also checked against what the model really schedules in small runs.
"""

from __future__ import annotations

import math

import pytest

import cqrs_sim
from cqrs_sim.config.events import budget_problems, expected_rollouts, run_kinds
from cqrs_sim.model import run_architecture
from cqrs_sim.workload.draws import write_workload

from .conftest import SCENARIOS
from .test_hostile_input import child, cli, one_error, scenario_file

#: the shipped quick start, shortened as a user trying things would
BASE = """\
name: base
duration: 20s
replications: 2
workload:
  reads:
    rate: 250/s
    handler_time: {dist: exponential, mean: 1ms}
    query_time: {dist: lognormal, mean: 4ms, cv: 1.0}
  writes:
    interval: {dist: uniform, low: 10m, high: 20m}
    apply_time: {dist: lognormal, mean: 2m, cv: 0.3}
"""


def test_failures_every_picosecond_are_refused_at_the_mtbf_key(tmp_path):
    """`run` with mtbf and mttr of 1e-12 s on projecting replicas used to simulate forever ("ETA 0s": with no write
    to replay yet, a repaired replica is back at once): now one located line, exit 2."""
    path = scenario_file(tmp_path, BASE + "cqrs:\n  sync: {strategy: projection}\n"
                                          "  replicas:\n    failures: {mtbf: 1e-12, mttr: 1e-12}\n")
    proc = child("run", path, "-o", tmp_path / "out", "-j", "1", seconds=120)
    one_error(proc, f"{path}:15:22: cqrs.replicas.failures.mtbf: ",
              "a failure every 1e-06us (mean, then 1e-06us down, ",
              "on each of 8 read replicas over duration 20s gives about 80,000,000,000,000 failures per run",
              "exceeds limits.max_events (1,000,000,000); raise it with --set limits.max_events=N")
    assert not (tmp_path / "out").exists()


def test_an_autoscaler_deciding_every_microsecond_is_refused_before_it_grows_memory(tmp_path):
    """`cqrs.autoscale.interval: 1us` used to run, keeping a row per decision (13 MB/s): now refused by max_rows."""
    path = scenario_file(tmp_path, BASE + "cqrs:\n  autoscale: {max: 12, interval: 1us}\n")
    proc = child("run", path, "-o", tmp_path / "out", "-j", "1", seconds=120)
    one_error(proc, f"{path}:13:34: cqrs.autoscale.interval: ",
              "a decision every 1us over duration 20s gives about 20,000,000 autoscaler decisions per run, each kept "
              "in memory until the run ends", "exceeds limits.max_rows (10,000,000)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("assignment, key, words", [
    ("cqrs.autoscale.interval=1e-12", "cqrs.autoscale.interval", "autoscaler decisions per run"),
    ("crud.replica_autoscale.interval=1e-9", "crud.replica_autoscale.interval", "autoscaler decisions per run"),
    ("crud.failures.mtbf=1e-9", "crud.failures.mtbf", "on each of 3 instances (the primary and its read replicas)"),
    ("crud.replication_stalls.every=1e-9", "crud.replication_stalls.every", "stalls per run"),
    ("cqrs.write_server_failures.mtbf=1e-9", "cqrs.write_server_failures.mtbf", "on each of 2 write servers"),
    ("cqrs.replicas.failures.mtbf=1e-9", "cqrs.replicas.failures.mtbf", "each of 4 read replicas"),
])
def test_every_periodic_source_is_counted_and_named(tmp_path, assignment, key, words):
    """Each source of periodic events (autoscalers, failures of every kind of instance, stalls) counts against the
    budget, and the error points at its own key (the times down are 1 ns: a failure every 1 ns is then absurd)."""
    path = scenario_file(tmp_path, BASE + """\
crud:
  replicas: 2
  failures: {mtbf: 1h, mttr: 1e-9}
  replication_stalls: {every: 10m, duration: 1e-9}
  replica_autoscale: {min: 1, max: 6, interval: 1m}
cqrs:
  write_servers: 2
  write_server_failures: {mtbf: 1h, mttr: 1e-9}
  replicas: {count: 4, failures: {mtbf: 1h, mttr: 1e-9}}
  autoscale: {min: 1, max: 6, interval: 1m}
""")
    result = cli("check", path, "--set", assignment, seconds=60)
    one_error(result, f"--set {assignment}: {key}: ", words, "raise it with --set limits.max_")


@pytest.mark.parametrize("extra, kind", [
    ("cqrs:\n  replicas: {count: 1000}\n  sync: {strategy: projection}\n", "projection applies"),
    ("cqrs:\n  replicas: {count: 1000}\n  sync: {strategy: all_at_once, replace_time: 1e-9, drain: false}\n",
     "rollout swaps"),
    ("architectures: [crud]\ncrud: {replicas: 1000, replication_lag: 1ms}\n", "replica applies"),
])
def test_writes_times_replicas_are_counted_at_the_write_key(tmp_path, extra, kind):
    """Work done per write and replica (projection applies, rollout swaps, streaming applies) counts too: 2 million
    writes, each applied by 1,000 replicas, is refused at the key that sets the writes."""
    path = scenario_file(tmp_path, BASE + extra)
    result = cli("check", path, "--set", "workload.writes.interval=1e-5", "--set", "workload.writes.apply_time=1e-9",
                 seconds=60)
    line = one_error(result, "--set workload.writes.interval=1e-5: workload.writes.interval: ", kind,
                     "exceeds limits.max_events")
    assert "1,000 " in line, line


def test_retries_of_reads_that_always_time_out_are_counted(tmp_path):
    """A timeout shorter than any query with 100 retries: every read makes 101 attempts (2 billion for 20 million
    reads), refused at the retries key; with one retry, 20 million retries."""
    path = scenario_file(tmp_path, BASE)
    args = ["--set", "workload.reads.rate=1000000/s", "--set", "workload.reads.timeout=1e-9"]
    result = cli("check", path, *args, "--set", "workload.reads.retries=100", seconds=60)
    one_error(result, "--set workload.reads.retries=100: workload.reads.retries: ",
              "about 101 attempts per read (100 retries after a timeout of 0.001us)",
              "gives about 2,000,000,000 read retries per run", "exceeds limits.max_events")
    scenario = cqrs_sim.load_scenario(path, [a for a in args if a != "--set"] + ["workload.reads.retries=1",
                                                                                   "limits.max_rows=100000000"])
    assert {k.name: k.count for k in run_kinds(scenario, "crud")}["read retries"] == pytest.approx(20_000_000)


def test_kinds_under_the_limit_alone_are_refused_together_naming_the_largest(tmp_path):
    """6.7 million writes and 5.3 million read-backs (each kept until the run ends) fit max_rows alone, not
    together."""
    path = scenario_file(tmp_path, BASE + "cqrs:\n  sync: {strategy: projection}\n  replicas: {count: 1}\n")
    result = cli("check", path, "--set", "workload.writes.interval=3us", "--set", "workload.writes.apply_time=1e-9",
                 "--set", "workload.writes.read_back.probability=0.8", seconds=60)
    one_error(result, "--set workload.writes.interval=3us: workload.writes.interval: ",
              "gives about 6,666,667 writes per run; with every other kind, a crud run has about 12,000,000 rows kept "
              "in memory until the run ends, which exceeds limits.max_rows (10,000,000)")


def test_raising_the_limit_lets_it_through(tmp_path):
    path = scenario_file(tmp_path, BASE + "cqrs:\n  autoscale: {max: 12, interval: 1us}\n")
    result = cli("check", path, "--set", "limits.max_rows=30000000", seconds=60)
    assert result.exit_code == 0, result.output


def test_the_budget_cannot_be_raised_past_what_simulated_time_resolves(tmp_path):
    result = cli("check", scenario_file(tmp_path, BASE), "--set", "limits.max_events=1e13", seconds=60)
    one_error(result, "--set limits.max_events=1e13: limits.max_events: ")


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_are_well_inside_the_budget(path):
    """Every shipped scenario loads, and uses under a tenth of each budget."""
    scenario = cqrs_sim.load_scenario(path)
    assert budget_problems(scenario) == []
    for architecture in scenario.architectures:
        kinds = run_kinds(scenario, architecture)
        assert sum(k.count * k.events for k in kinds) < scenario.limits.max_events / 10
        assert sum(k.count for k in kinds if k.kept) < scenario.limits.max_rows / 10


# --- the counts, against what the model schedules --------------------------------------------------------------


def _counts(scenario, architecture):
    kinds = {k.name: k.count for k in run_kinds(scenario, architecture)}
    records = [run_architecture(scenario, architecture, r, write_workload(scenario, r))
               for r in range(scenario.replications)]
    return kinds, records


#: a quiet read load, so that runs of hours take a moment
QUIET = """\
duration: 6h
architectures: [cqrs]
replications: 4
workload:
  reads: {rate: 2/s, query_time: 4ms}
"""


def test_failure_and_decision_counts_match_the_model(scenario_from):
    """Failures: instances × duration / (mtbf + mttr + replace_time) on average (here 8 × 6h / 35min ≈ 82.2, ±15%
    over 4 runs;
    without writes, each repaired replica is the only swap row); autoscaler decisions: exactly
    floor(duration / interval)."""
    scenario = scenario_from(QUIET + """\
cqrs:
  replicas: {count: 8, failures: {mtbf: {dist: exponential, mean: 30m}, mttr: 5m}}
  sync: {replace_time: 1s}
""")
    kinds, records = _counts(scenario, "cqrs")
    assert kinds["failures"] == pytest.approx(8 * 6 * 3600 / (1800 + 300 + 1))
    repaired = sum(len(r.swaps["replica"]) for r in records) / len(records)
    assert repaired == pytest.approx(kinds["failures"], rel=0.15)
    scaled = scenario_from(QUIET + "cqrs:\n  autoscale: {max: 12, interval: 7s}\n", overrides={"duration": "20s"})
    kinds, records = _counts(scaled, "cqrs")
    assert kinds["autoscaler decisions"] == math.floor(20 / 7) == len(records[0].autoscale["t"])


@pytest.mark.parametrize("interval", ["10m", "1s"])
def test_rollout_counts_match_the_model(scenario_from, interval):
    """Rollouts of 8 replicas × 20 s: one per commit when commits are rare (10 min apart), back to back when they
    are not (a commit a second); the expected swaps are within 20% of the mean over 4 runs."""
    scenario = scenario_from(QUIET + f"""\
  writes: {{interval: {{dist: exponential, mean: {interval}}}, apply_time: 10ms}}
cqrs:
  sync: {{replace_time: 20s}}
""".replace("  writes", "  writes", 1))
    kinds, records = _counts(scenario, "cqrs")
    swaps = sum(len(r.swaps["replica"]) for r in records) / len(records)
    assert kinds["rollout swaps"] == pytest.approx(swaps, rel=0.2)
    writes = kinds["writes"]
    rollouts = expected_rollouts(scenario, writes)
    assert (rollouts > 0.9 * writes) if interval == "10m" else (rollouts < 6 * 3600 / 160 * 1.05)


def test_lag_clocks_are_counted_per_write_and_replica(scenario_from):
    """With max_lag, each commit starts a clock on each up-to-date replica: up to writes × replicas events."""
    text = QUIET + "  writes: {rate: 1/s, apply_time: 10ms}\ncqrs:\n  replicas: {count: 8, max_lag: 5s}\n"
    scenario = scenario_from(text.replace("duration: 6h", "duration: 100s"))
    kinds = {k.name: k.count for k in run_kinds(scenario, "cqrs")}
    assert kinds["lag checks"] == pytest.approx(100 * 8)
    without = scenario_from(text.replace("duration: 6h", "duration: 100s").replace(", max_lag: 5s", ""))
    assert "lag checks" not in {k.name for k in run_kinds(without, "cqrs")}


def test_projections_with_an_empty_list_of_write_times_have_no_first_delivery(scenario_from):
    """``writes.at: []`` is a valid scenario with no writes: failing projecting replicas count their cycles from
    the start, and nothing is delivered to replay."""
    text = QUIET + ("  writes: {at: [], apply_time: 10ms}\ncqrs:\n  sync: {strategy: projection, projection_time: 1ms}\n"
                    "  replicas: {count: 2, failures: {mtbf: 10s, mttr: 1s}}\n")
    scenario = scenario_from(text.replace("duration: 6h", "duration: 100s"))
    kinds = {k.name: k.count for k in run_kinds(scenario, "cqrs")}
    assert "projection applies" not in kinds and kinds["failures"] > 0
