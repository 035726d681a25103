"""Writing output safely: one place for atomic writes and for what may be replaced.

A result directory is written into a staging directory beside it and renamed
into place when complete. ``--force`` replaces only a directory that is a
complete cqrs-sim output (it has our manifest) holding nothing but what
cqrs-sim writes there (:func:`foreign_entries`) — never a file, a device, a
symlink, the working directory or one of its parents, any other directory,
or a new result inside an existing one. A file written by ``capacity -o`` is
replaced (with ``--force``) only if it is a capacity answer.

Every command writes only the kind of directory it makes (:func:`output_kind`:
a run's or testbed's result, a sweep, an optimize directory) and never puts
anything inside a directory of another kind, nor a file the user named
(``capacity -o``, ``fit -o``) inside any of them: it would be foreign there.
While a process writes a destination it holds an exclusive lock
on a lock file beside it, so two writers never interleave; every staging
directory holds a marker file, so the next writer can recognise the
leftovers of a killed one as its own and remove them. Single files
(capacity's JSON, report.html, a sweep's tables) are written to a hidden
temporary file and renamed over the target.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional
from .resultdir import (MARKER, _is_empty_dir, check_outside_outputs, check_placement, check_replaceable,
                        is_capacity_answer, is_replaceable_result, is_result_dir, output_error)


LOCK_SUFFIX = ".cqrs-sim.lock"
MAX_NAME_BYTES = 120


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def safe_dirname(label: str, fallback: str = "scenario") -> str:
    """A directory name for a label: letters, digits, ``.``, ``_``, ``-`` only; never empty, ``.`` or ``..``."""
    text = unicodedata.normalize("NFKC", label)
    text = re.sub(r"[^\w.-]+", "-", text).strip(".-_")
    text = re.sub(r"[-.]*-[-.]*", "-", text)  # "a/../b" -> "a-b", not "a-..-b"
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    text = text.rstrip(".-")
    return text or fallback


class Lock:
    """An exclusive flock on ``PARENT/.NAME.cqrs-sim.lock``, removed when released."""

    def __init__(self, target: str | Path, wait: bool = False, on_wait: Optional[Callable[[str], None]] = None,
                 hint: str = "wait for it to finish"):
        self.hint = hint
        absolute = Path(os.path.abspath(target))
        self.path = absolute.parent / f".{absolute.name}{LOCK_SUFFIX}"
        self.target = Path(target)
        self.wait = wait
        self.on_wait = on_wait
        self.fd: Optional[int] = None

    def acquire(self) -> "Lock":
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                raise output_error(self.target, f"cannot write in {self.path.parent}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                if not self.wait:
                    os.close(fd)
                    raise output_error(self.target, f"another cqrs-sim process (PID {holder}) is writing it; {self.hint}") from None
                if self.on_wait is not None:
                    self.on_wait(f"waiting for cqrs-sim process {holder}, which is writing {self.target}")
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else its holder removed it while we waited: lock the new one
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
                self.fd = fd
                return self
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "Lock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def make_staging(parent: Path, name: str, kind: str = "partial") -> Path:
    """A new hidden directory ``PARENT/.NAME.KIND-XXXX`` holding our marker."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.{kind}-", dir=parent))
    staging.chmod(0o777 & ~_umask())
    (staging / MARKER).write_text(f"{os.getpid()}\n", encoding="ascii")
    return staging


def clean_stale(parent: Path, name: Optional[str] = None) -> list[str]:
    """Remove leftovers of killed writers of ``PARENT/NAME`` (any name if None); call only holding its lock.

    Ours are ``.NAME.partial-*`` / ``.NAME.old-*`` directories with our marker or
    our manifest (an empty one holds nothing to lose). A moved-aside result whose replacement never arrived is put
    back. Returns one note per thing done or left alone.
    """
    notes: list[str] = []
    if not parent.is_dir():
        return notes
    pattern = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-[A-Za-z0-9_]+$")
    for entry in sorted(parent.iterdir()):
        match = pattern.match(entry.name)
        if not match or (name is not None and match["name"] != name) or entry.is_symlink() or not entry.is_dir():
            continue
        if not ((entry / MARKER).is_file() or is_result_dir(entry) or _is_empty_dir(entry)):
            notes.append(f"{entry} looks like an interrupted write but is not recognisably cqrs-sim's; left alone")
            continue
        final = parent / match["name"]
        if match["kind"] == "old" and not os.path.lexists(final) and is_result_dir(entry):
            os.rename(entry, final)
            notes.append(f"restored {final} from an interrupted replacement")
            continue
        shutil.rmtree(entry, ignore_errors=True)
        notes.append(f"removed {entry}, left by an interrupted cqrs-sim process")
    return notes


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def swap_into_place(staging: Path, target: Path, may_replace: Callable[[Path], bool] = is_result_dir) -> None:
    """Put a finished staging directory at ``target``; an existing result (or empty directory) is removed after."""
    (staging / MARKER).unlink(missing_ok=True)
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if not (may_replace(target) or _is_empty_dir(target)):
        raise output_error(target, "changed while it was being written and is no longer a cqrs-sim result; "
                                   f"not replaced; the new result is in {staging}")
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)  # a free name the cleanup recognises; the result moved there keeps its manifest
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


