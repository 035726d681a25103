"""Hot standbys of the embedded server: real streaming replication on the same machine, with no password on disk.

Each standby is a base backup of the primary taken by the embedded
PostgreSQL's own ``pg_basebackup`` into a data directory of its own
(:data:`.watchdog.STANDBY` ``0``, ``1``…) inside the server's 0700
directory, started with ``standby.signal`` on its own port of the same
Unix-socket directory (no TCP). ``pg_basebackup -R`` would write the
superuser's password into ``primary_conninfo``; instead the primary lets a
*physical replication* connection on its Unix socket in by ``peer``
authentication, mapped through ``pg_ident.conf`` from the OS account that
runs the server (which owns the data directories anyway) to the superuser,
and ``primary_conninfo`` is written here without a password. Every other
connection (any database, a logical replication connection, another OS
account) still needs the password (``scram-sha-256``), and another account
cannot even enter the socket's directory.

A standby replays each commit no sooner than ``recovery_min_apply_delay``
after the primary wrote it (both clocks are the machine's); set from the
scenario's ``crud.replication_lag`` where it asks for more than local
replication gives (:func:`apply_delay`). ``hot_standby_feedback`` keeps the
primary from removing row versions a standby's running read still needs, so
replay is not held back by cleanup conflicts.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path
from typing import Callable

from ..core.redact import redact
from .watchdog import STANDBY

PORT = 5432  #: the primary's port number (its socket file's name); standby r listens on PORT + 1 + r
IDENT_MAP = "server_account"  #: pg_ident.conf's map from the server's OS account to the superuser
BACKUP_TIMEOUT = 120.0  #: seconds for one base backup


#: hot standbys the testbed starts at most: each is a whole PostgreSQL server on the same machine, and the primary's
#: default max_wal_senders (10) feeds 8 standbys and the base backup (two senders) of the last
MAX_STANDBYS = 8


class StandbyError(RuntimeError):
    """A standby could not be made; the message is one line."""


def port(standby: int) -> int:
    return PORT + 1 + standby


def data_directory(directory: Path, standby: int) -> Path:
    return directory / f"{STANDBY}{standby}"


def os_account_name(account: tuple[int, int] | None) -> str:
    """The login name of the OS account the server runs as (``account``'s, or ours)."""
    return pwd.getpwuid(account[0] if account is not None else os.geteuid()).pw_name


def allow_replication(data: Path, superuser: str, account: tuple[int, int] | None) -> None:
    """Rewrite the primary's ``pg_hba.conf`` (before it starts): physical replication on the Unix socket by peer,
    for the server's OS account as ``superuser`` only; every other connection by password. And its map."""
    (data / "pg_hba.conf").write_text(
        "# cqrs-sim testbed: physical replication by the server's own OS account (peer, no password stored anywhere);\n"
        "# every other connection by password. No TCP: the server listens on its Unix socket only.\n"
        f"local   replication   {superuser}   peer map={IDENT_MAP}\n"
        "local   all           all           scram-sha-256\n")
    (data / "pg_ident.conf").write_text(f"{IDENT_MAP}   {os_account_name(account)}   {superuser}\n")


def apply_delay(lag) -> float:
    """Seconds of ``recovery_min_apply_delay`` for a scenario's ``crud.replication_lag``: its mean, in whole
    milliseconds (PostgreSQL's unit). The mean, because a standby delays every commit by one constant, and the
    mean is what the model's visibility and stale-read fraction grow with first; local replication adds its few
    milliseconds on top, measured by the calibration and fitted from what each standby really did."""
    return round(float(lag.mean), 3)


def base_backup(binaries: Path, directory: Path, standby: int, superuser: str, user: dict) -> Path:
    """Take a base backup of the primary (on :data:`PORT` in ``directory``) into standby ``standby``'s data
    directory, as the server's account (``user``: subprocess arguments), over a peer-authenticated replication
    connection. Returns the data directory."""
    target = data_directory(directory, standby)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # nothing of the user's libpq settings
    done = subprocess.run([str(binaries / "pg_basebackup"), "-D", str(target), "-h", str(directory), "-p", str(PORT),
                           "-U", superuser, "-X", "stream", "-c", "fast", "--no-sync", "-w"],
                          capture_output=True, text=True, env=env, timeout=BACKUP_TIMEOUT, **user)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise StandbyError(f"pg_basebackup of standby {standby} failed: {redact(lines[-1] if lines else 'no message')}")
    return target


def configure(target: Path, directory: Path, standby: int, superuser: str, delay: float,
              account: tuple[int, int] | None) -> None:
    """Make ``target`` (a base backup) a hot standby of the primary: ``standby.signal``, and ``primary_conninfo``
    without a password, ``recovery_min_apply_delay`` and ``hot_standby_feedback`` in ``postgresql.auto.conf``."""
    conninfo = f"host={directory} port={PORT} user={superuser} application_name={STANDBY}{standby}"
    settings = {"primary_conninfo": conninfo, "recovery_min_apply_delay": f"{round(delay * 1000)}ms",
                "hot_standby_feedback": "on"}
    with open(target / "postgresql.auto.conf", "a", encoding="utf-8") as fh:
        for name, value in settings.items():
            fh.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")
    signal_file = target / "standby.signal"
    signal_file.touch()
    if account is not None:
        os.chown(signal_file, *account)


def start(binaries: Path, directory: Path, standby: int, settings: list[str], user: dict,
          popen: Callable[..., subprocess.Popen] = subprocess.Popen) -> subprocess.Popen:
    """Start standby ``standby``'s postmaster on its port, logging to ``standbyN.log`` in ``directory``."""
    log = open(directory / f"{STANDBY}{standby}.log", "wb")
    try:
        return popen([str(binaries / "postgres"), "-D", str(data_directory(directory, standby)), "-k", str(directory),
                      "-p", str(port(standby)), *settings],
                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **user)
    finally:
        log.close()
