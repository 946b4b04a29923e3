"""One sweep per ``out`` file at a time: an exclusive lock on ``.<out>.lock`` beside it,
held from reading the file to the last record written.

The lock is ``fcntl.flock`` on the lock file (POSIX), which holds the pid of its holder;
the operating system drops it when the holder exits, even when it is killed, so a stale
lock file never blocks a sweep. The holder deletes the lock file on its way out while
still holding it, and a process that locked a file that was deleted meanwhile tries
again, so two sweeps never both think they hold it. On systems without ``fcntl``
(Windows) sweeps are not locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from graphdl.core.files import umask
from graphdl.sweep.grid import SweepError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class SweepBusy(SweepError):
    """Another sweep is writing the same ``out`` file."""


def lock_path(out: Path) -> Path:
    """The lock file of ``out``: ``.<name>.lock`` in the same folder."""
    return out.with_name(f".{out.name}.lock")


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the lock of ``out`` for the block. Raises :class:`SweepBusy` (naming the file and
    the holder's pid) when another sweep holds it, :class:`SweepError` when the lock file
    cannot be created (a read-only or special folder)."""
    if fcntl is None:
        yield
        return
    path = lock_path(out)
    descriptor = _acquire(out, path)
    try:
        yield
    finally:
        try:
            os.unlink(path)  # still holding it: a waiting process sees its file gone and retries
        except OSError:
            pass
        os.close(descriptor)  # releases the lock


def _acquire(out: Path, path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            descriptor = os.open(path, flags, 0o666 & ~umask())
        except OSError as error:
            raise SweepError(f"cannot create the lock file {path} of out {str(out)!r}: {error.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise SweepBusy(
                f"{out} is being written by another sweep (pid {holder}, lock file {path}); "
                "wait until it ends, or give another out file"
            ) from None
        except OSError as error:
            os.close(descriptor)
            raise SweepError(f"cannot lock {path} (the lock file of out {str(out)!r}): {error.strerror}") from None
        try:
            current = os.stat(path, follow_symlinks=False)
        except OSError:
            current = None
        opened = os.fstat(descriptor)
        if current is not None and (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev):
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
            return descriptor
        os.close(descriptor)  # the holder before us deleted that file as it finished: lock the new one
