"""The testbed's secrets and server: passwords never shown or saved, the embedded server ours alone and never left running.

Each case runs the real command (or a real embedded PostgreSQL) and looks at
what a user, or another account on the machine, could see afterwards. Waits
poll for a file or a process with a deadline; nothing sleeps and hopes.
Linux only where it reads /proc.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

from cqrs_sim.testbed import ServerError
from cqrs_sim.testbed import watchdog
from cqrs_sim.testbed.server import EmbeddedServer

from .conftest import ROOT, SCENARIOS
from .test_processes import DEADLINE, ENTRY, wait_until
from .test_testbed import postgres_available, scratch  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.testbed,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")]
CRUD = str(SCENARIOS / "testbed_crud.yaml")
SHORT = ["--set", "duration=2s", "--set", "replications=1"]


def _command(args: list[str], tmp: Path, env: dict | None = None, timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    """The real console script (as a user runs it), with its temporary files (crash files) kept in ``tmp``."""
    environment = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    environment.update({"TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1", **(env or {})})
    return subprocess.run(ENTRY + args, cwd=ROOT, capture_output=True, text=True, env=environment, timeout=timeout)


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {needle!r}" for needle in needles if needle.encode() in data]
    return found


def _refused(result: subprocess.CompletedProcess, needles: list[str]) -> None:
    """Exit 2 with our own one-line message, and no password anywhere in what was printed."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle not in result.stdout + result.stderr, result.stderr


# ---- item: a password never reaches a file, stdout or stderr ----------------------------------------------------

@pytest.fixture(scope="module")
def password_role(postgres_available):
    """An embedded server with a role that logs in by password and may create databases: (server, user, password)."""
    import psycopg

    password = f"Pa ss'w%{secrets.token_hex(6)}"  # a blank, a quote and a percent: every form must encode it
    with EmbeddedServer() as server:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE tb_user LOGIN CREATEDB PASSWORD '{password.replace(chr(39), chr(39) * 2)}'")
        yield server, "tb_user", password


def _escaped(password: str) -> str:
    """``password`` as written inside libpq's single quotes."""
    return password.replace("\\", "\\\\").replace("'", "\\'")


def _dsn_forms(server: EmbeddedServer, user: str, password: str) -> dict[str, tuple[str, dict]]:
    return {
        "url": (f"postgresql://{user}:{quote(password, safe='')}@/postgres?host={quote(str(server.directory), safe='')}",
                {}),
        "keyword": (f"host={server.directory} user={user} dbname=postgres password='{_escaped(password)}'", {}),
        "environment": (f"host={server.directory} user={user} dbname=postgres", {"PGPASSWORD": password}),
    }


@pytest.mark.parametrize("form", ["url", "keyword", "environment"])
def test_a_password_given_in_any_form_is_in_no_output(form, password_role, tmp_path):
    """A testbed run on a server that needs a password: the run succeeds, and neither the password nor its
    URL-encoded form is in any file it wrote (manifest, tables, plots), in a crash file, on stdout or on stderr."""
    server, user, password = password_role
    dsn, env = _dsn_forms(server, user, password)[form]
    out, temporary = tmp_path / "out", tmp_path / "tmp"
    temporary.mkdir()
    plots = [] if form == "url" else ["--no-plots"]
    result = _command(["testbed", CRUD, "-o", str(out), "--dsn", dsn, *SHORT, *plots], temporary, env)
    assert result.returncode == 0, result.stderr
    needles = [password, quote(password, safe=""), _escaped(password), password[-12:]]  # the random tail: any form
    assert (out / "manifest.json").exists() and "--dsn" in (out / "manifest.json").read_text()
    assert _files_holding(out, needles) == [] and _files_holding(temporary, needles) == []
    assert not [n for n in needles if n in result.stdout + result.stderr], result.stderr
    if form == "url":
        assert (out / "plots").is_dir()