class Destination:
    """A result directory being written: checked and locked on entry, staged, and swapped in by :meth:`commit`.

    ``with Destination(path, force) as dest: write files into dest.staging; dest.commit()``.
    Leaving the block without ``commit`` removes the staging directory; the lock
    is held until the block ends (so plots drawn after ``commit`` are covered).
    """

    def __init__(self, target: str | Path, force: bool = False, notify: Optional[Callable[[str], None]] = None):
        self.target = Path(target)
        self.force = force
        self.notify = notify or (lambda _message: None)
        self.staging: Path = Path()
        self.committed = False
        self._lock: Optional[Lock] = None

    def __enter__(self) -> "Destination":
        check_replaceable(self.target, self.force)
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(self.target, f"cannot create {self.target.parent}: {exc.strerror}") from None
        self._lock = Lock(self.target, wait=self.force, on_wait=self.notify,
                          hint="wait for it, or pass --force to replace its result after it").acquire()
        try:
            for note in clean_stale(self.target.parent, self.target.name):
                self.notify(note)
            check_replaceable(self.target, self.force)  # again: it may have appeared while we waited
            self.staging = make_staging(self.target.parent, self.target.name)
        except BaseException:
            self._lock.release()
            raise
        return self

    def commit(self) -> Path:
        swap_into_place(self.staging, self.target, may_replace=is_replaceable_result)
        self.committed = True
        return self.target

    def __exit__(self, *exc) -> None:
        try:
            if not self.committed:
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            assert self._lock is not None
            self._lock.release()


@contextmanager
def staged_files(directory: Path, notify: Optional[Callable[[str], None]] = None) -> Iterator[Path]:
    """A staging directory whose files, when the block ends normally, replace same-named files in ``directory``.

    Call it holding the lock of ``directory.parent`` (its leftovers are cleaned on entry).
    Files of ``directory`` that are not redrawn stay (``plot --plot-format svg`` keeps the PNGs).
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    for note in clean_stale(directory.parent, directory.name):
        (notify or (lambda _m: None))(note)
    staging = make_staging(directory.parent, directory.name)
    try:
        yield staging
        (staging / MARKER).unlink()
        if directory.is_symlink() or (os.path.lexists(directory) and not directory.is_dir()):
            raise output_error(directory, "exists and is not a directory; not replaced")
        directory.mkdir(exist_ok=True)
        for item in sorted(staging.iterdir()):
            os.replace(item, directory / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_file_target(path: Path) -> None:
    """Raise unless ``path``, a file the user named (``capacity -o``, ``fit -o``), can be written now: outside
    every directory cqrs-sim wrote, in a directory that exists and is writable, and no special file."""
    check_outside_outputs(path, what="file")
    _check_writable_file(path)


def _check_writable_file(path: Path) -> None:
    """Raise unless ``path`` can be written as a file now: its directory exists and is writable, it is no special file."""
    check_placement(path)
    parent = Path(os.path.abspath(path)).parent
    if not parent.is_dir():
        raise output_error(path, f"directory {parent} does not exist")
    if path.is_symlink():
        raise output_error(path, "is a symlink; give the file itself (a symlink is never replaced)")
    if os.path.lexists(path) and not path.is_file():
        raise output_error(path, "exists and is not a regular file; it is never replaced")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise output_error(path, f"cannot write in {parent}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path: Path, force: bool, ours: Callable[[Path], bool], what: str) -> None:
    """Raise unless a file the user named may be written: new, or (with ``force``) one the tool wrote for the same
    command (``ours`` recognises it; ``what`` names it: "a cqrs-sim capacity answer"). See :func:`check_file_target`."""
    check_file_target(path)
    if not os.path.lexists(path):
        return
    if not ours(path):
        raise output_error(path, f"exists and is not {what}; it is never replaced, even with --force")
    if not force:
        raise output_error(path, "already exists; pass --force to replace it, or -o for another file")


def check_answer_file(path: Path, force: bool) -> None:
    """Raise unless ``path`` may be written as a capacity answer: new, or (with ``force``) a capacity answer."""
    check_output_file(path, force, is_capacity_answer, "a cqrs-sim capacity answer")


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A hidden temporary path beside ``path``, renamed over it when the block ends normally."""
    _check_writable_file(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=Path(os.path.abspath(path)).parent)
    os.close(fd)
    temporary = Path(name)
    temporary.chmod(0o666 & ~_umask())
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> Path:
    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


__all__ = ["Destination", "Lock", "atomic_file", "check_answer_file", "check_file_target", "check_output_file",
           "clean_stale", "make_staging", "safe_dirname", "staged_files", "swap_into_place", "write_text_atomic"]
