"""Opening a file a user names: the one place that bounds what is read and how a path is found.

Scenario files (:mod:`cqrs_sim.config.loader`) and data files (:mod:`cqrs_sim.config.datafile`)
are both read through :func:`read_bounded`: a regular file only (never a
directory, device, pipe or socket, and never a wait on a pipe with no
writer), at most a given number of bytes (the file may grow while it is
read), a symlink loop or an unreadable file reported as such. Every problem
is an :class:`InputFileError` saying what is wrong in words; the caller
places it (a scenario's ``(file)``, a data file's key).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Optional


class InputFileError(ValueError):
    """A file that cannot be read as asked; ``message`` says why, without the file's name."""

    def __init__(self, file: str, message: str):
        self.file, self.message = file, message
        super().__init__(f"{file}: {message}")


#: errno -> what it means for a file a user named
_REASONS = {
    errno.ENOENT: "no such file",
    errno.ELOOP: "is a symlink loop (or a chain of more than 40 links)",
    errno.EACCES: "permission denied",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.ENAMETOOLONG: "the path is too long",
}


def _reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0, f"cannot read: {exc.strerror or exc}")


def absolute(name: str, base: Optional[str]) -> str:
    """``name`` as an absolute path, symlinks resolved where they can be; a relative name is relative to ``base``
    (a scenario's directory), ``~`` is the home directory. Never fails: a path that cannot be resolved (a symlink
    loop) is returned as written, for :func:`read_bounded` to report."""
    path = Path(base or ".") / Path(name).expanduser()
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # Python before 3.13 raises RuntimeError for a symlink loop
        return os.path.abspath(path)


def read_bounded(path: str | Path, limit: int, kind: str, typical: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``kind`` names what the file should be
    ("scenario file", "data file") in the messages, ``typical`` says what size one usually is."""
    file = str(path)
    try:
        # non-blocking, so that opening a named pipe with no writer does not wait for one
        with os.fdopen(os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise InputFileError(file, f"is a directory, not a {kind}")
            if not stat.S_ISREG(mode):
                raise InputFileError(file, f"is not a regular file (a device, pipe or socket); give a {kind}")
            data = fh.read(limit + 1)  # never more: the file may grow while we read
    except IsADirectoryError:
        raise InputFileError(file, f"is a directory, not a {kind}") from None
    except OSError as exc:
        raise InputFileError(file, _reason(exc)) from None
    except ValueError as exc:  # a NUL byte in the name
        raise InputFileError(file, f"cannot open: {exc}") from None
    if len(data) > limit:
        raise InputFileError(file, f"is larger than {_size(limit)}" + (f"; {typical}" if typical else ""))
    return data


def _size(limit: int) -> str:
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return f"{limit:,} bytes ({limit >> 20} MiB)"
    return f"{limit:,} bytes"