@pytest.mark.parametrize("dsn", [
    "postgresql://u:SeCrEt%zzPw8x@host/db",  # a bad percent escape: libpq's message quotes the password
    "host=h user=u password Pw9Secret dbname=d",  # a keyword without "="
    "host=h password='Pw10Secret dbname=d",  # a quote never closed
    "postgresql://u:Pw11@Secret@host/db",  # a raw '@' in the password: libpq would take "Secret@host" as the host
    "postgresql://u:Pw12Secret@[::1/db",  # a bracket never closed
])
def test_a_malformed_dsn_is_our_one_line_without_the_password(dsn, tmp_path):
    result = _command(["testbed", CRUD, "-o", str(tmp_path / "out"), "--dsn", dsn], tmp_path)
    _refused(result, ["Secret", "SeCrEt", "Pw11"])
    assert "the --dsn value is not a PostgreSQL connection string" in result.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("cqrs-sim-crash-*"))


def test_an_unreachable_server_and_a_misplaced_dsn_hide_the_password(tmp_path):
    """The server's refusal (libpq's words, redacted), and click's usage error for a DSN given without --dsn."""
    unreachable = _command(["testbed", CRUD, "-o", str(tmp_path / "out"), "--dsn",
                            "postgresql://u:Pw13Secret@127.0.0.1:1/db?connect_timeout=5"], tmp_path)
    _refused(unreachable, ["Pw13Secret"])
    assert unreachable.stderr.startswith("error: testbed: cannot connect to the server given by --dsn")
    misplaced = _command(["testbed", CRUD, "postgresql://u:Pw14Secret@host/db"], tmp_path)
    assert misplaced.returncode == 2 and "Pw14Secret" not in misplaced.stdout + misplaced.stderr, misplaced.stderr
    assert "postgresql://u:***@host/db" in misplaced.stderr  # the mistake is still shown, without the password


# ---- item: the embedded server is ours alone -------------------------------------------------------------------

def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _listening(table: str) -> set[str]:
    """Inodes of listening sockets in /proc/net/TABLE (tcp, tcp6: state 0A; unix: state 01 with the listen flag)."""
    try:
        rows = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
    except OSError:
        return set()
    if table == "unix":
        return {row.split()[6] for row in rows if len(row.split()) >= 7 and row.split()[3] == "00010000"}
    return {row.split()[9] for row in rows if row.split()[3] == "0A"}


