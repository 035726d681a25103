"""The embedded server never outlives the command that started it, whatever ends that command.

Every embedded server lives in its own directory, which holds a marker
file (:data:`MARKER`) saying which process owns it. Beside the server the
command starts a watchdog: this file, run as a script (standard library
only, so it starts in milliseconds), in a session of its own so that
signals to the command's process group do not reach it. The watchdog
reads the pipe the command holds open to it; the command writes the
postmaster's pid into it once the server runs. When the pipe closes (the
command closed it to stop the server, or the command died, even by
``kill -9``), the watchdog stops the postmaster and every hot standby the
command started beside it (each its own data directory in the same
directory: :data:`STANDBY` ``0``, ``1``…; fast shutdown, then SIGKILL) and
removes the directory.

If both died (a machine reset, a kill of the watchdog), the next embedded
server :func:`sweep` s the temporary directory: a directory with our marker,
written by this user, whose owner and watchdog are both gone, is stopped and
removed the same way. Servers are recognised only by that marker, and a
pid only after checking that the process serves that directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Optional

MARKER = "cqrs-testbed-server.json"  #: in every embedded server's directory: who owns it
PREFIX = "cqrs-testbed-data-"  #: the directories' names start so
DATA = "data"  #: the PostgreSQL data directory inside
STANDBY = "standby"  #: hot standbys' data directories inside are named so, numbered from 0
STOP_TIMEOUT = 15.0  #: seconds for a fast shutdown before the server is killed
POLL = 0.02  #: seconds between checks that a stopped process is gone


def _stat_fields(pid: int) -> Optional[list[str]]:
    """/proc/PID/stat's fields after the command name (state first), or None when unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def started(pid: int) -> Optional[str]:
    """An identity of process ``pid``'s start (its start time, on Linux), telling it from a later one of the same pid."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None else None


def alive(pid: int, start: Optional[str] = None) -> bool:
    """Whether ``pid`` runs (a zombie does not), and, if ``start`` is given, is the same process as then."""
    fields = _stat_fields(pid)
    if fields is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc: ask the kernel
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False
    return start is None or fields[19] == start


def identity(pid: int) -> dict:
    return {"pid": pid, "start": started(pid)}


def write_marker(directory: Path, owner: int, watchdog: Optional[int]) -> None:
    """Mark ``directory`` as an embedded server's, owned by process ``owner`` and watched by ``watchdog``."""
    path = directory / MARKER
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"owner": identity(owner), "watchdog": None if watchdog is None else identity(watchdog)}, fh)


def read_marker(directory: Path) -> Optional[dict]:
    """The marker of ``directory`` when this user wrote it, else None."""
    path = directory / MARKER
    try:
        if path.is_symlink() or path.stat().st_uid != os.geteuid():
            return None
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _serves(pid: int, data: Path) -> bool:
    """Whether process ``pid`` is a server of data directory ``data`` (checked on its command line where /proc has it)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return alive(pid) and not Path("/proc/self/cmdline").exists()
    return os.fsencode(str(data)) in cmdline


def data_directories(directory: Path) -> list[Path]:
    """The data directories of ``directory``: the primary's, then each standby's."""
    try:
        standbys = sorted(p for p in directory.glob(STANDBY + "*") if p.is_dir() and not p.is_symlink())
    except OSError:
        standbys = []
    return [directory / DATA, *standbys]


def postmaster(data: Path) -> Optional[int]:
    """The pid of the server running on data directory ``data`` (from PostgreSQL's own postmaster.pid), or None."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and alive(pid) and _serves(pid, data) else None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def stop(*pids: int, timeout: float = STOP_TIMEOUT) -> None:
    """Stop servers ``pids`` together: a fast shutdown (SIGINT), then SIGKILL after ``timeout`` seconds; return
    once they are gone."""
    for signum in (signal.SIGINT, signal.SIGKILL):
        left = []
        for pid in pids:
            try:
                os.kill(pid, signum)
                left.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        pids = tuple(pid for pid in left if not _wait_gone(pid, max(0.0, deadline - time.monotonic())))
        if not pids:
            return


def remove(directory: Path, pids: tuple[int, ...] = ()) -> Optional[int]:
    """Stop the servers on ``directory``'s data directories (the primary and its standbys; and processes ``pids``,
    known to be among them) and delete the directory. Returns the pid of a server that was running, or None."""
    datas = data_directories(directory)
    running = [pid for pid in pids if alive(pid) and any(_serves(pid, data) for data in datas)]  # never a reused pid
    for data in datas:
        found = postmaster(data)
        if found is not None and found not in running:
            running.append(found)
    stop(*running)
    shutil.rmtree(directory, ignore_errors=True)
    return running[0] if running else None


def sweep(parent: Path, say: Callable[[str], None]) -> list[Path]:
    """Stop and remove the embedded servers an earlier command left in ``parent``: ours by their marker, with
    owner and watchdog gone. One line through ``say`` for each; returns their directories."""
    removed = []
    try:
        candidates = sorted(parent.glob(PREFIX + "*"))
    except OSError:
        return removed
    for directory in candidates:
        marker = read_marker(directory)
        if marker is None or directory.is_symlink():
            continue
        keepers = [marker.get(role) for role in ("owner", "watchdog")]
        if any(isinstance(k, dict) and isinstance(k.get("pid"), int) and alive(k["pid"], k.get("start"))
               for k in keepers):
            continue  # its command (or the watchdog cleaning up after it) is still at work
        pid = remove(directory)
        say(f"stopped PostgreSQL (pid {pid}) left running by an earlier testbed, and removed {directory}"
            if pid is not None else f"removed {directory}, a server directory an earlier testbed left")
        removed.append(directory)
    return removed


def main(directory: str) -> None:
    """Watch stdin (the command's pipe) until it closes; then stop the server and remove ``directory``."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe's closing ends the watch
    pids = []
    for line in sys.stdin:
        if line.strip().isdigit():
            pids.append(int(line))
    remove(Path(directory), tuple(pids))


if __name__ == "__main__":
    main(sys.argv[1])
