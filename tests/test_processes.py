"""Signals and child processes: whatever stops cqrs-sim or a ``simulate(jobs=N)`` caller, no process survives it.

Every case runs real processes in their own session (so a signal to the
process group reaches the command, its workers and multiprocessing's
forkserver, and nothing else). Nothing here sleeps and hopes: a case waits
for a readiness signal and then acts, and every wait has a generous
deadline so the tests pass on a loaded machine:

- "simulating has begun": the CLI touches the file named by
  ``CQRS_SIM_READY_FILE`` at its first progress report (a library script
  here does the same from its progress callback);
- "the console script is importing the package": the entry module
  (``cqrs_sim_entry``) has installed its SIGTERM handler, which
  /proc/PID/status shows as a caught signal; the imports after it take
  seconds.

After the command ends, every process that descended from it (snapshotted
while it ran) and every process of its process group must be gone; they are
polled for, up to a deadline. Linux only (/proc).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process table from /proc")

DEADLINE = 240.0  #: seconds; far above the slowest normal case on a loaded machine
ENTRY = [sys.executable, "-m", "cqrs_sim_entry"]
NETFLIX = str(SCENARIOS / "netflix.yaml")
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, or None once it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid, pgrp = text[text.rindex(")") + 2:].split()[:3]
    return None if state in "ZX" else (state, int(ppid), int(pgrp))


def _processes() -> dict[int, tuple[str, int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    return table


def descendants(root: int) -> set[int]:
    """Live processes whose parent chain includes ``root``."""
    table = _processes()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (_, ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def survivors(pids: set[int], group: int) -> set[int]:
    """Those of ``pids`` still alive, and any live process in process group ``group``."""
    return {pid for pid in pids if _stat(pid) is not None} | {pid for pid, (_, _, pgrp) in _processes().items()
                                                              if pgrp == group}


def wait_until(condition, what: str, proc: subprocess.Popen | None = None, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}: {proc.communicate()[1][-3000:]}")
        if time.monotonic() > end:
            pytest.fail(f"no {what} within {deadline:g} s")
        time.sleep(0.05)


def start(cmd: list[str], ready: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if ready is not None:
        env["CQRS_SIM_READY_FILE"] = str(ready)
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def finish(proc: subprocess.Popen, watched: set[int]) -> tuple[str, str]:
    """Wait for ``proc`` (bounded), then for every watched or same-group process to be gone."""
    try:
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"did not end within {DEADLINE:g} s of the signal: {stderr[-3000:]}")
    left: set[int] = set()

    def all_gone() -> bool:
        left.clear()
        left.update(survivors(watched, proc.pid))
        return not left

    try:
        wait_until(all_gone, "end of every child process")
    finally:
        for pid in left:  # do not leave them to the next test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return stdout, stderr


def send(proc: subprocess.Popen, signum: int, target: str) -> None:
    if target == "group":
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)


def hidden_entries(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.startswith(".")]


COMMANDS = {
    "run": ["run", NETFLIX, "-o", "{out}", "-j", "2", "--no-plots", "--set", "duration=3h"],
    "sweep": ["sweep", NETFLIX, "-o", "{out}", "-j", "2", "--no-plots", "--vary", "cqrs.replicas.count=2,4,6,8",
              "--set", "duration=20m"],
    "capacity": ["capacity", NETFLIX, "--search", "cqrs.replicas.count", "--slo", "read_latency_p99<50ms", "--minimize",
                 "--range", "1..16", "-j", "2", "-o", "{out}", "--set", "duration=4m", "--set", "warmup=20s",
                 "--set", "replications=2"],
}


@pytest.mark.parametrize("target", ["parent", "group"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_signal_while_simulating_leaves_nothing(tmp_path, command, signum, target):
    """`run`, `sweep`, `capacity -j 2`, signalled once simulating: 130/143, one line, no process, nothing partial."""
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    proc = start(ENTRY + [arg.replace("{out}", str(out)) for arg in COMMANDS[command]], ready)
    wait_until(ready.exists, "readiness file", proc)
    watched = descendants(proc.pid)
    assert len(watched) >= 2, "expected the worker processes to be running"
    send(proc, signum, target)
    _, stderr = finish(proc, watched)
    assert proc.returncode == CODES[signum], stderr
    assert "Traceback" not in stderr and f"interrupted ({signum.name})" in stderr, stderr
    if command == "sweep" and out.exists():  # it keeps the points that finished, each whole
        assert [p.name for p in out.iterdir()] == ["points"] and not hidden_entries(out)
        for point in (out / "points").iterdir():
            assert (point / "summary.csv").exists()
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p != out] == ["ready"]  # no staging directory either


def _handler_installed(pid: int, signum: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signum - 1)))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_importing(tmp_path, signum):
    """A signal while cqrs-sim is still importing its libraries: 130/143, no traceback, nothing written."""
    out = tmp_path / "out"
    proc = start(ENTRY + ["run", NETFLIX, "-o", str(out), "-j", "2", "--set", "duration=3h"])
    wait_until(lambda: _handler_installed(proc.pid, signal.SIGTERM), "signal handler of the entry module", proc)
    send(proc, signum, "parent")
    _, stderr = finish(proc, set())
    assert proc.returncode == CODES[signum], stderr
    assert "Traceback" not in stderr and "interrupted" in stderr, stderr
    assert list(tmp_path.iterdir()) == []


def _forkserver_started(root: int) -> bool:
    for pid in descendants(root):
        try:
            if b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


def test_sigint_to_group_while_workers_start(tmp_path):
    """Ctrl-C to the process group as soon as the forkserver exists (it then imports for seconds): no traceback from it."""
    out = tmp_path / "out"
    proc = start(ENTRY + ["run", NETFLIX, "-o", str(out), "-j", "2", "--set", "duration=3h"])
    wait_until(lambda: _forkserver_started(proc.pid), "forkserver", proc)
    watched = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = finish(proc, watched)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert list(tmp_path.iterdir()) == []


SCRIPT_HEAD = f"""
import sys
from pathlib import Path
import cqrs_sim