def _connect_as(uid: int, dsn: str) -> str:
    """Try ``dsn`` from a forked child running as ``uid``; 'connected' or the refusal's message."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            import psycopg

            psycopg.connect(dsn, connect_timeout=5).close()
            message = "connected"
        except BaseException as exc:  # noqa: BLE001 - the message is the answer
            message = f"refused: {exc}"
        os.write(write, message.encode(errors="replace")[:4000])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        answer = fh.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return answer


def test_the_embedded_server_is_ours_alone(postgres_available, scratch, monkeypatch):
    """No TCP listener; a socket directory of mode 0700 owned by the server's account; a password every time.

    Without the password (or with a wrong one) PostgreSQL refuses; another OS account is refused even with the
    right password, because it cannot enter the directory that holds the socket.
    """
    import psycopg

    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(scratch / "no-such-pgpass"))
    with EmbeddedServer() as server:
        directory = server.directory
        status = directory.stat()
        assert status.st_mode & 0o777 == 0o700
        server_account = 65534 if os.geteuid() == 0 else os.geteuid()  # as root the server runs as nobody
        assert status.st_uid == _owner(server.process.pid) == server_account
        sockets = _socket_inodes(server.process.pid)
        assert sockets & _listening("unix")  # it does listen, on its Unix socket: the TCP check below is not vacuous
        assert not sockets & (_listening("tcp") | _listening("tcp6")), "the server listens on TCP"
        no_password = f"host={directory} user=postgres dbname=postgres"
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(no_password, connect_timeout=5)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(no_password + " password=guessed", connect_timeout=5)
        psycopg.connect(server.dsn, connect_timeout=5).close()  # and the run's own client gets in
        if os.geteuid() == 0:  # another account (not root, not the server's) with the right password
            answer = _connect_as(54321, server.dsn)
            assert answer.startswith("refused:") and "Permission denied" in answer, answer
        assert not [p for p in directory.rglob("*") if p.is_file() and server.password.encode() in p.read_bytes()]
    assert not directory.exists()


def test_hot_standbys_replicate_with_no_password_stored_and_are_ours_alone(postgres_available, scratch, monkeypatch):
    """Standbys of the embedded server: each streams from the primary (pg_stat_replication) on its own Unix socket,
    no TCP; the password is in no file anywhere under the server's directory (configuration, logs, the base
    backups); a connection without the password is refused on the primary and on each standby, and so is a
    logical replication connection; a physical replication connection is let in by peer only for the server's
    own OS account; another account cannot reach the sockets at all."""
    import psycopg

    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(scratch / "no-such-pgpass"))
    with EmbeddedServer(standbys=2, apply_delay=0.0) as server:
        directory = server.directory
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            streaming = conn.execute("SELECT application_name, state FROM pg_stat_replication ORDER BY 1").fetchall()
        assert streaming == [("standby0", "streaming"), ("standby1", "streaming")]
        assert len(server.standby_dsns) == 2
        for dsn, process in zip(server.standby_dsns, server.standby_processes):
            with psycopg.connect(dsn, autocommit=True) as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            sockets = _socket_inodes(process.pid)
            assert sockets & _listening("unix") and not sockets & (_listening("tcp") | _listening("tcp6"))
            no_password = dsn.replace(f" password={server.password}", "")
            assert "password" not in no_password
            with pytest.raises(psycopg.OperationalError, match="no password supplied"):
                psycopg.connect(no_password, connect_timeout=5)
            with pytest.raises(psycopg.OperationalError, match="no password supplied"):
                psycopg.connect(no_password + " replication=database", connect_timeout=5)  # logical: by password
        primary = server.dsn.replace(f" password={server.password}", "")
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(primary, connect_timeout=5)
        if os.geteuid() == 0:  # the server runs as nobody: root is not its account, peer refuses root
            with pytest.raises(psycopg.OperationalError, match="Peer authentication failed"):
                psycopg.connect(primary + " replication=true", connect_timeout=5)
            for dsn in [server.dsn, *server.standby_dsns]:  # another account, with the password: no way in
                answer = _connect_as(54321, dsn)
                assert answer.startswith("refused:") and "Permission denied" in answer, answer
        else:  # the server's own account (which owns the data directories anyway) may replicate
            psycopg.connect(primary + " replication=true", connect_timeout=5).close()
        conf = (directory / f"{watchdog.STANDBY}0" / "postgresql.auto.conf").read_text()
        assert "primary_conninfo" in conf and "password" not in conf
        needles = [server.password, server.password[-12:]]
        assert _files_holding(directory, needles) == []
        datas = [p for p in directory.glob(f"{watchdog.STANDBY}*") if p.is_dir()]
        assert len(datas) == 2 and all(p.stat().st_mode & 0o077 == 0 for p in [directory, *datas])
        standbys = [p.pid for p in server.standby_processes]
    assert not directory.exists()
    assert not any(watchdog.alive(pid) for pid in standbys)


def _owner(pid: int) -> int:
    return Path(f"/proc/{pid}").stat().st_uid


# ---- item: the server never outlives the command -----------------------------------------------------------------

def _postmaster_of(directory: Path, data: str = watchdog.DATA) -> int | None:
    try:
        return int((directory / data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("name, standbys", [("testbed_cqrs.yaml", 0), ("testbed_replicas.yaml", 2)])
def test_kill_9_of_the_command_stops_the_server_and_removes_its_directory(postgres_available, scratch, name,
                                                                          standbys):
    """The primary and (CRUD with streaming replicas) every hot standby are stopped, and their directories removed."""
    ready = scratch / "ready"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CQRS_SIM_READY_FILE": str(ready), "TMPDIR": str(scratch)}
    proc = subprocess.Popen(ENTRY + ["testbed", str(SCENARIOS / name), "-o", str(scratch / "out")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        wait_until(ready.exists, "readiness file", proc)
        directories = list(scratch.glob(watchdog.PREFIX + "*"))
        assert len(directories) == 1
        datas = [watchdog.DATA] + [f"{watchdog.STANDBY}{r}" for r in range(standbys)]
        wait_until(lambda: all(_postmaster_of(directories[0], d) is not None for d in datas), "postmaster.pid", proc)
        postmasters = [_postmaster_of(directories[0], d) for d in datas]
        assert all(watchdog.alive(pid) for pid in postmasters) and len(set(postmasters)) == 1 + standbys
    finally:
        proc.kill()  # SIGKILL to the command alone: no handler runs, no finally
        proc.communicate()
    wait_until(lambda: not any(watchdog.alive(pid) for pid in postmasters), "end of the postmasters")
    wait_until(lambda: not directories[0].exists(), "removal of the server's directory")
    assert not (scratch / "out").exists()


_LEFT_BEHIND = """
import sys
from cqrs_sim.testbed.server import EmbeddedServer
server = EmbeddedServer().__enter__()
print(server.directory, server.watchdog.pid, server.process.pid, flush=True)
sys.stdin.read()  # holds the server until killed
"""


def test_a_server_an_earlier_command_left_is_stopped_and_removed_by_the_next(postgres_available, scratch, monkeypatch):
    """A command and its watchdog both killed (-9) leave a running server; the next embedded server stops it,
    removes its directory and says so in one line, and leaves alone a live run's server and a directory that is
    not marked as ours."""
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    foreign = scratch / (watchdog.PREFIX + "not-ours")
    foreign.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    with EmbeddedServer() as live:  # a run in progress: the sweep must leave it alone
        earlier = subprocess.Popen([sys.executable, "-c", _LEFT_BEHIND], cwd=ROOT, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
        line = earlier.stdout.readline().split()
        assert len(line) == 3, "the earlier server did not start"
        left, guard, postmaster = Path(line[0]), int(line[1]), int(line[2])
        os.kill(guard, signal.SIGKILL)  # no watchdog any more ...
        wait_until(lambda: not watchdog.alive(guard), "end of the watchdog")
        earlier.kill()  # ... and no command: the server is left running, re-parented
        earlier.communicate()
        assert watchdog.alive(postmaster) and left.exists()
        said: list[str] = []
        with EmbeddedServer(said.append) as later:
            assert said == [f"stopped PostgreSQL (pid {postmaster}) left running by an earlier testbed, "
                            f"and removed {left}"]
            assert not watchdog.alive(postmaster) and not left.exists()
            assert live.directory.exists() and watchdog.alive(live.process.pid)
            assert later.directory.exists()
    assert foreign.exists()  # no marker: not ours to touch


def test_a_server_that_cannot_start_is_removed_by_its_watchdog_too(postgres_available, scratch, monkeypatch):
    """After a failed start nothing is left: no directory, no watchdog, no server."""
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setitem(sys.modules["cqrs_sim.testbed.server"].SERVER_SETTINGS, "shared_buffers", "1kB")
    server = EmbeddedServer()
    with pytest.raises(ServerError):
        server.__enter__()
    assert not list(scratch.glob(watchdog.PREFIX + "*"))
    assert not _processes_mentioning(str(scratch))  # neither the watchdog nor a server


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes() and watchdog.alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_copy_of_the_binaries_planted_by_another_user_is_refused(tmp_path, monkeypatch):
    """As root the server runs as nobody, from a shared copy of the binaries in the temporary directory when
    nobody cannot reach the installed ones: a copy made by another account is refused, not run."""
    from cqrs_sim.testbed import server as server_module

    if os.geteuid() != 0:
        assert server_module._unprivileged() is None  # no other account runs the server: no copy is ever made
        return
    installed = tmp_path / "private" / "pgserver" / "pginstall" / "bin"  # under pytest's 0700 directory
    installed.mkdir(parents=True)
    (installed / "postgres").write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 99.9test'\n")
    (installed / "postgres").chmod(0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    account = server_module._unprivileged()
    made = server_module._reachable(installed, account)  # nobody cannot enter tmp_path: a copy is made ...
    assert made == shared / "cqrs-testbed-postgresql-99.9test" / "pgserver" / "pginstall" / "bin"
    assert (made / "postgres").read_text() == (installed / "postgres").read_text()
    assert server_module._reachable(installed, account) == made  # ... once, then shared
    planted = shared / "cqrs-testbed-postgresql-99.9test"
    for path in [planted, *planted.rglob("*")]:
        os.chown(path, *account, follow_symlinks=False)  # as if nobody had put it there first
    with pytest.raises(ServerError, match="was not made by this user"):
        server_module._reachable(installed, account)
