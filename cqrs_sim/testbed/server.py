"""The PostgreSQL server a testbed run talks to: an embedded one it starts and stops, or the user's (``--dsn``).

Embedded: the ``pgserver`` wheel ships PostgreSQL binaries; the run calls
``initdb`` into a fresh temporary directory, starts ``postgres`` as its own
child process listening only on a Unix socket in that directory, and on
leaving (normally, on an error, or on Ctrl-C) stops it and deletes the
directory. PostgreSQL refuses to run as root; as root the server runs as
the unprivileged ``nobody`` account instead, from a world-readable copy of
the binaries when ``nobody`` cannot reach the installed ones (``pgserver``'s
own launcher instead adds a system user and widens permissions on every
directory up the path). A server that cannot start raises :class:`ServerError` with one
line saying why, after removing everything it made.

Either way the run works only in databases it creates itself, named
``cqrs_testbed_<random>_…``; it drops exactly those and never touches another.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

START_TIMEOUT = 60.0  #: seconds for the embedded server to accept connections
STOP_TIMEOUT = 15.0  #: seconds for a fast shutdown before the server is killed
SERVER_SETTINGS = {  # a scratch server: nothing here must survive a crash
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
    "max_connections": "200", "shared_buffers": "32MB", "log_min_messages": "warning",
}


class ServerError(RuntimeError):
    """The testbed's server could not be started or reached; the message is one line."""


def _binaries() -> Path:
    from importlib.util import find_spec

    spec = find_spec("pgserver")  # located, not imported: its import sets up machinery the testbed does not use
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded PostgreSQL needs the testbed extra: pip install 'cqrs-sim[testbed]' "
                          "(or pass --dsn URL of a server you run)")
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
    concurrent runs share it.
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
    return home / "pgserver" / "pginstall" / "bin"


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


class EmbeddedServer:
    """A throwaway PostgreSQL server in a temporary directory; use as a context manager."""

    def __init__(self) -> None:
        self.directory: Optional[Path] = None
        self.process: Optional[subprocess.Popen] = None

    @property
    def dsn(self) -> str:
        return f"host={self.directory} user=postgres dbname=postgres"

    def __enter__(self) -> "EmbeddedServer":
        try:
            self._start()
        except OSError as exc:
            self.stop()
            raise ServerError(f"cannot start PostgreSQL: {exc}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        account = _unprivileged()
        binaries = _reachable(_binaries(), account)
        self.directory = Path(tempfile.mkdtemp(prefix="cqrs-testbed-data-"))
        user = _as_user(account)
        if account is not None:
            os.chmod(self.directory, 0o755)
            os.chown(self.directory, *account)
        data = self.directory / "data"
        init = subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                               "--encoding=UTF8", "--no-sync"], capture_output=True, text=True, **user)
        if init.returncode != 0:
            raise ServerError(f"initdb failed: {_tail(init.stderr or init.stdout)}")
        settings = [arg for name, value in SERVER_SETTINGS.items() for arg in ("-c", f"{name}={value}")]
        log = open(self.directory / "server.log", "wb")
        try:
            self.process = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(data), "-k", str(self.directory), "-h", "", *settings],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **user)  # Ctrl-C is ours to pass on
        finally:
            log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process is not None and self.process.poll() is not None:
                text = (self.directory / "server.log").read_text(errors="replace") if self.directory else ""
                raise ServerError(f"PostgreSQL exited at start ({self.process.returncode}): {_tail(text)}")
            try:
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServerError(f"PostgreSQL did not accept connections within {START_TIMEOUT:g} s: "
                                      f"{_tail(str(exc))}") from None
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown, then kill) and remove its directory; safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


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


@contextmanager
def server(dsn: Optional[str]) -> Iterator[str]:
    """The DSN of the server to use: ``dsn`` as given, or an embedded server's, stopped and removed on leaving."""
    if dsn is not None:
        import psycopg

        try:
            psycopg.connect(dsn, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise ServerError(f"cannot connect to the server given by --dsn: {_tail(str(exc))}") from None
        yield dsn
        return
    with EmbeddedServer() as embedded:
        yield embedded.dsn
