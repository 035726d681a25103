"""Saved output stays what it was: data files a result was simulated from are hashed in its manifest, sweep points
are verified when a sweep resumes, `compare` says when two results come from different scenarios, and no command
writes into a directory the tool wrote for another command."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cqrs_sim.cli import app

from .conftest import SCENARIOS

runner = CliRunner()
QUICK = ["-j", "1", "--no-plots"]

TRACED = """\
    name: traced
    duration: 6s
    warmup: 0s
    seed: 4
    replications: 2
    workload:
      reads:
        trace: {file: data/reads.csv, column: ms, unit: ms}
        query_time: {dist: empirical, file: data/query.csv, column: ms, unit: ms}
      writes: {interval: 2s, apply_time: 50ms}
    handlers: {count: 1, concurrency: 100}
    crud: {connections: 4}
    cqrs:
      replicas: {count: 1, connections: 2}
    """


def _one_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def traced(tmp_path):
    """A scenario replaying a read trace, with query times drawn from a second data file."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(1)
    pd.DataFrame({"ms": np.sort(rng.uniform(0, 6000, 400)).round(3)}).to_csv(data / "reads.csv", index=False)
    pd.DataFrame({"ms": rng.lognormal(1.0, 0.4, 300).round(4)}).to_csv(data / "query.csv", index=False)
    path = tmp_path / "traced.yaml"
    path.write_text(textwrap.dedent(TRACED), encoding="utf-8")
    return path


@pytest.fixture
def traced_result(traced, tmp_path):
    out = tmp_path / "res"
    result = runner.invoke(app, ["run", str(traced), "-o", str(out), *QUICK])
    assert result.exit_code == 0, result.output
    return out


# data files a result was made from


def test_the_manifest_holds_each_data_file_and_its_hash(traced_result, tmp_path):
    import hashlib

    entries = json.loads((traced_result / "manifest.json").read_text())["data_files"]
    by_key = {entry["key"]: entry for entry in entries}
    assert set(by_key) == {"workload.reads.trace.file", "workload.reads.query_time.file"}
    for name, key in (("reads.csv", "workload.reads.trace.file"), ("query.csv", "workload.reads.query_time.file")):
        path = tmp_path / "data" / name
        assert by_key[key]["path"] == str(path)
        assert by_key[key]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command", ["report", "plot", "compare"])
def test_a_moved_data_file_is_named_not_called_an_incomplete_result(traced_result, tmp_path, command):
    moved = tmp_path / "data" / "reads.csv"
    moved.rename(tmp_path / "reads-elsewhere.csv")
    args = [command, str(traced_result)] + ([str(traced_result)] if command == "compare" else [])
    line = _one_error(runner.invoke(app, args))
    assert "not a complete cqrs-sim result" not in line
    assert line.startswith(f"error: {moved}: workload.reads.trace.file: is missing (moved or deleted since {traced_result}")
    assert not (traced_result / "report.html").exists() and not (traced_result / "plots").exists()


@pytest.mark.parametrize("command", ["report", "plot", "compare"])
def test_an_edited_data_file_is_named_and_never_mixed_in(traced_result, tmp_path, command):
    edited = tmp_path / "data" / "query.csv"
    edited.write_text(edited.read_text() + "99.0\n")
    args = [command, str(traced_result)] + ([str(traced_result)] if command == "compare" else [])
    line = _one_error(runner.invoke(app, args))
    assert line.startswith(f"error: {edited}: workload.reads.query_time.file: changed since {traced_result} was written")
    assert "rather than mix the two" in line
    assert not (traced_result / "report.html").exists() and not (traced_result / "plots").exists()


def test_an_intact_traced_result_reads_back(traced_result):
    result = runner.invoke(app, ["report", str(traced_result)])
    assert result.exit_code == 0, result.output
    assert (traced_result / "report.html").stat().st_size > 10_000


# compare says when the scenarios differ


@pytest.fixture(scope="module")
def mmc_results(tmp_path_factory):
    """Three results of the M/M/c scenario: A; B: another seed; C: two replicas instead of one."""
    base = tmp_path_factory.mktemp("mmc")
    quick = ["--set", "duration=6s", "--set", "warmup=1s", "--replications", "2", *QUICK]
    dirs = {}
    for name, extra in (("a", []), ("b", ["--seed", "99"]), ("c", ["--set", "cqrs.replicas.count=2"])):
        done = runner.invoke(app, ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(base / name), *quick, *extra])
        assert done.exit_code == 0, done.output
        dirs[name] = base / name
    return dirs


