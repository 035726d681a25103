"""The PostgreSQL server a testbed run talks to: an embedded one it starts and stops, or the user's (``--dsn``).

Embedded: the ``pgserver`` wheel ships PostgreSQL binaries; the run calls
``initdb`` into a fresh temporary directory, starts ``postgres`` as its own
child process, and on leaving (normally, on an error, or on Ctrl-C) stops it
and deletes the directory. PostgreSQL refuses to run as root; as root the
server runs as the unprivileged ``nobody`` account instead, from a
world-readable copy of the binaries when ``nobody`` cannot reach the
installed ones (``pgserver``'s own launcher instead adds a system user and
widens permissions on every directory up the path). A server that cannot
start raises :class:`ServerError` with one line saying why, after removing
everything it made.

The server is the run's alone: it listens on no TCP address, only on a Unix
socket in its directory, which only its owner (the server's account) can
enter (mode 0700; root, running the command, enters anyway); and every
connection needs the superuser's password (``scram-sha-256``), drawn at
random for each run, handed to ``initdb`` through a pipe and to the client
in memory: it is never written to a file. A watchdog process
(:mod:`.watchdog`) stops the server and removes its directory when the
command ends, even by ``kill -9``, and each new embedded server first stops
and removes any that an earlier command left.

With ``standbys`` > 0 the embedded server also starts that many hot
standbys of itself (:mod:`.standbys`: real streaming replication, each on
its own port of the same socket directory, authenticated without any stored
password); the watchdog stops them with the primary. A ``--dsn`` server
gets none: the testbed cannot build replicas of a server it does not run.

Either way the run works only in databases it creates itself, named
``cqrs_testbed_<random>_…``; it drops exactly those and never touches another.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..core.redact import redact, remember
from . import standbys as standby_setup
from . import watchdog
from .watchdog import STOP_TIMEOUT

START_TIMEOUT = 60.0  #: seconds for the embedded server to accept connections
WATCHDOG_TIMEOUT = STOP_TIMEOUT + 5.0  #: seconds to wait for the watchdog to stop the server and remove it
SUPERUSER = "postgres"
SERVER_SETTINGS = {  # a scratch server: nothing here must survive a crash
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
    "max_connections": "200", "shared_buffers": "32MB", "log_min_messages": "warning",
    "listen_addresses": "", "unix_socket_permissions": "0700",  # no TCP; the socket is its owner's alone
}


class ServerError(RuntimeError):
    """The testbed's server could not be started or reached; the message is one line."""


