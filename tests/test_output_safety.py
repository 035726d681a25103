"""Writing results is safe against hostile input: names, output paths, concurrent and killed writers.

Refusals are checked in-process (they happen before anything is simulated:
``simulate`` is replaced by a function that fails the test if it is reached).
Concurrency and ``kill -9`` use real processes and wait for a file or a line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.io import outdir, resultdir
from cqrs_sim.cli import app
from cqrs_sim.core.errors import ScenarioError

from .conftest import ROOT, SCENARIOS

QUICK = ["--set", "duration=5s", "--set", "warmup=1s", "--replications", "1", "-j", "1", "--no-plots"]
LONG = ["--set", "duration=8m", "--set", "warmup=1s", "--replications", "1", "-j", "1", "--no-plots"]


def _run(*args: str):
    return CliRunner().invoke(app, ["run", str(SCENARIOS / "mmc.yaml"), *args])


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def no_simulation(monkeypatch):
    def reached(*_args, **_kwargs):
        raise AssertionError("simulate() was reached: the destination was not checked first")

    monkeypatch.setattr("cqrs_sim.cli.run.simulate", reached)


@pytest.fixture(scope="module")
def small_results():
    return cqrs_sim.simulate(cqrs_sim.load_scenario(SCENARIOS / "mmc.yaml", {"duration": "3s", "warmup": "1s",
                                                                             "replications": 1}))


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root (symlinks not followed): its kind and content or link target."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = ("dir",)
            elif path.is_file():
                found[key] = ("file", path.read_bytes())
            else:
                found[key] = ("other", path.lstat().st_mode)
    return found


# --force replaces only a complete cqrs-sim result


def test_empty_name_with_force_keeps_the_rest_of_results(tmp_path, monkeypatch, write_yaml):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "other").mkdir(parents=True)
    (tmp_path / "results" / "other" / "keep.txt").write_text("precious")
    scenario = write_yaml((SCENARIOS / "mmc.yaml").read_text().replace("name: mmc", 'name: ""'), "empty")
    result = CliRunner().invoke(app, ["run", str(scenario), *QUICK, "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "results" / "other" / "keep.txt").read_text() == "precious"
    assert resultdir.is_result_dir(tmp_path / "results" / "scenario")
    assert "writing to results/scenario" in result.stderr


@pytest.mark.parametrize("kind", ["file", "fifo", "symlink", "dangling symlink", "ordinary directory", "cwd", "parent of cwd"])
def test_force_never_replaces_anything_but_a_result(tmp_path, monkeypatch, no_simulation, kind):
    work = tmp_path / "work"
    (work / "inner").mkdir(parents=True)
    monkeypatch.chdir(work / "inner")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("precious")
    target = {"file": tmp_path / "f", "fifo": tmp_path / "p", "symlink": tmp_path / "link",
              "dangling symlink": tmp_path / "dangling", "ordinary directory": tmp_path / "data",
              "cwd": Path("."), "parent of cwd": Path("..")}[kind]
    (tmp_path / "f").write_text("a file")
    os.mkfifo(tmp_path / "p")
    (tmp_path / "link").symlink_to(tmp_path / "data")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    before = _snapshot(tmp_path)
    line = _one_error_line(_run("-o", str(target), "--force", *QUICK))
    assert line.startswith(f"error: {target}: (output): ")
    assert _snapshot(tmp_path) == before


def test_force_replaces_a_previous_result(tmp_path):
    out = tmp_path / "res"
    assert _run("-o", str(out), *QUICK).exit_code == 0
    again = _run("-o", str(out), *QUICK, "--seed", "9", "--force")
    assert again.exit_code == 0, again.output
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no staging, lock or old copy left


def _with_foreign(out: Path, foreign: str) -> None:
    if foreign == "notes":
        (out / "my_notes.txt").write_text("mine")
        (out / "notes").mkdir()
        (out / "notes" / "draft.md").write_text("mine too")
    else:
        (out / "plots").mkdir(exist_ok=True)
        (out / "plots" / "sketch.png").write_bytes(b"mine")


@pytest.mark.parametrize("foreign, listed", [("notes", "my_notes.txt, notes/"), ("plot", "plots/sketch.png")])
def test_force_keeps_a_result_holding_files_it_did_not_write(tmp_path, small_results, no_simulation, foreign, listed):
    out = small_results.save(tmp_path / "out_base")
    _with_foreign(out, foreign)
    before = _snapshot(tmp_path)
    line = _one_error_line(_run("-o", str(out), "--force", *QUICK))
    assert line == (f"error: {out}: (output): holds files cqrs-sim did not write ({listed}); "
                    "move them away, or choose another directory")
    with pytest.raises(ScenarioError, match="holds files cqrs-sim did not write"):
        small_results.save(out)  # the API's default force=True keeps them too
    assert _snapshot(tmp_path) == before


def test_force_replaces_a_result_holding_only_what_it_wrote(tmp_path, small_results):
    """Plots in both formats, report.html and a killed plot's staging are all the tool's own."""
    from cqrs_sim.io.plotdata import write_report
    from cqrs_sim.plots import save_all

    out = small_results.save(tmp_path / "res")
    for fmt in ("png", "svg"):
        save_all(small_results, out / "plots", fmt)
    write_report(out)
    left = out / ".plots.partial-k1ll3d"
    left.mkdir()
    (left / resultdir.MARKER).write_text("12345\n")
    assert resultdir.foreign_entries(out) == []
    result = _run("-o", str(out), *QUICK, "--seed", "9", "--force")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9
    assert sorted(p.name for p in out.iterdir()) == sorted(set(resultdir.RESULT_FILES) - {"report.html"} | set(
        f"{name}.parquet" for name in cqrs_sim.io.resultdir.TABLES))  # no plots: --no-plots


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_new_result_inside_a_result_is_refused(tmp_path, small_results, no_simulation, force):
    out = small_results.save(tmp_path / "res")
    before = _snapshot(tmp_path)
    line = _one_error_line(_run("-o", str(out / "sub"), *QUICK, *force))
    assert line == f"error: {out / 'sub'}: (output): is inside the cqrs-sim result {out}; give a directory outside it"
    assert _snapshot(tmp_path) == before


# a name is a label, never a path


@pytest.mark.parametrize("name, directory", [("../../x", "x"), ("/abs/olute", "abs-olute"), ("..", "scenario"),
                                              ("a/../../b", "a-b"), ("Überblick – Ω", "Überblick-Ω")])
def test_name_never_leaves_results(tmp_path, monkeypatch, write_yaml, name, directory):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    scenario = write_yaml((SCENARIOS / "mmc.yaml").read_text().replace("name: mmc", f"name: {json.dumps(name)}"), "n")
    result = CliRunner().invoke(app, ["run", str(scenario), *QUICK])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (work / "results").iterdir()] == [directory]
    assert f"not a plain directory name; writing to results/{directory}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "n.yaml"] and [p.name for p in work.iterdir()] == ["results"]


# destinations are checked before simulating


def test_output_under_a_file_is_refused_first(tmp_path, no_simulation):
    (tmp_path / "f").write_text("x")
    line = _one_error_line(_run("-o", str(tmp_path / "f" / "sub"), *QUICK))
    assert "is not a directory" in line


def test_dangling_symlink_output_is_refused_first(tmp_path, no_simulation):
    (tmp_path / "d").symlink_to(tmp_path / "missing")
    assert "is a symlink" in _one_error_line(_run("-o", str(tmp_path / "d"), *QUICK))
    assert not (tmp_path / "missing").exists()


def test_unwritable_parent_is_refused_first(tmp_path, no_simulation):
    """A parent that cannot be written into is refused before simulating.

    Mode bits do not stop root, so as root the parent is /sys, where the
    kernel lets nobody create a file (nothing is written there: the refusal comes first).
    """
    if os.geteuid() == 0:
        assert "cannot write in /sys" in _one_error_line(_run("-o", "/sys/cqrs-sim-test-out", *QUICK))
        return
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert "Permission denied" in _one_error_line(_run("-o", str(locked / "out"), *QUICK))
    finally:
        locked.chmod(0o755)


def test_capacity_output_into_a_missing_directory_is_refused_before_the_search(tmp_path, monkeypatch):
    def search(*_args, **_kwargs):
        raise AssertionError("the search ran before the output was checked")

    monkeypatch.setattr("cqrs_sim.experiments.capacity.capacity_search", search)
    result = CliRunner().invoke(app, ["capacity", str(SCENARIOS / "mmc.yaml"), "--search", "workload.reads.rate",
                                      "--slo", "read_latency_mean<10ms", "-o", str(tmp_path / "missing" / "a.json")])
    assert "does not exist" in _one_error_line(result)


def _capacity(monkeypatch, output: Path, *extra: str, answer: float = 500.0):
    from cqrs_sim.experiments.capacity import CapacityResult, Evaluation

    def search(*_args, **_kwargs):
        if answer is None:
            raise AssertionError("the search ran before the output was checked")
        return [CapacityResult("crud", "workload.reads.rate", False, answer, (answer, answer + 10), "",
                               [Evaluation(answer, True, False, {"read_latency_mean": (0.005, 0.004, 0.006)})])]

    monkeypatch.setattr("cqrs_sim.experiments.capacity.capacity_search", search)
    return CliRunner().invoke(app, ["capacity", str(SCENARIOS / "mmc.yaml"), "--search", "workload.reads.rate",
                                    "--slo", "read_latency_mean<10ms", "-o", str(output), *extra])


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_capacity_never_replaces_a_file_of_another_kind(tmp_path, monkeypatch, force):
    (tmp_path / "afile").write_text('[{"mine": 1}]')
    line = _one_error_line(_capacity(monkeypatch, tmp_path / "afile", *force, answer=None))
    assert line == (f"error: {tmp_path / 'afile'}: (output): exists and is not a cqrs-sim capacity answer; "
                    "it is never replaced, even with --force")
    assert (tmp_path / "afile").read_text() == '[{"mine": 1}]'


def test_capacity_replaces_its_own_answer_only_with_force(tmp_path, monkeypatch):
    answer = tmp_path / "answer.json"
    assert _capacity(monkeypatch, answer).exit_code == 0
    assert json.loads(answer.read_text())[0]["answer"] == 500.0
    line = _one_error_line(_capacity(monkeypatch, answer, answer=None))
    assert line == f"error: {answer}: (output): already exists; pass --force to replace it, or -o for another file"
    result = _capacity(monkeypatch, answer, "--force", answer=600.0)
    assert result.exit_code == 0, result.output
    assert json.loads(answer.read_text())[0]["answer"] == 600.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer.json"]


def test_sweep_onto_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("mine")
    result = CliRunner().invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "--vary", "cqrs.replicas.count=1,2",
                                      "-o", str(tmp_path / "f"), "-j", "1", "--set", "duration=5s", "--set", "warmup=1s"])
    assert "is not a directory" in _one_error_line(result)
    assert (tmp_path / "f").read_text() == "mine"


# data before plots


def test_a_plot_failure_keeps_the_results(tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr("cqrs_sim.plots.save_all", broken)
    out = tmp_path / "res"
    result = _run("-o", str(out), *[a for a in QUICK if a != "--no-plots"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]  # not progress lines
    assert len(lines) == 1 and "RuntimeError: no fonts" in lines[0] and f"the results are saved in {out}/" in lines[0]
    assert resultdir.is_result_dir(out) and cqrs_sim.load_results(out).summary().shape[0] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"] and not (out / "plots").exists()


# damaged results


@pytest.mark.parametrize("damage, part", [("truncate", "requests.parquet"), ("manifest", "manifest.json")])
@pytest.mark.parametrize("command", ["plot", "report"])
def test_damaged_result_is_a_located_error(tmp_path, small_results, damage, part, command):
    out = small_results.save(tmp_path / "res")
    if damage == "truncate":
        data = (out / part).read_bytes()
        (out / part).write_bytes(data[: len(data) // 2])
    else:
        (out / part).write_text('{"scenario": "mmc", "seed"')
    line = _one_error_line(CliRunner().invoke(app, [command, str(out)]))
    assert line.startswith(f"error: {out}: (directory): is not a complete cqrs-sim result: {part}: ")


# real processes: concurrent writers and kill -9


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cqrs_sim", "run", str(SCENARIOS / "mmc.yaml"), "-o", str(out), *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for_staging(proc: subprocess.Popen, parent: Path, name: str) -> Path:
    deadline = time.monotonic() + 120
    while True:
        found = [p for p in parent.iterdir() if p.name.startswith(f".{name}.partial-")]
        if found:
            return found[0]
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


def _wait_for_line(proc: subprocess.Popen, text: str) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:  # ends when the process closes stderr
        if text in line:
            return line
    raise AssertionError(f"{text!r} never printed; exit {proc.wait()}")


def test_a_second_writer_of_the_same_directory_fails_while_the_first_runs(tmp_path):
    out = tmp_path / "same"
    first = _start(out, *LONG)
    _wait_for_staging(first, tmp_path, "same")  # the first holds the lock and is simulating
    second = subprocess.run([sys.executable, "-m", "cqrs_sim", "run", str(SCENARIOS / "mmc.yaml"), "-o", str(out),
                             *QUICK, "--seed", "7"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr
    assert first.poll() is None, "the first run ended before the second was refused; the test proves nothing"
    assert f"another cqrs-sim process (PID {first.pid}) is writing it" in lines[0]
    _, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    assert json.loads((out / "manifest.json").read_text())["seed"] == 11  # the first's result, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]


def test_a_forced_second_writer_waits_and_then_replaces(tmp_path):
    out = tmp_path / "same"
    first = _start(out, *LONG)
    _wait_for_staging(first, tmp_path, "same")
    second = _start(out, *QUICK, "--seed", "7", "--force")
    line = _wait_for_line(second, "waiting for cqrs-sim process")
    assert str(first.pid) in line
    assert first.wait(timeout=600) == 0
    second.communicate(timeout=300)
    assert second.returncode == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(tmp_path, small_results):
    out = tmp_path / "res"
    victim = _start(out, *LONG)
    staging = _wait_for_staging(victim, tmp_path, "res")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    assert staging.exists()  # kill -9 leaves it behind
    moved_aside = tmp_path / ".res.old-abc123"  # a result moved aside by a replacement killed half-way
    small_results.save(moved_aside)
    foreign = tmp_path / ".res.partial-zzz"  # not ours: no marker, no manifest
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone else's")
    result = _run("-o", str(out), *QUICK)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert sorted(notes) == sorted([f"note: {foreign} looks like an interrupted write but is not recognisably cqrs-sim's; left alone",
                     f"note: removed {staging}, left by an interrupted cqrs-sim process",
                     f"note: restored {out} from an interrupted replacement"]), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2 and errors == [f"error: {out}: (output): already exists; pass --force to replace it, "
                                                "or -o for another directory"]  # the restored result is kept
    assert resultdir.is_result_dir(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".res.partial-zzz", "res"]
    assert (foreign / "notes.txt").read_text() == "someone else's"


def test_a_stale_old_copy_beside_a_present_result_is_removed(tmp_path, small_results):
    out = small_results.save(tmp_path / "res")
    small_results.save(tmp_path / ".res.old-x1y2z3")
    result = _run("-o", str(out), *QUICK, "--force")
    assert result.exit_code == 0, result.output
    assert f"removed {tmp_path / '.res.old-x1y2z3'}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


# property: any name, any -o


NAMES = st.one_of(st.sampled_from(["", ".", "..", "/", "./", "../..", "-", "~", "a" * 400, "CON", "x\ny", "é" * 200]),
                  st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=60))
PIECES = st.sampled_from(["file", "dir", "empty", "link", "dangling", "result", "fifo", "new", "..", ".", "new2"])


def _sandbox(root: Path, results) -> Path:
    box = root / "box"
    (box / "work").mkdir(parents=True)
    (box / "file").write_text("file")
    (box / "dir").mkdir()
    (box / "dir" / "keep").write_text("keep")
    (box / "empty").mkdir()
    (box / "link").symlink_to(box / "dir")
    (box / "dangling").symlink_to(box / "gone")
    os.mkfifo(box / "fifo")
    results.save(box / "result")
    (root / "outside.txt").write_text("outside")
    return box


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, pieces=st.lists(PIECES, min_size=0, max_size=3), use_name=st.booleans(), force=st.booleans())
def test_any_name_and_output_path_writes_inside_or_fails_cleanly(small_results, name, pieces, use_name, force):
    """Either a one-line located error, or a complete result strictly inside the intended place; nothing lost."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary).resolve()
        box = _sandbox(root, small_results)
        if use_name:
            target = Path("results") / outdir.safe_dirname(name)
        else:
            target = Path("..").joinpath(*pieces) if pieces else Path(".")
        if not Path(os.path.normpath(box / "work" / target)).is_relative_to(root):
            target = Path("new")  # a path the user aimed outside the sandbox is not this test's subject
        before = _snapshot(root)
        cwd = os.getcwd()
        os.chdir(box / "work")
        try:
            written = small_results.save(target, force=force)
        except ScenarioError as exc:
            assert len(exc.problems) == 1 and "\n" not in str(exc.problems[0])
            assert exc.problems[0].file == str(target) and exc.problems[0].path == "(output)"
            written = None
        finally:
            os.chdir(cwd)
        after = _snapshot(root)
        event("written" if written is not None else "refused")
        if written is not None:
            place = (box / "work" / written).resolve()
            assert place.is_relative_to(root) and resultdir.is_result_dir(place)
            if use_name:
                assert place.parent == box / "work" / "results"
            replaced = str(place.relative_to(root))
        else:
            replaced = None
        for key, entry in before.items():
            if replaced is not None and (key == replaced or key.startswith(replaced + os.sep)):
                assert key.startswith("box/result") or before[key] == ("dir",), key  # only a result or an empty dir
                continue
            assert after.get(key) == entry, key
        assert not [k for k in after if ".partial-" in k or ".old-" in k or k.endswith(outdir.LOCK_SUFFIX)]