def test_compare_of_two_scenarios_says_their_hashes_differ_and_judges_no_target(mmc_results):
    result = runner.invoke(app, ["compare", str(mmc_results["a"]), str(mmc_results["c"])])
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert "warning: A and B were made from different scenarios (scenario sha256 A " in warning
    assert "they differ in cqrs.replicas.count (1 vs 2)" in warning
    assert "not from a disagreement of the two; agreement targets are not judged" in warning
    assert "MISSED" not in result.stdout and " ok" not in result.stdout
    assert "different scenarios; agreement targets not judged" in " ".join(result.stdout.split())


def test_compare_of_one_scenario_with_another_seed_keeps_its_targets(mmc_results):
    result = runner.invoke(app, ["compare", str(mmc_results["a"]), str(mmc_results["b"])])
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert "the same model with other random numbers or runs" in warning and "seed (11 vs 99)" in warning
    assert "±10%" in result.stdout  # the agreement targets are still judged


def test_compare_of_the_same_scenario_says_nothing_about_hashes(mmc_results):
    result = runner.invoke(app, ["compare", str(mmc_results["a"]), str(mmc_results["a"])])
    assert result.exit_code == 0, result.output
    assert "scenario" not in result.stderr


def test_a_testbed_result_of_another_scenario_is_not_judged(mmc_results, tmp_path):
    """A testbed result (its manifest says so) against a simulation of a different scenario: no ±10% MISSED."""
    import shutil

    testbed = tmp_path / "tb"
    shutil.copytree(mmc_results["c"], testbed)
    manifest = json.loads((testbed / "manifest.json").read_text())
    manifest.update({"source": "testbed", "server": "PostgreSQL 16"})
    (testbed / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["compare", str(mmc_results["a"]), str(testbed)])
    assert result.exit_code == 0, result.output
    assert "testbed on PostgreSQL 16" in result.stdout.replace("\n", "")
    assert "different scenarios" in result.stderr and "MISSED" not in result.stdout


# sweeps: resuming verifies each finished point, and a sweep directory given to compare says what it is


SWEEP = ["--vary", "cqrs.replicas.count=1,2", "--set", "duration=5s", "--set", "warmup=1s", "--set", "replications=2",
         *QUICK]


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "delete"])
def test_a_damaged_sweep_point_is_run_again_and_said(tmp_path, damage):
    out = tmp_path / "sweep"
    first = runner.invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "-o", str(out), *SWEEP])
    assert first.exit_code == 0, first.output
    points = {json.loads((p / "point.json").read_text())["cqrs.replicas.count"]: p for p in (out / "points").iterdir()}
    summary = points[2] / "summary.csv"
    good = summary.read_text()
    if damage == "corrupt":
        summary.write_text(good.replace("cqrs,read_latency_p99", "cqrs,read_latency_p99x"))
    elif damage == "truncate":
        summary.write_text(good[: len(good) // 2])
    else:
        summary.unlink()
    again = runner.invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "-o", str(out), *SWEEP])
    assert again.exit_code == 0, again.output
    what = "missing" if damage == "delete" else "damaged"
    assert f"point cqrs.replicas.count=2: summary.csv {what}, running it again" in again.stderr
    assert "1 point(s) simulated, 1 already done" in again.stdout
    assert summary.read_text() == good  # the same seeds give the same point again
    table = pd.read_parquet(out / "sweep.parquet")
    assert sorted(table["cqrs.replicas.count"].unique()) == [1, 2]


def test_an_intact_sweep_resumes_without_running_anything(tmp_path):
    out = tmp_path / "sweep"
    assert runner.invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "-o", str(out), *SWEEP]).exit_code == 0
    again = runner.invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "-o", str(out), *SWEEP])
    assert again.exit_code == 0 and "0 point(s) simulated, 2 already done" in again.stdout
    assert "running it again" not in again.stderr


def test_compare_of_a_sweep_directory_says_it_is_one_and_its_points_compare(tmp_path):
    out = tmp_path / "sweep"
    assert runner.invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "-o", str(out), *SWEEP]).exit_code == 0
    line = _one_error(runner.invoke(app, ["compare", str(out), str(out)]))
    assert "scenario.yaml" not in line.split("(directory):")[1].split("compare")[0]
    assert f"error: {out}: (directory): is a sweep directory, not one result" in line
    assert f"cqrs-sim compare {out}/points/KEY1 {out}/points/KEY2" in line
    one, two = sorted((out / "points").iterdir())
    compared = runner.invoke(app, ["compare", str(one), str(two)])
    assert compared.exit_code == 0, compared.output
    assert "cqrs.replicas.count (1 vs 2)" in " ".join(compared.stderr.split()) or \
        "cqrs.replicas.count (2 vs 1)" in " ".join(compared.stderr.split())
    assert "read_latency_p99" in compared.stdout and "sweep point" in compared.stdout.replace("\n", "")


