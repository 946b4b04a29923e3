"""Files replaced whole: every file graphdl writes over (checkpoints, graph files, pictures,
animations, sweep files, results, kernel files) is first written to a temporary file that
:func:`tempfile.mkstemp` creates in the destination folder, then renamed over the target.

``mkstemp`` creates a new file under a random name with ``O_EXCL``, so a link planted where
a fixed temporary name would be is never followed, two processes saving the same path at
once never share a temporary file (the last rename wins, whole), and a reader sees the old
file or the new one, never half of one. The temporary file is named
``.<name>.<pid>-<random><suffix>``, so the temporaries that a killed save leaves behind can
be told from those of a save still running.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["fsync_directory", "remove_stray_temporaries", "replacing", "umask", "write_atomically"]

#: What a rename would replace that is no file (refused: ``/dev/null`` must stay a device).
_NOT_FILES = {stat.S_IFCHR: "device", stat.S_IFBLK: "device", stat.S_IFIFO: "pipe", stat.S_IFSOCK: "socket"}


def umask() -> int:
    """The process's umask, read without changing it where the system shows it (changing
    it, even for a moment, races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Flush ``directory``'s entries to disk, so a rename in it survives a crash; a no-op
    where folders cannot be opened or fsynced (Windows)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def replacing(
    path: str | os.PathLike[str], suffix: str = ".tmp", durable: bool = False, mode: int | None = None
) -> Iterator[Path]:
    """Yield a new, empty temporary file beside ``path``; when the block ends without an
    error, it gets ``mode`` (default: 0666 minus the umask) and is renamed over ``path``.
    On an error it is deleted and ``path`` is left as it was. ``durable``: fsync the file
    before the rename and the folder after it, so a power cut leaves the old or the new
    file. ``suffix`` ends the temporary name (``.gif``, ``.mp4``: writers that pick their
    format from it). Raises ``OSError`` when ``path`` is a device, pipe or socket."""
    path = Path(path)
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
    except OSError:
        kind = stat.S_IFREG  # nothing there yet (or nothing readable): the rename tells
    if kind in _NOT_FILES:
        raise OSError(f"{path} is a {_NOT_FILES[kind]}, not a file: refusing to replace it")
    directory = path.parent if str(path.parent) else Path(".")
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.{os.getpid()}-", suffix=suffix)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, (0o666 & ~umask()) if mode is None else mode)
        if durable:
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(directory)


def write_atomically(
    path: str | os.PathLike[str], data: bytes | str, durable: bool = False, mode: int | None = None
) -> None:
    """Replace ``path`` by ``data`` (text is written as UTF-8) through :func:`replacing`."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with replacing(path, durable=durable, mode=mode) as temporary, open(temporary, "wb") as stream:
        stream.write(payload)


def remove_stray_temporaries(path: str | os.PathLike[str]) -> None:
    """Delete the ``.<name>.<pid>-<random>.tmp`` files of ``path`` whose process is gone
    (a save killed mid-write), and the pid-less ones older graphdl versions wrote."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    prefix, suffix = f".{path.name}.", ".tmp"
    try:
        candidates = [entry for entry in os.scandir(directory) if entry.name.startswith(prefix)]
    except OSError:
        return
    for entry in candidates:
        middle = entry.name[len(prefix) : -len(suffix)] if entry.name.endswith(suffix) else None
        if not middle or "." in middle:
            continue
        pid_text, dash, _ = middle.partition("-")
        if dash and pid_text.isdigit() and process_alive(int(pid_text)):
            continue  # that process (maybe this one, in another thread) may be saving right now
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            pass


def process_alive(pid: int) -> bool:
    """True when process ``pid`` runs (or cannot be told apart from a running one)."""
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists (owned by someone else) or cannot tell
    try:  # Linux: a killed process its parent has not reaped yet is a zombie, not alive
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as status:
            return status.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True