@given(name=NAMES)
def test_safe_dirname_is_one_plain_component(name):
    directory = outdir.safe_dirname(name)
    assert directory not in ("", ".", "..") and "/" not in directory and "\x00" not in directory
    assert not directory.startswith(".") and len(directory.encode("utf-8")) <= outdir.MAX_NAME_BYTES
    assert Path(directory).name == directory
    assert outdir.safe_dirname(directory) == directory  # a safe name is kept as it is


def test_sweep_removes_point_staging_left_by_a_killed_sweep(tmp_path):
    out = tmp_path / "sweep"
    left = out / "points" / ".0123456789abcdef.partial-k1ll3d"
    left.mkdir(parents=True)
    (left / resultdir.MARKER).write_text("12345\n")
    (left / "scenario.yaml").write_text("half written")
    result = CliRunner().invoke(app, ["sweep", str(SCENARIOS / "mmc.yaml"), "--vary", "cqrs.replicas.count=1", "-o", str(out),
                                      "-j", "1", "--no-plots", "--set", "duration=5s", "--set", "warmup=1s",
                                      "--set", "replications=1"])
    assert result.exit_code == 0, result.output
    assert not left.exists()
    assert [p.name for p in (out / "points").iterdir() if p.name.startswith(".")] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]  # no lock file left beside it


def test_api_save_refuses_an_ordinary_directory(tmp_path, small_results):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ScenarioError, match="is not a complete cqrs-sim result"):
        small_results.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert small_results.save(tmp_path / "r") == tmp_path / "r"
    assert small_results.save(tmp_path / "r") == tmp_path / "r"  # a result is replaced, as notebooks rerun cells
    with pytest.raises(ScenarioError, match="already exists; pass --force"):
        small_results.save(tmp_path / "r", force=False)