def _binaries() -> Path:
    from importlib.util import find_spec

    spec = find_spec("pgserver")  # located, not imported: its import sets up machinery the testbed does not use
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded PostgreSQL needs the testbed extra: pip install 'cqrs-sim[testbed]' "
                          "(from a clone of the project: pip install '.[testbed]'), or pass --dsn URL of a server "
                          "you run")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _unprivileged() -> tuple[int, int] | None:
    """(uid, gid) of the account the server runs as when we are root (PostgreSQL refuses root); None otherwise."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        raise ServerError("running as root, and PostgreSQL refuses root: the server would run as 'nobody', "
                          "which this system does not have (run as another user, or pass --dsn)") from None
    return entry.pw_uid, entry.pw_gid


def _as_user(account: tuple[int, int] | None) -> dict:
    return {} if account is None else {"user": account[0], "group": account[1], "extra_groups": []}


def _reachable(binaries: Path, account: tuple[int, int] | None) -> Path:
    """The binaries, or (as root, where ``account`` cannot reach them, e.g. under /root) a world-readable copy.

    The copy is made once per machine, under the temporary directory, and renamed into place whole, so
    concurrent runs share it; a copy that another user made (or may change) is refused.
    """
    if account is None:
        return binaries
    try:
        if subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, **_as_user(account)).returncode == 0:
            return binaries
    except PermissionError:
        pass
    version = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, text=True).stdout
    tag = "".join(c for c in version.split()[-1] if c.isalnum() or c == ".") if version.split() else "unknown"
    home = Path(tempfile.gettempdir()) / f"cqrs-testbed-postgresql-{tag}"
    install = binaries.parent  # .../site-packages/pgserver/pginstall; its libraries are in .../pgserver.libs
    if not (home / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
        shutil.copytree(install, staging / "copy" / "pgserver" / "pginstall", symlinks=True)
        for libs in install.parent.parent.glob("pgserver*.libs"):
            shutil.copytree(libs, staging / "copy" / libs.name, symlinks=True)
        for path in [staging, *(staging / "copy").rglob("*"), staging / "copy"]:
            if not path.is_symlink():
                mode = path.stat().st_mode
                path.chmod(mode | (0o055 if path.is_dir() or mode & 0o100 else 0o044))
        try:
            os.rename(staging / "copy", home)
        except OSError:
            pass  # another run put its copy in place first
        shutil.rmtree(staging, ignore_errors=True)
    status = home.lstat()
    if home.is_symlink() or status.st_uid != os.geteuid() or status.st_mode & 0o022:
        raise ServerError(f"{home} was not made by this user, or others may write in it: the server would run "
                          "binaries someone else placed; remove it")
    return home / "pgserver" / "pginstall" / "bin"


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


class EmbeddedServer:
    """A throwaway PostgreSQL server in a temporary directory, ours alone; use as a context manager.

    ``say`` receives one line for each server an earlier command left running, stopped and removed first.
    ``standbys``: hot standbys to start beside it, each replaying commits ``apply_delay`` seconds after the
    primary wrote them (:mod:`.standbys`).
    """

    def __init__(self, say: Optional[Callable[[str], None]] = None, standbys: int = 0,
                 apply_delay: float = 0.0) -> None:
        self.say = say or (lambda _line: None)
        self.standbys = standbys
        self.apply_delay = apply_delay
        self.directory: Optional[Path] = None
        self.process: Optional[subprocess.Popen] = None
        self.standby_processes: list[subprocess.Popen] = []
        self.watchdog: Optional[subprocess.Popen] = None
        self.password = secrets.token_urlsafe(24)
        remember(self.password)

    @property
    def dsn(self) -> str:
        return (f"host={self.directory} port={standby_setup.PORT} user={SUPERUSER} dbname=postgres "
                f"password={self.password}")

    @property
    def standby_dsns(self) -> list[str]:
        """Each running standby's DSN (its ``postgres`` database; the same superuser and password)."""
        return [self.dsn.replace(f" port={standby_setup.PORT} ", f" port={standby_setup.port(r)} ")
                for r in range(len(self.standby_processes))]

    def __enter__(self) -> "EmbeddedServer":
        try:
            self._start()
        except (OSError, standby_setup.StandbyError, subprocess.TimeoutExpired) as exc:
            self.stop()
            raise ServerError(f"cannot start PostgreSQL: {redact(str(exc))}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        account = _unprivileged()
        binaries = _reachable(_binaries(), account)
        parent = Path(tempfile.gettempdir())
        watchdog.sweep(parent, self.say)
        self.directory = Path(tempfile.mkdtemp(prefix=watchdog.PREFIX, dir=parent))  # mode 0700
        self.watchdog = subprocess.Popen([sys.executable, "-I", watchdog.__file__, str(self.directory)],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True, text=True)
        watchdog.write_marker(self.directory, os.getpid(), self.watchdog.pid)
        user = _as_user(account)
        if account is not None:
            os.chown(self.directory, *account)  # still 0700: the server's account enters, others do not
        data = self.directory / watchdog.DATA
        self._initdb(binaries, data, account)
        if self.standbys:
            standby_setup.allow_replication(data, SUPERUSER, account)
        settings = [arg for name, value in SERVER_SETTINGS.items() for arg in ("-c", f"{name}={value}")]
        log = open(self.directory / "server.log", "wb")
        try:
            self.process = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(data), "-k", str(self.directory), "-p", str(standby_setup.PORT),
                 *settings], stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **user)  # Ctrl-C is ours
        finally:
            log.close()
        self._watch(self.process)
        self._wait_ready(self.process, self.dsn, "server.log")
        for r in range(self.standbys):
            target = standby_setup.base_backup(binaries, self.directory, r, SUPERUSER, user)
            standby_setup.configure(target, self.directory, r, SUPERUSER, self.apply_delay, account)
            process = standby_setup.start(binaries, self.directory, r, settings, user)
            self.standby_processes.append(process)
            self._watch(process)
            self._wait_ready(process, self.standby_dsns[r], f"{watchdog.STANDBY}{r}.log")

    def _watch(self, process: subprocess.Popen) -> None:
        """Tell the watchdog about a postmaster it must stop."""
        self.watchdog.stdin.write(f"{process.pid}\n")  # type: ignore[union-attr]
        self.watchdog.stdin.flush()  # type: ignore[union-attr]

    def _initdb(self, binaries: Path, data: Path, account: tuple[int, int] | None) -> None:
        """Create the cluster with the superuser's password read from a pipe (never a file)."""
        read, write = os.pipe()
        try:
            if account is not None:
                os.fchown(read, *account)  # initdb, run as the account, reopens the pipe as /dev/stdin
            init = subprocess.Popen([str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER,
                                     "--auth=scram-sha-256", "--pwfile=/dev/stdin", "--encoding=UTF8", "--no-sync"],
                                    stdin=read, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    **_as_user(account))
            os.close(read)
            read = -1
            os.write(write, f"{self.password}\n".encode())
            os.close(write)
            write = -1
            output = init.communicate()[0]
        finally:
            for fd in (read, write):
                if fd >= 0:
                    os.close(fd)
        if init.returncode != 0:
            raise ServerError(f"initdb failed: {redact(_tail(output))}")

    def _wait_ready(self, process: subprocess.Popen, dsn: str, log: str) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                text = (self.directory / log).read_text(errors="replace") if self.directory else ""
                raise ServerError(f"PostgreSQL exited at start ({process.returncode}): {redact(_tail(text))}")
            try:
                psycopg.connect(dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServerError(f"PostgreSQL did not accept connections within {START_TIMEOUT:g} s: "
                                      f"{redact(_tail(str(exc)))}") from None
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and remove its directory (the watchdog does, once its pipe closes); safe to call twice."""
        process, self.process = self.process, None
        standby_processes, self.standby_processes = self.standby_processes, []
        guard, self.watchdog = self.watchdog, None
        directory, self.directory = self.directory, None
        if guard is not None:
            try:
                guard.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
            try:
                guard.wait(WATCHDOG_TIMEOUT)
            except subprocess.TimeoutExpired:
                guard.kill()
                guard.wait()
        servers = [p for p in [process, *standby_processes] if p is not None]
        if directory is not None:  # the watchdog did this unless it failed; doing it twice is harmless
            watchdog.remove(directory, tuple(p.pid for p in servers))
        for child in servers:
            child.wait()  # our children: reap them


def server_version(dsn: str) -> str:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def with_database(dsn: str, name: str) -> str:
    """``dsn`` (a URL or key=value string) pointing at database ``name``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = name
    return make_conninfo(**params)


class Databases:
    """The databases one run creates on a server, all named ``<prefix>_<suffix>``; dropped on :meth:`drop_all`."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.prefix = f"cqrs_testbed_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def _admin(self):
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)

    def create(self, suffix: str, template: str = "template1") -> str:
        """Create a new database (refusing one that exists: it is not ours); returns its name."""
        name = self.name(suffix)
        with self._admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists:
                raise ServerError(f"database {name} exists and was not created by this run: refusing to use it")
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        """Drop one database this run created (anything else is refused)."""
        if name not in self.created:
            raise ServerError(f"refusing to drop database {name}: this run did not create it")
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self.created)):
            try:
                self.drop(name)
            except Exception:  # the server may be gone already; nothing else to clean
                self.created.remove(name)


def check_dsn(dsn: str) -> None:
    """Raise :class:`ServerError` for a ``--dsn`` that is not a connection string, in our words (libpq's would quote
    the string, password and all)."""
    from psycopg.conninfo import conninfo_to_dict

    scheme, sep, rest = dsn.partition("://")
    authority = rest.split("/", 1)[0] if sep else ""
    try:
        if authority.count("@") > 1:
            raise ValueError("more than one '@' before the host")
        conninfo_to_dict(dsn)
    except Exception:
        raise ServerError("the --dsn value is not a PostgreSQL connection string: write postgresql://USER@HOST/DB "
                          "or key=value pairs (a password best in $PGPASSWORD or ~/.pgpass; in a URL, write "
                          "'@', ':', '/' and '%' in it as %40, %3A, %2F and %25)") from None


@dataclass(frozen=True)
class Cluster:
    """The DSNs a run connects to: the primary's and each hot standby's (their ``postgres`` database)."""

    primary: str
    standbys: tuple[str, ...] = ()


@contextmanager
def cluster(dsn: Optional[str], say: Optional[Callable[[str], None]] = None, standbys: int = 0,
            apply_delay: float = 0.0) -> Iterator[Cluster]:
    """The server to use: ``dsn`` as given, or an embedded server's with ``standbys`` hot standbys replaying
    ``apply_delay`` seconds behind (:mod:`.standbys`), stopped and removed on leaving."""
    if dsn is not None:
        import psycopg

        if standbys:
            raise ServerError("streaming replicas are built only beside the embedded server, not for --dsn")
        check_dsn(dsn)
        try:
            psycopg.connect(dsn, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise ServerError(f"cannot connect to the server given by --dsn: {redact(_tail(str(exc)))}") from None
        yield Cluster(dsn)
        return
    with EmbeddedServer(say, standbys, apply_delay) as embedded:
        yield Cluster(embedded.dsn, tuple(embedded.standby_dsns))


@contextmanager
def server(dsn: Optional[str], say: Optional[Callable[[str], None]] = None) -> Iterator[str]:
    """The DSN of the server to use: ``dsn`` as given, or an embedded server's, stopped and removed on leaving."""
    with cluster(dsn, say) as found:
        yield found.primary