SCENARIO = {NETFLIX!r}
"""


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(SCRIPT_HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


def test_script_without_main_guard_gets_one_clear_error(tmp_path):
    """simulate(jobs=2) at a script's top level: the workers re-run it; one RuntimeError, no loop, no process left."""
    script = _script(tmp_path, """
        scenario = cqrs_sim.load_scenario(SCENARIO, {"duration": "2m", "warmup": "10s", "replications": 2})
        cqrs_sim.simulate(scenario, jobs=2)
        print("finished")
    """)
    proc = start([sys.executable, str(script)])
    stdout, stderr = finish(proc, set())
    assert proc.returncode == 1 and "finished" not in stdout, stderr
    assert stderr.count('if __name__ == "__main__":') == 1, stderr
    assert "WorkerDied: the worker processes re-ran this script's top level" in stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signalled_caller_leaves_no_workers(tmp_path, signum):
    """A script killed (SIGTERM, default action) or interrupted (SIGINT) inside simulate(jobs=2): no worker, no forkserver."""
    ready = tmp_path / "ready"
    script = _script(tmp_path, f"""
        if __name__ == "__main__":
            scenario = cqrs_sim.load_scenario(SCENARIO, {{"duration": "3h"}})
            cqrs_sim.simulate(scenario, jobs=2, progress=lambda done, total, label: Path({str(ready)!r}).touch())
    """)
    proc = start([sys.executable, str(script)])
    wait_until(ready.exists, "readiness file", proc)
    watched = descendants(proc.pid)
    assert len(watched) >= 3, "expected two workers and a forkserver"
    proc.send_signal(signum)
    finish(proc, watched)
    assert proc.returncode == -signum  # SIGTERM's default action; an uncaught KeyboardInterrupt re-raises SIGINT


def test_exception_in_caller_leaves_no_workers(tmp_path):
    """An exception raised in the caller while simulate(jobs=2) runs stops the workers before it propagates."""
    script = _script(tmp_path, """
        def fail(done, total, label):
            raise ValueError("the caller gives up")

        if __name__ == "__main__":
            scenario = cqrs_sim.load_scenario(SCENARIO, {"duration": "3h"})
            try:
                cqrs_sim.simulate(scenario, jobs=2, progress=fail)
            except ValueError:
                import multiprocessing
                print("children left:", len(multiprocessing.active_children()))
    """)
    proc = start([sys.executable, str(script)])
    stdout, stderr = finish(proc, set())
    assert proc.returncode == 0 and "children left: 0" in stdout, stderr



#: Runs a command in a new session as a child subreaper: a process the command leaves behind, running or exited
#: but never waited for, is re-parented to this wrapper instead of init, so it shows up here whatever the timing.
#: Prints the exit status, then one line per such process (pid and command line) found right after it returned.
SUBREAPER = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
with open(sys.argv[1], "w") as log:  # a file, not a pipe: a child holding a pipe open would delay its reading
    proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
code = proc.wait()
left = []
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{entry}/stat").read()
        cmdline = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\\0", b" ").decode()[:100]
    except OSError:
        continue
    state, ppid, _, session = stat[stat.rindex(")") + 2:].split()[:4]
    if int(ppid) == os.getpid() or (int(session) == proc.pid and state not in "ZX"):
        left.append(f"{entry} {state} {cmdline}")
print(code)
print("\\n".join(left))
for pid in (int(line.split()[0]) for line in left):
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
"""


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_finished_command_leaves_no_process(tmp_path, command):
    """`run -j 2` (and `sweep -j 2`) that finish: by the time the command has returned, every process it started
    (the forkserver, the resource tracker, the pool workers) has exited and been waited for. The command runs
    under a child subreaper, so a process it left behind, running or not yet reaped, is found whatever the timing."""
    args = {"run": ["run", NETFLIX, "-o", str(tmp_path / "out"), "-j", "2", "--no-plots", "--set", "duration=2m",
                    "--set", "warmup=10s", "--set", "replications=2"],
            "sweep": ["sweep", NETFLIX, "-o", str(tmp_path / "out"), "-j", "2", "--no-plots",
                      "--vary", "cqrs.replicas.count=2,4", "--set", "duration=2m", "--set", "warmup=10s",
                      "--set", "replications=1"]}[command]
    log = tmp_path / "stderr.txt"
    done = subprocess.run([sys.executable, "-c", SUBREAPER, str(log), *ENTRY, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=DEADLINE)
    code, *left = done.stdout.splitlines()
    assert done.returncode == 0 and code == "0", log.read_text() + done.stderr
    assert not [line for line in left if line], f"left behind when the command returned: {left}"