# no command writes into a directory the tool wrote for another


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.mark.parametrize("where", ["result", "sweep"])
@pytest.mark.parametrize("command", ["fit", "capacity", "sweep", "optimize", "run"])
def test_nothing_is_written_inside_another_commands_output(tmp_path, mmc_results, where, command):
    import shutil

    home = tmp_path / "home"
    if where == "result":
        shutil.copytree(mmc_results["a"], home)
    else:
        assert runner.invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "-o", str(home), *SWEEP]).exit_code == 0
    (tmp_path / "times.csv").write_text("t\n" + "\n".join(str(0.001 * (1 + k % 7)) for k in range(200)) + "\n")
    before = _tree(home)
    scenario = str(SCENARIOS / "mmc.yaml")
    args = {"fit": ["fit", str(tmp_path / "times.csv"), "-o", str(home / "fit.png"), "--force"],
            "capacity": ["capacity", scenario, "--search", "cqrs.replicas.count", "--slo", "read_latency_p99<1s",
                         "-o", str(home / "answer.json"), "--force"],
            "sweep": ["sweep", scenario, "--vary", "cqrs.replicas.count=1", "-o", str(home / "sub")],
            "optimize": ["optimize", scenario, "--vary", "cqrs.replicas.count=1", "--slo", "read_latency_p99<1s",
                         "--set", "cost.instance_hour=1", "-o", str(home / "sub")],
            "run": ["run", scenario, "-o", str(home / "sub"), "--force"]}[command]
    line = _one_error(runner.invoke(app, args))
    kind = "result" if where == "result" else "sweep directory"
    assert f"is inside the cqrs-sim {kind} {home}; give a " in line
    assert _tree(home) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "times.csv"]


@pytest.mark.parametrize("command, kind", [("sweep", "result"), ("optimize", "result"), ("run", "sweep directory"),
                                           ("optimize", "sweep directory"), ("sweep", "optimize directory")])
def test_a_directory_of_another_kind_is_refused_by_name(tmp_path, mmc_results, command, kind):
    import shutil

    home = tmp_path / "home"
    scenario = str(SCENARIOS / "mmc.yaml")
    if kind == "result":
        shutil.copytree(mmc_results["a"], home)
    elif kind == "sweep directory":
        assert runner.invoke(app, ["sweep", scenario, "-o", str(home), *SWEEP]).exit_code == 0
    else:
        done = runner.invoke(app, ["optimize", scenario, "--vary", "cqrs.replicas.count=1", "--slo", "read_latency_p99<1s",
                                   "--set", "cost.instance_hour=1", "--set", "duration=5s", "--set", "warmup=1s",
                                   "--set", "replications=2", "-o", str(home), *QUICK])
        assert done.exit_code == 0, done.output
    before = _tree(home)
    args = {"sweep": ["sweep", scenario, "--vary", "cqrs.replicas.count=1"],
            "optimize": ["optimize", scenario, "--vary", "cqrs.replicas.count=1", "--slo", "read_latency_p99<1s",
                         "--set", "cost.instance_hour=1"],
            "run": ["run", scenario, "--force"]}[command]
    line = _one_error(runner.invoke(app, [*args, "-o", str(home)]))
    assert f"is a cqrs-sim {kind}, not " in line and "never written into or replaced by this command" in line
    assert _tree(home) == before
    if kind == "optimize directory":  # its own sweeps are not a sweep to write into either
        line = _one_error(runner.invoke(app, [*args, "-o", str(home / "cqrs")]))
        assert f"is inside the cqrs-sim optimize directory {home}" in line
        assert _tree(home) == before


def test_a_user_folder_named_points_is_no_sweep(tmp_path):
    """Only a directory holding a finished point (or sweep.json) counts as a sweep: a project's own points/ does not."""
    (tmp_path / "points" / "p1").mkdir(parents=True)
    (tmp_path / "points" / "p1" / "x.txt").write_text("mine")
    out = tmp_path / "res"
    result = runner.invoke(app, ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(out), "--set", "duration=3s",
                                 "--set", "warmup=1s", "--replications", "1", *QUICK])
    assert result.exit_code == 0, result.output
    assert os.path.isdir(out)


@pytest.mark.parametrize("part", ["requests.parquet", "visibility.parquet", "manifest.json", "replications.csv"])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_damaged_file_of_a_result_is_named_in_our_words(mmc_results, tmp_path, part, command):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(mmc_results["a"], copy)
    data = (copy / part).read_bytes()
    (copy / part).write_bytes(b'"' + data[: len(data) // 3])
    args = [command, str(copy)] + ([str(mmc_results["a"])] if command == "compare" else [])
    line = _one_error(runner.invoke(app, args))
    assert line == f"error: {copy}: (directory): is not a complete cqrs-sim result: {part}: damaged (it cannot be read; " \
                   "run again to write it anew)"
